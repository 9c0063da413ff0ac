"""The loop's io_uring engine (``backend="uring"``): the completion-mode
transports keep the readiness transports' semantics, side by side with
stock asyncio where a behaviour can be compared, and the engine survives
what only it can meet (a completion queue overflow, a dry buffer ring, a
descriptor reused while a cancelled request is still in flight), and falls
back to epoll, saying so once, under a real seccomp filter that refuses
io_uring (installed with prctl in a child interpreter).

Every load loop is bounded in count and time; servers bind 127.0.0.1:0.
"""

import asyncio
import contextvars
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import ioready
from ioready import _ioready


def uring_loop(**sizes):
    loop = ioready.EventLoop(backend="uring", **sizes)
    if not _ioready._uring_active(loop):
        loop.close()
        raise unittest.SkipTest("io_uring is refused here")
    return loop


def run(loop, coro, timeout=20):
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def recv_all(sock, want, deadline):
    """Reads the non-blocking `sock` until `want` bytes came or `deadline`
    (`time.monotonic()`) passed, the loop running meanwhile: the bytes."""
    got = bytearray()
    while len(got) < want and time.monotonic() < deadline:
        try:
            got += sock.recv(1 << 20)
        except BlockingIOError:
            await asyncio.sleep(0.005)
    return bytes(got)


async def echo_clients(port, clients, size, rounds):
    """`clients` connections, each sending `rounds` messages of `size` bytes
    and reading each echo back; every byte checked."""

    async def one(k):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        for i in range(rounds):
            msg = bytes([(k + i) % 251]) * size
            w.write(msg)
            got = await r.readexactly(size)
            assert got == msg, (k, i)
        w.close()
        await w.wait_closed()
        return rounds

    return sum(await asyncio.gather(*(one(k) for k in range(clients))))


