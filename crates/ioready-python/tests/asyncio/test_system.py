"""TLS (start_tls, ssl=), child processes, pipes, signals, descriptors:
each on the loop under test and on stock asyncio (crosscheck.py)."""

import asyncio
import gc
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

from crosscheck import crosscheck, open_fds

CERTDIR = None
CERT = KEY = None


def setUpModule():
    """A self-signed certificate for localhost/127.0.0.1, made now with the
    openssl command; CPython's test certificate if there is no openssl."""
    global CERTDIR, CERT, KEY
    openssl = shutil.which("openssl")
    if openssl:
        CERTDIR = tempfile.mkdtemp(prefix="aio-tls-")
        CERT, KEY = os.path.join(CERTDIR, "cert.pem"), os.path.join(CERTDIR, "key.pem")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", KEY, "-out", CERT, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True,
        )
    else:
        import test

        CERT = KEY = os.path.join(os.path.dirname(test.__file__), "certdata", "keycert.pem")


def tearDownModule():
    if CERTDIR:
        shutil.rmtree(CERTDIR, ignore_errors=True)


def server_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(CERT, KEY)
    return ctx


def client_context():
    ctx = ssl.create_default_context(cafile=CERT)
    return ctx


class Upper(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data.upper())


@crosscheck
class TLS:
    def test_ssl_server_and_client(self):
        async def main():
            server = await self.loop.create_server(Upper, "127.0.0.1", 0, ssl=server_context())
            addr = server.sockets[0].getsockname()
            r, w = await asyncio.open_connection(*addr, ssl=client_context(), server_hostname="localhost")
            w.write(b"secret")
            got = await r.readexactly(6)
            peercert = w.get_extra_info("peercert")
            sslobj = w.get_extra_info("ssl_object")
            w.close()
            await w.wait_closed()
            server.close()
            await server.wait_closed()
            return got, peercert is not None, sslobj.version() is not None

        self.assertEqual(self.run_loop(main()), (b"SECRET", True, True))

    def test_start_tls_both_sides(self):
        """A plain connection that upgrades: the client says STARTTLS in the
        clear; the server (streams) upgrades with StreamWriter.start_tls, the
        client (a Protocol) with loop.start_tls on its transport."""
        if sys.version_info < (3, 11):
            self.skipTest("StreamWriter.start_tls is asyncio 3.11+")

        async def handle(reader, writer):
            if await reader.readline() == b"STARTTLS\n":
                writer.write(b"GO\n")
                await writer.drain()
                await writer.start_tls(server_context())
                writer.write((await reader.readexactly(13)).upper())
                await writer.drain()
            writer.close()

        class Client(asyncio.Protocol):
            def __init__(self, loop):
                self.data = bytearray()
                self.go = loop.create_future()
                self.lost = loop.create_future()

            def connection_made(self, transport):
                self.transport = transport

            def data_received(self, data):
                self.data += data
                if self.data == b"GO\n" and not self.go.done():
                    self.data.clear()
                    self.go.set_result(None)

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        async def main():
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()
            tr, pr = await self.loop.create_connection(lambda: Client(self.loop), *addr)
            tr.write(b"STARTTLS\n")
            await pr.go
            tls = await self.loop.start_tls(tr, pr, client_context(), server_hostname="localhost")
            self.assertIsNotNone(tls.get_extra_info("ssl_object"))
            tls.write(b"after upgrade")
            while len(pr.data) < 13:
                await asyncio.sleep(0.001)
            tls.close()
            await pr.lost
            server.close()
            await server.wait_closed()
            return bytes(pr.data)

        self.assertEqual(self.run_loop(main()), b"AFTER UPGRADE")

    def test_bad_certificate_is_an_ssl_error(self):
        async def main():
            server = await self.loop.create_server(Upper, "127.0.0.1", 0, ssl=server_context())
            addr = server.sockets[0].getsockname()
            try:
                with self.assertRaises(ssl.SSLCertVerificationError):
                    await asyncio.open_connection(*addr, ssl=ssl.create_default_context(),
                                                  server_hostname="localhost")
            finally:
                server.close()
                await server.wait_closed()

        self.loop.set_exception_handler(lambda loop, ctx: None)  # the server side's handshake error
        self.run_loop(main())


