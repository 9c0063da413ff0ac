"""The edges of stream transports that a native transport must reproduce:
protocol callbacks that raise, BufferedProtocol buffers that are wrong,
what write() accepts and copies, writes after close, set_protocol, drain()
against a peer that does not read. Each on the loop under test and on
stock asyncio (crosscheck.py)."""

import asyncio
import socket
import sys

from crosscheck import crosscheck
from test_transports import Collector, echo_server


class _Boom(Exception):
    pass


async def connected_pair(loop, server_factory, client_factory):
    """A server of server_factory's protocols and one client connection;
    returns (server, server protocol, client transport, client protocol)."""
    made = []

    def factory():
        p = server_factory()
        made.append(p)
        return p

    server = await loop.create_server(factory, "127.0.0.1", 0)
    addr = server.sockets[0].getsockname()
    tr, pr = await loop.create_connection(client_factory, *addr)
    while not made:
        await asyncio.sleep(0.001)
    return server, made[0], tr, pr


@crosscheck
class ProtocolErrors:
    def _fatal(self, server_protocol_factory):
        contexts = []
        self.loop.set_exception_handler(lambda loop, ctx: contexts.append(ctx))

        async def main():
            server, sp, tr, pr = await connected_pair(self.loop, server_protocol_factory,
                                                      lambda: Collector(self.loop))
            tr.write(b"trigger")
            exc = await sp.lost
            client_exc = await pr.lost  # the server side closed: the client sees it
            server.close()
            await server.wait_closed()
            return exc, client_exc

        exc, client_exc = self.run_loop(main())
        return exc, client_exc, contexts

    def test_data_received_raising_is_fatal_to_the_connection(self):
        class Raises(Collector):
            def data_received(self, data):
                raise _Boom("in data_received")

        exc, client_exc, contexts = self._fatal(lambda: Raises(self.loop))
        self.assertIsInstance(exc, _Boom)
        self.assertEqual(len(contexts), 1, contexts)
        self.assertIsInstance(contexts[0]["exception"], _Boom)
        self.assertEqual(contexts[0]["message"], "Fatal error: protocol.data_received() call failed.")
        self.assertIn("transport", contexts[0])
        self.assertIn("protocol", contexts[0])

    def test_get_buffer_raising_is_fatal(self):
        class Raises(asyncio.BufferedProtocol):
            def __init__(self, loop):
                self.lost = loop.create_future()

            def get_buffer(self, sizehint):
                raise _Boom("in get_buffer")

            def buffer_updated(self, nbytes):
                raise AssertionError("not reached")

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        exc, client_exc, contexts = self._fatal(lambda: Raises(self.loop))
        self.assertIsInstance(exc, _Boom)
        self.assertEqual(len(contexts), 1, contexts)
        self.assertEqual(contexts[0]["message"], "Fatal error: protocol.get_buffer() call failed.")

    def test_get_buffer_returning_empty_buffer_is_fatal(self):
        class Empty(asyncio.BufferedProtocol):
            def __init__(self, loop):
                self.lost = loop.create_future()

            def get_buffer(self, sizehint):
                return bytearray()

            def buffer_updated(self, nbytes):
                raise AssertionError("not reached")

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        exc, client_exc, contexts = self._fatal(lambda: Empty(self.loop))
        self.assertIsInstance(exc, RuntimeError)
        self.assertIn("get_buffer() returned an empty buffer", str(exc))
        self.assertEqual(len(contexts), 1, contexts)

    def test_buffer_updated_raising_is_fatal(self):
        class Raises(asyncio.BufferedProtocol):
            def __init__(self, loop):
                self.lost = loop.create_future()

            def get_buffer(self, sizehint):
                return bytearray(100)

            def buffer_updated(self, nbytes):
                raise _Boom("in buffer_updated")

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        exc, client_exc, contexts = self._fatal(lambda: Raises(self.loop))
        self.assertIsInstance(exc, _Boom)
        self.assertEqual(contexts[0]["message"], "Fatal error: protocol.buffer_updated() call failed.")

    def test_small_get_buffer_gets_everything_in_pieces(self):
        class Small(asyncio.BufferedProtocol):
            def __init__(self, loop):
                self.buf = bytearray(7)
                self.data = bytearray()
                self.sizehints = []
                self.lost = loop.create_future()

            def get_buffer(self, sizehint):
                self.sizehints.append(sizehint)
                return memoryview(self.buf)[:5]

            def buffer_updated(self, nbytes):
                assert nbytes <= 5
                self.data += self.buf[:nbytes]

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        payload = bytes(range(256)) * 64

        async def main():
            server, sp, tr, pr = await connected_pair(self.loop, lambda: Small(self.loop), lambda: Collector(self.loop))
            tr.write(payload)
            tr.close()
            await sp.lost
            server.close()
            await server.wait_closed()
            return bytes(sp.data), sp.sizehints

        data, hints = self.run_loop(main())
        self.assertEqual(data, payload)
        self.assertTrue(all(isinstance(h, int) for h in hints))