class Engine(unittest.TestCase):
    def setUp(self):
        self.loop = uring_loop()
        self.addCleanup(self.loop.close)

    def server(self, factory=Echo):
        srv = run(self.loop, self.loop.create_server(factory, "127.0.0.1", 0))
        self.addCleanup(lambda: (srv.close(), run(self.loop, srv.wait_closed())))
        return srv, srv.sockets[0].getsockname()[1]

    def test_echo_many_connections(self):
        srv, port = self.server()
        self.assertEqual(run(self.loop, echo_clients(port, 64, 64, 20)), 64 * 20)

    def test_transport_class_and_engine(self):
        async def check():
            r, w = await asyncio.open_connection("127.0.0.1", port)
            t = w.transport
            ok = isinstance(t, asyncio.Transport) and type(t).__mro__[1].__name__ == "UringTransport"
            w.close()
            await w.wait_closed()
            return ok

        srv, port = self.server()
        self.assertTrue(run(self.loop, check()))

    def test_large_transfer_both_ways(self):
        srv, port = self.server()

        async def check():
            r, w = await asyncio.open_connection("127.0.0.1", port)
            data = os.urandom(3 * 1024 * 1024)
            w.write(data)
            got = await r.readexactly(len(data))
            w.close()
            await w.wait_closed()
            return got == data

        self.assertTrue(run(self.loop, check()))

    def test_pause_reading_stops_delivery_and_loses_nothing(self):
        received = []
        transports = []

        class Sink(asyncio.Protocol):
            def connection_made(self, t):
                transports.append(t)

            def data_received(self, data):
                received.append(data)

        srv, port = self.server(Sink)

        async def check():
            c = socket.create_connection(("127.0.0.1", port))
            c.setblocking(False)
            while not transports:
                await asyncio.sleep(0.01)
            t = transports[0]
            c.send(b"a" * 100)
            while sum(map(len, received)) < 100:
                await asyncio.sleep(0.01)
            t.pause_reading()
            self.assertFalse(t.is_reading())
            before = sum(map(len, received))
            sent = 0
            for _ in range(50):
                c.send(b"b" * 1000)
                sent += 1000
                await asyncio.sleep(0.002)
            await asyncio.sleep(0.1)
            paused_got = sum(map(len, received)) - before
            t.resume_reading()
            deadline = time.monotonic() + 10
            while sum(map(len, received)) < 100 + sent and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            c.close()
            return paused_got, b"".join(received) == b"a" * 100 + b"b" * sent

        paused_got, intact = run(self.loop, check())
        self.assertEqual(paused_got, 0)
        self.assertTrue(intact)

    def test_flow_control_against_a_peer_that_does_not_read(self):
        events = []
        transports = []

        class Writer(asyncio.Protocol):
            def connection_made(self, t):
                transports.append(t)
                t.set_write_buffer_limits(high=64 * 1024)

            def pause_writing(self):
                events.append("pause")

            def resume_writing(self):
                events.append("resume")

        srv, port = self.server(Writer)

        async def check():
            c = socket.create_connection(("127.0.0.1", port))
            c.setblocking(False)
            while not transports:
                await asyncio.sleep(0.01)
            t = transports[0]
            chunk = b"z" * 65536
            written = 0
            for _ in range(200):
                if events[-1:] == ["pause"]:
                    break
                t.write(chunk)
                written += len(chunk)
                await asyncio.sleep(0)
            self.assertEqual(events[-1:], ["pause"])
            got = len(await recv_all(c, written, time.monotonic() + 10))
            c.close()
            return got == written

        self.assertTrue(run(self.loop, check()))
        self.assertEqual(events, ["pause", "resume"])

    def test_an_exception_out_of_a_completion_goes_to_the_handler(self):
        """A completion's Python work that raises where no protocol callback
        catches it (here the transport's own resume step, made to fail):
        the loop's exception handler gets it, run_until_complete goes on
        and later completions are still dispatched (as for an exception out
        of a callback's handle), instead of the exception leaving the loop."""
        from unittest import mock
        from ioready._uring import UringSocketTransport

        caught = []
        self.loop.set_exception_handler(lambda loop, ctx: caught.append(ctx.get("exception")))
        transports = []

        class Writer(asyncio.Protocol):
            def connection_made(self, t):
                transports.append(t)
                t.set_write_buffer_limits(high=64 * 1024)

        srv, port = self.server(Writer)

        def broken(self):
            raise ValueError("resume step failed")

        async def check():
            c = socket.create_connection(("127.0.0.1", port))
            c.setblocking(False)
            while not transports:
                await asyncio.sleep(0.01)
            t = transports[0]
            written = 0
            for _ in range(200):
                if t.get_write_buffer_size() > 64 * 1024:
                    break
                t.write(b"z" * 65536)
                written += 65536
                await asyncio.sleep(0)
            deadline = time.monotonic() + 10
            got = len(await recv_all(c, written, deadline))
            # The loop still serves the transport after the failed step.
            t.write(b"after")
            rest = await recv_all(c, 5, deadline)
            c.close()
            return got == written, rest

        with mock.patch.object(UringSocketTransport, "_maybe_resume_protocol", broken):
            self.assertEqual(run(self.loop, check()), (True, b"after"))
        self.assertTrue(caught, "the exception handler was not called")
        self.assertTrue(all(isinstance(e, ValueError) for e in caught), caught)

    def test_write_eof_close_and_abort(self):
        transports = []

        class Keep(asyncio.Protocol):
            def connection_made(self, t):
                transports.append(t)

        srv, port = self.server(Keep)

        async def check():
            r, w = await asyncio.open_connection("127.0.0.1", port)
            while not transports:
                await asyncio.sleep(0.01)
            transports[0].write(b"x" * 200000)
            transports[0].write_eof()
            got = await r.read()  # to the end of stream
            r2, w2 = await asyncio.open_connection("127.0.0.1", port)
            while len(transports) < 2:
                await asyncio.sleep(0.01)
            transports[1].write(b"y" * 1000)
            transports[1].close()  # flushes first
            got2 = await r2.read()
            r3, w3 = await asyncio.open_connection("127.0.0.1", port)
            while len(transports) < 3:
                await asyncio.sleep(0.01)
            transports[2].abort()
            got3 = await r3.read()
            for w_ in (w, w2, w3):
                w_.close()
            return len(got), got2, got3

        self.assertEqual(run(self.loop, check()), (200000, b"y" * 1000, b""))

    def test_callbacks_run_in_the_context_reading_started_in(self):
        # Runs on every wheel CI tests (the stable-ABI ones enter the
        # context through Context.run); the comparison with stock asyncio
        # is tests/asyncio/test_transport_habits.py.
        var = contextvars.ContextVar("var")
        seen = []

        class Record(asyncio.Protocol):
            def connection_made(self, t):
                seen.append(var.get(None))

            def data_received(self, d):
                seen.append(var.get(None))
                var.set("changed")

            def eof_received(self):
                seen.append(var.get(None))

        async def check():
            var.set("serving")
            srv = await self.loop.create_server(Record, "127.0.0.1", 0)
            port = srv.sockets[0].getsockname()[1]

            async def client():
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(b"x")
                while len(seen) < 2:
                    await asyncio.sleep(0.005)
                w.write_eof()
                while len(seen) < 3:
                    await asyncio.sleep(0.005)
                w.close()

            await contextvars.Context().run(self.loop.create_task, client())
            srv.close()
            await srv.wait_closed()
            return seen, var.get()

        self.assertEqual(run(self.loop, check()), (["serving", "serving", "changed"], "serving"))

    def test_reused_descriptor_never_sees_an_old_completion(self):
        lost = []
        data = {}

        class Track(asyncio.Protocol):
            def connection_made(self, t):
                self.t = t
                self.fd = t.get_extra_info("socket").fileno()
                self.key = len(data)
                data[self.key] = b""

            def data_received(self, d):
                if self.key in lost:
                    data.setdefault("after-lost", b"")
                    data["after-lost"] += d
                data[self.key] += d

            def connection_lost(self, exc):
                lost.append(self.key)

        srv, port = self.server(Track)

        async def check():
            fds = set()
            for k in range(30):
                c = socket.create_connection(("127.0.0.1", port))
                while len(data) <= k:
                    await asyncio.sleep(0.001)
                # Close the server side while its receive is armed, then
                # send on: nothing may reach the next transport.
                proto_t = [t for t in self.loop._transports.values() if t is not None][-1]
                fds.add(proto_t._sock_fd)
                proto_t.close()
                try:
                    c.send(b"old%d" % k)
                except OSError:
                    pass
                c.close()
                await asyncio.sleep(0)
            return fds

        fds = run(self.loop, check())
        self.assertLess(len(fds), 30, "descriptor numbers were reused")
        self.assertNotIn("after-lost", data)
        for k in range(30):
            self.assertIn(data[k], (b"", b"old%d" % k))

    def test_buffered_protocol_small_buffers(self):
        chunks = []

        class Small(asyncio.BufferedProtocol):
            def connection_made(self, t):
                self.buf = bytearray(7)

            def get_buffer(self, sizehint):
                return self.buf

            def buffer_updated(self, n):
                chunks.append(bytes(self.buf[:n]))

        srv, port = self.server(Small)
        payload = bytes(range(256)) * 40

        async def check():
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(payload)
            deadline = time.monotonic() + 10
            while sum(map(len, chunks)) < len(payload) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            c.close()
            return b"".join(chunks)

        self.assertEqual(run(self.loop, check()), payload)
        self.assertLessEqual(max(map(len, chunks)), 7)