class Recorder(asyncio.SubprocessProtocol):
    def __init__(self, loop):
        self.events = []
        self.out = bytearray()
        self.exited = loop.create_future()
        self.lost = loop.create_future()

    def connection_made(self, transport):
        self.events.append("made")

    def pipe_data_received(self, fd, data):
        if fd == 1:
            self.out += data

    def pipe_connection_lost(self, fd, exc):
        self.events.append(("pipe lost", fd))

    def process_exited(self):
        self.events.append("exited")
        self.exited.set_result(None)

    def connection_lost(self, exc):
        self.events.append("lost")
        self.lost.set_result(exc)


@crosscheck
class Subprocesses:
    def test_create_subprocess_exec_communicate(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.read().upper()); sys.exit(4)",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            out, err = await proc.communicate(b"hello child")
            return out, err, proc.returncode

        self.assertEqual(self.run_loop(main()), (b"HELLO CHILD", None, 4))

    def test_subprocess_shell(self):
        async def main():
            proc = await asyncio.create_subprocess_shell("echo from shell; echo err >&2; exit 3",
                                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = await proc.communicate()
            return out, err, proc.returncode

        self.assertEqual(self.run_loop(main()), (b"from shell\n", b"err\n", 3))

    def test_subprocess_protocol_events(self):
        async def main():
            tr, pr = await self.loop.subprocess_exec(lambda: Recorder(self.loop), sys.executable, "-c",
                                                     "print('out')", stdin=None, stderr=None)
            self.assertIsInstance(tr.get_pid(), int)
            await pr.exited
            await pr.lost
            rc = tr.get_returncode()
            tr.close()
            return bytes(pr.out), rc, pr.events

        out, rc, events = self.run_loop(main())
        self.assertEqual(out, b"out\n")
        self.assertEqual(rc, 0)
        self.assertEqual(events[0], "made")
        self.assertEqual(events[-1], "lost")
        self.assertIn("exited", events)
        self.assertIn(("pipe lost", 1), events)

    def test_kill_and_wait(self):
        async def main():
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
            proc.kill()
            return await proc.wait()

        self.assertEqual(self.run_loop(main()), -signal.SIGKILL)

    def test_many_children_at_once(self):
        async def one(i):
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", f"import sys; sys.exit({i})")
            return await proc.wait()

        async def main():
            return await asyncio.gather(*(one(i) for i in range(10)))

        self.assertEqual(self.run_loop(main(), timeout=60), list(range(10)))

    def test_exec_of_missing_program(self):
        async def main():
            with self.assertRaises(FileNotFoundError):
                await asyncio.create_subprocess_exec("/nonexistent/program")

        self.run_loop(main())


@crosscheck
class Pipes:
    def test_connect_read_pipe(self):
        class Reader(asyncio.Protocol):
            def __init__(self, loop):
                self.data = bytearray()
                self.lost = loop.create_future()

            def data_received(self, data):
                self.data += data

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        async def main():
            rfd, wfd = os.pipe()
            rfile = os.fdopen(rfd, "rb", 0)
            tr, pr = await self.loop.connect_read_pipe(lambda: Reader(self.loop), rfile)
            os.write(wfd, b"through the pipe")
            os.close(wfd)  # EOF
            exc = await pr.lost
            return bytes(pr.data), exc, rfile.closed

        self.assertEqual(self.run_loop(main()), (b"through the pipe", None, True))

    def test_connect_write_pipe(self):
        class Writer(asyncio.Protocol):
            def __init__(self, loop):
                self.lost = loop.create_future()

            def connection_lost(self, exc):
                self.lost.set_result(exc)

        async def main():
            rfd, wfd = os.pipe()
            wfile = os.fdopen(wfd, "wb", 0)
            tr, pr = await self.loop.connect_write_pipe(lambda: Writer(self.loop), wfile)
            payload = os.urandom(1024 * 1024)
            got = bytearray()

            def readable():
                chunk = os.read(rfd, 65536)
                got.extend(chunk)
                if not chunk:
                    self.loop.remove_reader(rfd)

            self.loop.add_reader(rfd, readable)
            tr.write(payload)
            tr.close()
            exc = await pr.lost
            while len(got) < len(payload):
                await asyncio.sleep(0.001)
            self.loop.remove_reader(rfd)
            os.close(rfd)
            return bytes(got) == payload, exc

        self.assertEqual(self.run_loop(main()), (True, None))


@crosscheck
class Signals:
    def test_handler_runs_in_loop_on_real_signal(self):
        got = []
        loop_thread = threading.get_ident()

        def handler(tag):
            got.append((tag, threading.get_ident() == loop_thread))
            self.loop.stop()

        self.loop.add_signal_handler(signal.SIGUSR1, handler, "usr1")
        try:
            self.loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
            self.loop.call_later(10, self.loop.stop)
            self.loop.run_forever()
        finally:
            self.assertTrue(self.loop.remove_signal_handler(signal.SIGUSR1))
        self.assertFalse(self.loop.remove_signal_handler(signal.SIGUSR1))
        self.assertEqual(got, [("usr1", True)])
        self.assertIs(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)

    def test_signal_from_another_thread_wakes_the_loop(self):
        got = []
        self.loop.add_signal_handler(signal.SIGUSR2, lambda: (got.append("usr2"), self.loop.stop()))
        self.addCleanup(self.loop.remove_signal_handler, signal.SIGUSR2)
        t = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR2))
        t.start()
        self.loop.call_later(10, self.loop.stop)
        self.loop.run_forever()
        t.join()
        self.assertEqual(got, ["usr2"])

    def test_signal_handler_outside_the_main_thread(self):
        errors = []

        def in_thread():
            loop = self.new_loop()
            try:
                loop.add_signal_handler(signal.SIGUSR1, lambda: None)
            except (RuntimeError, ValueError) as e:
                errors.append(type(e))
            finally:
                loop.close()

        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
        self.assertEqual(errors, [RuntimeError])

    def test_bad_signals(self):
        with self.assertRaisesRegex(RuntimeError, "sig 9 cannot be caught"):
            self.loop.add_signal_handler(signal.SIGKILL, lambda: None)
        with self.assertRaises(ValueError):
            self.loop.add_signal_handler(100000, lambda: None)

        async def coro():
            pass

        with self.assertRaisesRegex(TypeError, "coroutines cannot be used with add_signal_handler"):
            self.loop.add_signal_handler(signal.SIGUSR1, coro)


@crosscheck
class Descriptors:
    def test_loops_made_and_closed_leave_no_descriptor(self):
        gc.collect()
        before = open_fds()
        for _ in range(20):
            loop = self.new_loop()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
        del loop
        gc.collect()
        self.assertEqual(open_fds() - before, set())

    def test_everything_closed_leaves_no_descriptor(self):
        # The fd check in tearDown does the asserting; this opens one of each.
        async def main():
            server = await self.loop.create_server(Upper, "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()
            r, w = await asyncio.open_connection(*addr)
            w.write(b"x")
            await r.readexactly(1)
            w.close()
            await w.wait_closed()
            server.close()
            await server.wait_closed()
            ut, up = await self.loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            ut.close()
            proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass", stdout=subprocess.PIPE)
            await proc.communicate()
            await self.loop.run_in_executor(None, sum, [1, 2])
            await asyncio.sleep(0.01)

        self.run_loop(main())


if __name__ == "__main__":
    unittest.main()