@crosscheck
class WriteSemantics:
    def test_write_refuses_str(self):
        async def main():
            server, addr = await echo_server(self.loop)
            tr, pr = await self.loop.create_connection(lambda: Collector(self.loop), *addr)
            try:
                with self.assertRaisesRegex(TypeError, "data argument must be a bytes-like object, not 'str'"):
                    tr.write("text")
            finally:
                tr.close()
                await pr.lost
                server.close()
                await server.wait_closed()

        self.run_loop(main())

    def test_write_accepts_bytes_like_and_copies_what_it_keeps(self):
        """A bytearray written while the socket is full is kept by the
        transport: changing it afterwards must not change what is sent."""
        if self.side == "asyncio" and sys.version_info >= (3, 12):
            # 3.12's selector transport keeps a view of what it could not
            # send (zero-copy writes, gh-91166); ioready copies, as asyncio
            # did up to 3.11 and as uvloop does.
            self.skipTest("asyncio 3.12+ keeps a view of a written bytearray")
        server_protos = []

        class Paused(Collector):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.pause_reading()
                server_protos.append(self)

        async def main():
            server = await self.loop.create_server(lambda: Paused(self.loop), "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()
            tr, pr = await self.loop.create_connection(lambda: Collector(self.loop), *addr)
            tr.set_write_buffer_limits(high=1 << 30)  # no pause: just buffer
            filler = b"f" * (1 << 20)
            total = 0
            while tr.get_write_buffer_size() == 0:
                tr.write(filler)
                total += len(filler)
                if total > (256 << 20):
                    raise AssertionError("the socket never filled up")
            mutable = bytearray(b"original")
            tr.write(mutable)
            tr.write(memoryview(b"-view-"))
            tr.write(bytearray(b""))  # empty writes are no-ops
            mutable[:] = b"CHANGED!"
            while not server_protos:
                await asyncio.sleep(0.001)
            server_protos[0].transport.resume_reading()
            expected = total + len(b"original-view-")
            got = await server_protos[0].wait_bytes(expected)
            tr.close()
            await pr.lost
            server.close()
            await server.wait_closed()
            return got[total:]

        self.assertEqual(self.run_loop(main(), timeout=60), b"original-view-")

    def test_write_after_close_is_ignored(self):
        async def main():
            server, sp, tr, pr = await connected_pair(self.loop, lambda: Collector(self.loop),
                                                      lambda: Collector(self.loop))
            tr.write(b"before")
            tr.close()
            tr.write(b"after")  # no exception: asyncio drops it
            await pr.lost
            await sp.lost
            server.close()
            await server.wait_closed()
            return bytes(sp.data)

        self.assertEqual(self.run_loop(main()), b"before")

    def test_set_and_get_protocol(self):
        async def main():
            server, addr = await echo_server(self.loop)
            first = Collector(self.loop)
            tr, pr = await self.loop.create_connection(lambda: first, *addr)
            self.assertIs(tr.get_protocol(), first)
            second = Collector(self.loop)
            tr.set_protocol(second)
            self.assertIs(tr.get_protocol(), second)
            tr.write(b"to second")
            got = await second.wait_bytes(9)
            tr.close()
            await second.lost
            server.close()
            await server.wait_closed()
            return got, bytes(first.data), first.lost.done()

        self.assertEqual(self.run_loop(main()), (b"to second", b"", False))

    def test_is_closing_and_closed_transport_info(self):
        async def main():
            server, addr = await echo_server(self.loop)
            tr, pr = await self.loop.create_connection(lambda: Collector(self.loop), *addr)
            self.assertFalse(tr.is_closing())
            tr.close()
            self.assertTrue(tr.is_closing())
            await pr.lost
            self.assertTrue(tr.is_closing())
            peer = tr.get_extra_info("peername")
            server.close()
            await server.wait_closed()
            return peer

        # asyncio caches peername at connection time: still there after close.
        self.assertEqual(self.run_loop(main())[0], "127.0.0.1")


@crosscheck
class StreamsFlowControl:
    def test_drain_waits_for_a_peer_that_does_not_read(self):
        """StreamWriter.drain() must block while the peer reads nothing, so
        a writer that awaits drain() stays within its limits."""
        release = None

        async def handle(reader, writer):
            await release.wait()
            total = 0
            while chunk := await reader.read(1 << 16):
                total += len(chunk)
            writer.write(str(total).encode())
            await writer.drain()
            writer.close()

        async def main():
            nonlocal release
            release = asyncio.Event()
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()
            r, w = await asyncio.open_connection(*addr)
            w.transport.set_write_buffer_limits(high=64 * 1024)
            w.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
            chunk = b"d" * 16384
            sent = 0
            blocked = False
            max_buffered = 0
            while sent < (64 << 20):
                w.write(chunk)
                sent += len(chunk)
                max_buffered = max(max_buffered, w.transport.get_write_buffer_size())
                try:
                    await asyncio.wait_for(w.drain(), 0.2)
                except asyncio.TimeoutError:
                    blocked = True
                    break
            self.assertTrue(blocked, "drain() never waited although the peer read nothing")
            self.assertLessEqual(max_buffered, 64 * 1024 + len(chunk))
            release.set()
            await w.drain()
            w.write_eof()
            reply = await r.read()
            w.close()
            await w.wait_closed()
            server.close()
            await server.wait_closed()
            return int(reply), sent

        received, sent = self.run_loop(main(), timeout=60)
        self.assertEqual(received, sent)

    def test_writes_in_one_callback_pause_at_the_high_water_mark(self):
        """A protocol that writes chunk after chunk without yielding to a
        peer that reads nothing: pause_writing() comes as soon as the
        buffer passes the high-water mark, never after it (asyncio's
        contract; on 3.12+ a `wait_for(drain())` that needs no wait runs
        inline, so a writer awaiting drain() writes this way too)."""
        high = 64 * 1024

        class Paused(Collector):
            def connection_made(self, transport):
                super().connection_made(transport)
                transport.pause_reading()

        async def main():
            server, sp, tr, pr = await connected_pair(self.loop, lambda: Paused(self.loop),
                                                      lambda: Collector(self.loop))
            tr.set_write_buffer_limits(high=high)
            chunk = b"w" * 16384
            sent = 0
            over_unpaused = []
            while not pr.paused and sent < (256 << 20):
                tr.write(chunk)
                sent += len(chunk)
                size = tr.get_write_buffer_size()
                if size > high and not pr.paused:
                    over_unpaused.append(size)
            tr.abort()
            await pr.lost
            # The server's side reads nothing, so it would never see the
            # reset; 3.12's wait_closed() waits for its connections.
            sp.transport.abort()
            await sp.lost
            server.close()
            await server.wait_closed()
            return pr.paused, over_unpaused

        paused, over_unpaused = self.run_loop(main(), timeout=60)
        self.assertTrue(paused, "pause_writing() never came although the peer read nothing")
        self.assertEqual(over_unpaused, [], "buffer sizes above the high-water mark without pause_writing()")

    def test_a_paused_reader_stops_a_writer_that_does_not_yield(self):
        """Once the reading side is paused (its StreamReader past twice its
        limit), a writer that writes without yielding meets the socket's
        flow control within a few socket buffers: its transport buffers
        (CPython 3.13's test_server.test_abort_clients relies on it). On
        the io_uring engine the pause's cancellation reaches the kernel at
        once, not with the next turn's enter, which this writer never
        lets come."""
        async def main():
            accepted = self.loop.create_future()

            async def serve(rd, wr):
                accepted.set_result((rd, wr))
                await wr.wait_closed()

            srv = await asyncio.start_server(serve, "127.0.0.1", 0)
            addr = srv.sockets[0].getsockname()
            c_rd, c_wr = await asyncio.open_connection(addr[0], addr[1], limit=4096)
            s_rd, s_wr = await accepted
            # Small socket buffers (as CPython's test): what the kernel
            # holds is then far below what the loop below writes.
            s_wr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            c_wr.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            for _ in range(3):
                s_wr.write(b"a" * 4096)
            for _ in range(1000):
                if not c_wr.transport.is_reading():
                    break
                await asyncio.sleep(0)
            paused = not c_wr.transport.is_reading()
            # Above the high-water mark (64 KiB), so the io_uring engine
            # tries the socket at once, as asyncio's write does.
            chunk = b"a" * (128 * 1024)
            buffered_after = None
            for i in range(80):  # 10 MiB at most, without yielding
                s_wr.write(chunk)
                if s_wr.transport.get_write_buffer_size() > 0:
                    buffered_after = i + 1
                    break
            s_wr.transport.abort()
            c_wr.transport.abort()
            srv.close()
            await srv.wait_closed()
            return paused, buffered_after

        paused, buffered_after = self.run_loop(main(), timeout=60)
        self.assertTrue(paused, "the reading side never paused")
        self.assertIsNotNone(buffered_after, "10 MiB written to a paused reader, nothing buffered")
        self.assertLessEqual(buffered_after, 16)

    def test_a_reader_that_never_reads_stops_the_sender(self):
        """A stream handler that never reads: StreamReader's limit pauses the
        transport, so the peer's sends stop at the kernel buffers; if the
        loop kept reading, the sender could push everything."""
        connected = stop = None

        async def handle(reader, writer):
            connected.set_result(writer)
            await stop.wait()  # reads nothing until the test ends

        async def main():
            nonlocal connected, stop
            connected = self.loop.create_future()
            stop = asyncio.Event()
            server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=64 * 1024)
            addr = server.sockets[0].getsockname()
            raw = socket.create_connection(addr)
            raw.setblocking(False)
            writer = await connected
            chunk = b"z" * 65536
            sent, stalled_since = 0, None
            deadline = self.loop.time() + 20
            while sent < (64 << 20) and self.loop.time() < deadline:
                try:
                    sent += raw.send(chunk)
                    stalled_since = None
                except BlockingIOError:
                    now = self.loop.time()
                    stalled_since = stalled_since or now
                    if now - stalled_since > 0.3:  # nothing accepted for 0.3 s: stopped
                        break
                    await asyncio.sleep(0.01)
            raw.close()
            stop.set()
            writer.close()
            await asyncio.sleep(0.01)
            server.close()
            await server.wait_closed()
            return sent

        sent = self.run_loop(main(), timeout=60)
        self.assertLess(sent, 32 << 20, f"the peer could send {sent} bytes to a handler that reads nothing")