class Extremes(unittest.TestCase):
    def test_completion_queue_overflow_loses_nothing(self):
        # 64 connections, a completion queue of 16: overflows every turn.
        loop = uring_loop(_uring_entries=8, _uring_cq_entries=16)
        try:
            srv = run(loop, loop.create_server(Echo, "127.0.0.1", 0))
            port = srv.sockets[0].getsockname()[1]
            self.assertEqual(run(loop, echo_clients(port, 64, 256, 10), 60), 640)
            srv.close()
            run(loop, srv.wait_closed())
        finally:
            loop.close()

    def test_dry_buffer_ring_loses_nothing(self):
        # 2 buffers of 64 bytes for 8 connections of 20 KiB messages.
        loop = uring_loop(_uring_buffers=2, _uring_buf_len=64)
        try:
            srv = run(loop, loop.create_server(Echo, "127.0.0.1", 0))
            port = srv.sockets[0].getsockname()[1]
            self.assertEqual(run(loop, echo_clients(port, 8, 20000, 3), 60), 24)
            srv.close()
            run(loop, srv.wait_closed())
        finally:
            loop.close()


class ReadinessBeside(unittest.TestCase):
    """add_reader, sock_*, threadsafe wake-ups, signals, subprocesses: on
    epoll, polled on the ring."""

    def setUp(self):
        self.loop = uring_loop()

    def tearDown(self):
        self.loop.close()

    def test_add_reader_level_triggered(self):
        a, b = socket.socketpair()
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        a.setblocking(False)
        calls = []

        def ready():
            calls.append(1)
            if len(calls) == 3:  # never reads: level-triggered, reported again
                self.loop.remove_reader(a)
                self.loop.stop()

        self.loop.add_reader(a, ready)
        b.send(b"x")
        self.loop.call_later(5, self.loop.stop)
        self.loop.run_forever()
        self.assertEqual(len(calls), 3)

    def test_sock_methods(self):
        async def check():
            srv = socket.create_server(("127.0.0.1", 0))
            srv.setblocking(False)
            port = srv.getsockname()[1]
            c = socket.socket()
            c.setblocking(False)
            await self.loop.sock_connect(c, ("127.0.0.1", port))
            s, _ = await self.loop.sock_accept(srv)
            await self.loop.sock_sendall(c, b"ping" * 1000)
            got = b""
            while len(got) < 4000:
                got += await self.loop.sock_recv(s, 65536)
            for x in (c, s, srv):
                x.close()
            return got

        self.assertEqual(run(self.loop, check()), b"ping" * 1000)

    def test_call_soon_threadsafe_wakes_the_ring(self):
        woke = []

        def from_thread():
            time.sleep(0.1)
            self.loop.call_soon_threadsafe(lambda: (woke.append(time.monotonic()), self.loop.stop()))

        self.loop.call_later(30, self.loop.stop)
        threading.Thread(target=from_thread).start()
        t0 = time.monotonic()
        self.loop.run_forever()
        self.assertTrue(woke)
        self.assertLess(woke[0] - t0, 5)

    def test_signal_handler(self):
        got = []
        self.loop.add_signal_handler(signal.SIGUSR1, lambda: (got.append(1), self.loop.stop()))
        self.loop.call_later(0.05, os.kill, os.getpid(), signal.SIGUSR1)
        self.loop.call_later(10, self.loop.stop)
        self.loop.run_forever()
        self.loop.remove_signal_handler(signal.SIGUSR1)
        self.assertEqual(got, [1])

    def test_subprocess(self):
        async def check():
            p = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "print('hi')", stdout=asyncio.subprocess.PIPE)
            out, _ = await p.communicate()
            return out

        self.assertEqual(run(self.loop, check()).strip(), b"hi")

    def test_timers_through_the_enter(self):
        async def check():
            t0 = self.loop.time()
            await asyncio.sleep(0.05)
            return self.loop.time() - t0

        dt = run(self.loop, check())
        self.assertGreaterEqual(dt, 0.05)
        self.assertLess(dt, 2)


