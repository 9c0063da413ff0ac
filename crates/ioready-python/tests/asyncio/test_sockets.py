"""add/remove_reader/writer, the sock_* methods, datagram endpoints,
sendfile: each on the loop under test and on stock asyncio
(crosscheck.py)."""

import asyncio
import os
import socket
import sys
import tempfile

from crosscheck import crosscheck


def socketpair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


@crosscheck
class ReadersWriters:
    def test_add_reader_fires_on_data_and_remove(self):
        a, b = socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        got = []

        def on_readable():
            got.append(a.recv(100))
            if len(got) == 2:
                self.assertTrue(self.loop.remove_reader(a))
                self.loop.stop()

        self.loop.add_reader(a, on_readable)
        self.loop.call_soon(b.send, b"one")
        self.loop.call_later(0.02, b.send, b"two")
        self.loop.call_later(10, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(got, [b"one", b"two"])
        self.assertFalse(self.loop.remove_reader(a))

    def test_add_reader_by_fileno_and_replace(self):
        a, b = socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        got = []
        self.loop.add_reader(a.fileno(), got.append, "first")
        self.loop.add_reader(a.fileno(), lambda: (got.append("second"), a.recv(10), self.loop.stop()))
        b.send(b"x")
        self.loop.call_later(10, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(got, ["second"])
        self.assertTrue(self.loop.remove_reader(a.fileno()))

    def test_writer_fires_when_writable(self):
        a, b = socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        calls = []

        def on_writable(tag):
            calls.append(tag)
            self.loop.remove_writer(a)
            self.loop.stop()

        self.loop.add_writer(a, on_writable, "w")
        self.loop.call_later(10, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(calls, ["w"])
        self.assertFalse(self.loop.remove_writer(a))

    def test_reader_and_writer_on_one_fd(self):
        a, b = socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        seen = set()

        def done():
            if seen == {"r", "w"}:
                self.loop.stop()

        self.loop.add_writer(a, lambda: (seen.add("w"), self.loop.remove_writer(a), done()))
        self.loop.add_reader(a, lambda: (seen.add("r"), a.recv(10), self.loop.remove_reader(a), done()))
        b.send(b"x")
        self.loop.call_later(10, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(seen, {"r", "w"})

    def test_invalid_file_object(self):
        with self.assertRaisesRegex(ValueError, "Invalid file object"):
            self.loop.add_reader(object(), lambda: None)
        with self.assertRaisesRegex(ValueError, "Invalid file descriptor"):
            self.loop.add_reader(-1, lambda: None)

    def test_add_reader_on_regular_file(self):
        # asyncio's epoll refuses regular files (EPERM from epoll_ctl).
        with tempfile.TemporaryFile() as f:
            with self.assertRaises(PermissionError):
                self.loop.add_reader(f.fileno(), lambda: None)

    def test_closed_loop_refuses_add_reader(self):
        a, b = socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.loop.close()
        with self.assertRaisesRegex(RuntimeError, "Event loop is closed"):
            self.loop.add_reader(a, lambda: None)


@crosscheck
class SockMethods:
    def test_sock_connect_accept_sendall_recv(self):
        async def main():
            listener = socket.create_server(("127.0.0.1", 0))
            listener.setblocking(False)
            client = socket.socket()
            client.setblocking(False)
            connect = self.loop.create_task(self.loop.sock_connect(client, listener.getsockname()))
            conn, addr = await self.loop.sock_accept(listener)
            await connect
            conn.setblocking(False)
            data = os.urandom(3 * 1024 * 1024)
            send = self.loop.create_task(self.loop.sock_sendall(client, data))
            got = bytearray()
            while len(got) < len(data):
                chunk = await self.loop.sock_recv(conn, 65536)
                self.assertTrue(chunk)
                got += chunk
            await send
            buf = bytearray(10)
            await self.loop.sock_sendall(conn, b"into")
            n = await self.loop.sock_recv_into(client, buf)
            for s in (listener, client, conn):
                s.close()
            return bytes(got) == data, bytes(buf[:n]), addr[0]

        self.assertEqual(self.run_loop(main(), timeout=30), (True, b"into", "127.0.0.1"))

    def test_sock_recv_sees_eof(self):
        async def main():
            a, b = socketpair()
            b.close()
            got = await self.loop.sock_recv(a, 10)
            a.close()
            return got

        self.assertEqual(self.run_loop(main()), b"")

    def test_blocking_socket_refused_in_debug_mode(self):
        async def main():
            a, b = socket.socketpair()  # blocking
            try:
                with self.assertRaisesRegex(ValueError, "the socket must be non-blocking"):
                    await self.loop.sock_recv(a, 10)
            finally:
                a.close()
                b.close()

        self.loop.set_debug(True)
        self.run_loop(main())

    def test_cancelled_sock_recv_leaves_socket_usable(self):
        async def main():
            a, b = socketpair()
            t = self.loop.create_task(self.loop.sock_recv(a, 10))
            await asyncio.sleep(0.01)
            t.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await t
            b.send(b"after")
            got = await self.loop.sock_recv(a, 10)
            a.close()
            b.close()
            return got

        self.assertEqual(self.run_loop(main()), b"after")

    def test_udp_sock_methods(self):
        if sys.version_info < (3, 11):
            # The loop's sock_* for datagrams are asyncio's own, which 3.11
            # added: 3.9 and 3.10 have none, on either loop.
            self.skipTest("sock_recvfrom/sock_sendto are asyncio 3.11+")

        async def main():
            a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for s in (a, b):
                s.setblocking(False)
                s.bind(("127.0.0.1", 0))
            n = await self.loop.sock_sendto(a, b"datagram", b.getsockname())
            data, addr = await self.loop.sock_recvfrom(b, 100)
            await self.loop.sock_sendto(b, b"reply", addr)
            buf = bytearray(100)
            nbytes, addr2 = await self.loop.sock_recvfrom_into(a, buf)
            a_name, b_name = a.getsockname(), b.getsockname()
            a.close()
            b.close()
            return n, data, addr == a_name, bytes(buf[:nbytes]), addr2 == b_name

        self.assertEqual(self.run_loop(main()), (8, b"datagram", True, b"reply", True))

    def test_sock_sendfile(self):
        payload = os.urandom(1024 * 1024 + 17)
        with tempfile.TemporaryFile() as f:
            f.write(payload)
            f.flush()

            async def main():
                a, b = socketpair()
                f.seek(0)
                received = bytearray()

                async def reader():
                    while len(received) < len(payload) - 100:
                        chunk = await self.loop.sock_recv(b, 65536)
                        if not chunk:
                            break
                        received.extend(chunk)

                r = self.loop.create_task(reader())
                sent = await self.loop.sock_sendfile(a, f, offset=100)
                await r
                pos = f.tell()
                a.close()
                b.close()
                return sent, bytes(received), pos

            sent, received, pos = self.run_loop(main(), timeout=30)
        self.assertEqual(sent, len(payload) - 100)
        self.assertEqual(received, payload[100:])
        self.assertEqual(pos, len(payload))

    def test_getaddrinfo_and_getnameinfo(self):
        async def main():
            infos = await self.loop.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
            name = await self.loop.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
            try:
                await self.loop.getaddrinfo("no-such-host.invalid", 80)
                bad = None
            except socket.gaierror as e:
                bad = type(e)
            return infos, name, bad

        infos, name, bad = self.run_loop(main())
        self.assertEqual(infos, socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM))
        self.assertEqual(name, ("127.0.0.1", "80"))
        self.assertIs(bad, socket.gaierror)


class Datagram(asyncio.DatagramProtocol):
    def __init__(self, loop):
        self.received = []
        self.errors = []
        self.got = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.received.append((data, addr))
        if not self.got.done():
            self.got.set_result(None)

    def error_received(self, exc):
        self.errors.append(exc)

    def connection_lost(self, exc):
        self.lost.set_result(exc)


@crosscheck
class DatagramEndpoints:
    def test_udp_echo(self):
        class EchoUDP(Datagram):
            def datagram_received(self, data, addr):
                super().datagram_received(data, addr)
                self.transport.sendto(data.upper(), addr)

        async def main():
            st, sp = await self.loop.create_datagram_endpoint(lambda: EchoUDP(self.loop), local_addr=("127.0.0.1", 0))
            addr = st.get_extra_info("sockname")
            ct, cp = await self.loop.create_datagram_endpoint(lambda: Datagram(self.loop), remote_addr=addr)
            self.assertEqual(ct.get_extra_info("peername"), addr)
            ct.sendto(b"hello")
            await cp.got
            ct.close()
            st.close()
            return cp.received[0][0], await cp.lost, await sp.lost

        self.assertEqual(self.run_loop(main()), (b"HELLO", None, None))

    def test_sendto_wrong_address_for_connected(self):
        async def main():
            st, sp = await self.loop.create_datagram_endpoint(lambda: Datagram(self.loop), local_addr=("127.0.0.1", 0))
            addr = st.get_extra_info("sockname")
            ct, cp = await self.loop.create_datagram_endpoint(lambda: Datagram(self.loop), remote_addr=addr)
            with self.assertRaisesRegex(ValueError, "Invalid address"):
                ct.sendto(b"x", ("127.0.0.1", addr[1] + 1 if addr[1] < 65535 else 1))
            ct.close()
            st.close()
            await cp.lost
            await sp.lost

        self.run_loop(main())

    def test_many_datagrams_in_order_and_buffer_size(self):
        async def main():
            st, sp = await self.loop.create_datagram_endpoint(lambda: Datagram(self.loop), local_addr=("127.0.0.1", 0))
            addr = st.get_extra_info("sockname")
            ct, cp = await self.loop.create_datagram_endpoint(lambda: Datagram(self.loop), remote_addr=addr)
            for i in range(200):
                ct.sendto(b"%d" % i)
            self.assertIsInstance(ct.get_write_buffer_size(), int)
            deadline = self.loop.time() + 5
            while len(sp.received) < 200 and self.loop.time() < deadline:
                await asyncio.sleep(0.005)
            ct.close()
            st.close()
            return [d for d, _ in sp.received]

        self.assertEqual(self.run_loop(main()), [b"%d" % i for i in range(200)])

    def test_unix_datagram(self):
        async def main(d):
            srv_path, cli_path = os.path.join(d, "srv"), os.path.join(d, "cli")
            st, sp = await self.loop.create_datagram_endpoint(
                lambda: Datagram(self.loop), local_addr=srv_path, family=socket.AF_UNIX)
            ct, cp = await self.loop.create_datagram_endpoint(
                lambda: Datagram(self.loop), local_addr=cli_path, remote_addr=srv_path, family=socket.AF_UNIX)
            ct.sendto(b"unix dgram")
            await sp.got
            ct.close()
            st.close()
            return sp.received[0]

        with tempfile.TemporaryDirectory() as d:
            data, addr = self.run_loop(main(d))
        self.assertEqual(data, b"unix dgram")
        self.assertTrue(addr.endswith("cli"))


@crosscheck
class Sendfile:
    def test_loop_sendfile_over_tcp(self):
        payload = os.urandom(2 * 1024 * 1024 + 3)
        received = bytearray()

        class Sink(asyncio.Protocol):
            def __init__(self, loop):
                self.done = loop.create_future()

            def data_received(self, data):
                received.extend(data)

            def eof_received(self):
                self.done.set_result(None)

        sinks = []

        def sink():
            s = Sink(self.loop)
            sinks.append(s)
            return s

        with tempfile.TemporaryFile() as f:
            f.write(payload)
            f.flush()
            f.seek(0)

            async def main():
                server = await self.loop.create_server(sink, "127.0.0.1", 0)
                addr = server.sockets[0].getsockname()
                tr, pr = await self.loop.create_connection(asyncio.Protocol, *addr)
                sent = await self.loop.sendfile(tr, f, offset=10, count=len(payload) - 20)
                tr.write(b"|tail")
                tr.write_eof()
                while not sinks:
                    await asyncio.sleep(0.001)
                await sinks[0].done
                tr.close()
                server.close()
                await server.wait_closed()
                return sent

            sent = self.run_loop(main(), timeout=30)
        self.assertEqual(sent, len(payload) - 20)
        self.assertEqual(bytes(received), payload[10:-10] + b"|tail")