# A classic BPF seccomp program: io_uring_setup/enter/register fail with
# EPERM (as under Docker's default profile), everything else is allowed.
SECCOMP_CHILD = textwrap.dedent(r"""
    import ctypes, struct, sys
    libc = ctypes.CDLL(None, use_errno=True)
    def ins(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    EPERM = 1
    prog = b"".join([
        ins(0x20, 0, 0, 4),            # A = arch
        ins(0x15, 1, 0, 0xC000003E),   # x86_64?
        ins(0x06, 0, 0, 0x7FFF0000),   # other arch: allow
        ins(0x20, 0, 0, 0),            # A = nr
        ins(0x35, 0, 3, 425),          # nr >= 425?
        ins(0x35, 2, 0, 428),          # nr >= 428: allow
        ins(0x06, 0, 0, 0x00050000 | EPERM),  # 425..427: EPERM
        ins(0x06, 0, 0, 0x7FFF0000),
        ins(0x06, 0, 0, 0x7FFF0000),
    ])
    buf = ctypes.create_string_buffer(prog)
    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fp = Fprog(len(prog) // 8, ctypes.addressof(buf))
    assert libc.prctl(38, 1, 0, 0, 0) == 0           # PR_SET_NO_NEW_PRIVS
    assert libc.prctl(22, 2, ctypes.byref(fp), 0, 0) == 0, ctypes.get_errno()  # SECCOMP_MODE_FILTER
    import asyncio, warnings
    warnings.simplefilter("always")
    import ioready
    from ioready import _ioready
    with warnings.catch_warnings(record=True) as caught:
        if sys.argv[1] == "asked":
            loops = [ioready.new_event_loop(backend="uring"), ioready.new_event_loop()]
        else:  # the default engine: quietly epoll
            loops = [ioready.new_event_loop(), ioready.new_event_loop()]
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    print("WARNINGS", len(msgs))
    for m in msgs:
        print("MESSAGE", m)
    print("ACTIVE", [_ioready._uring_active(l) for l in loops])
    class Echo(asyncio.Protocol):
        def connection_made(self, t): self.t = t
        def data_received(self, d): self.t.write(d)
    async def main(loop):
        srv = await loop.create_server(Echo, "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"through epoll")
        got = await r.readexactly(13)
        w.close(); srv.close()
        return got
    for l in loops:
        print("ECHO", l.run_until_complete(main(l)))
        l.close()
""")


class Refused(unittest.TestCase):
    def test_seccomp_refusal_warns_once_and_runs_on_epoll(self):
        if struct.calcsize("P") != 8 or os.uname().machine != "x86_64":
            raise unittest.SkipTest("the filter is written for x86_64")
        uring_loop().close()  # the control: io_uring works here without the filter
        env = dict(os.environ, IOREADY_BACKEND="uring")
        out = subprocess.run([sys.executable, "-c", SECCOMP_CHILD, "asked"], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertIn("WARNINGS 1", lines)
        message = [l for l in lines if l.startswith("MESSAGE")][0]
        self.assertIn("seccomp", message)
        self.assertIn("runs on epoll", message)
        self.assertIn("ACTIVE [False, False]", lines)
        self.assertEqual(lines.count("ECHO b'through epoll'"), 2)

    def test_seccomp_refusal_of_the_default_engine_is_quiet(self):
        if struct.calcsize("P") != 8 or os.uname().machine != "x86_64":
            raise unittest.SkipTest("the filter is written for x86_64")
        uring_loop().close()
        env = {k: v for k, v in os.environ.items() if k != "IOREADY_BACKEND"}
        out = subprocess.run([sys.executable, "-c", SECCOMP_CHILD, "default"], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertIn("WARNINGS 0", lines)
        self.assertIn("ACTIVE [False, False]", lines)
        self.assertEqual(lines.count("ECHO b'through epoll'"), 2)

    def test_default_engine_and_readiness_by_name(self):
        env_backend = os.environ.get("IOREADY_BACKEND")
        if env_backend not in (None, "", "auto", "uring"):
            raise unittest.SkipTest(f"IOREADY_BACKEND={env_backend} chooses the engine")
        uring_loop().close()
        loop = ioready.new_event_loop()
        epoll = ioready.new_event_loop(backend="epoll")
        try:
            self.assertTrue(_ioready._uring_active(loop))
            self.assertFalse(_ioready._uring_active(epoll))
        finally:
            loop.close()
            epoll.close()

    def test_bad_backend_name(self):
        with self.assertRaises(ValueError):
            ioready.new_event_loop(backend="kqueue-on-linux")


if __name__ == "__main__":
    unittest.main()
