"""Switching a program over to ioready.select, with no import-order rule.

* install() after asyncio, selectors, subprocess, socketserver (or pty) were
  imported: what they bound from CPython's `select` at import is rebound,
  and each then really works on ioready.select (real sockets, a real child
  process, a real TCP server on 127.0.0.1). Each case runs in a fresh
  interpreter, since install() changes the process.
* The limits, as documented: objects made before install() and modules
  outside the standard library keep what they had.
* new_event_loop() as asyncio.Runner's loop_factory (asyncio.run's on 3.12+)
  and run(coro), in this process: they change nothing global.
"""

import asyncio
import json
import os
import select as cpython
import subprocess
import sys
import textwrap
import unittest

import ioready.select as ours
from ioready._runner import run_without_runner

TIMEOUT = 60

# Run in a fresh interpreter: the imports of a case, then install(), then the
# case's checks, which fill `out` ({check: value}), printed as JSON.
PROBE_START = """
import json, sys
"""
PROBE_INSTALL = """
import select as before
import ioready.select
ioready.select.install()
import select
out = {"before_was_cpython": before is not ioready.select,
       "select_is_ours": select is ioready.select}
"""


def probe(imports, checks):
    code = "".join([PROBE_START, textwrap.dedent(imports).strip("\n"), "\n", PROBE_INSTALL,
                    textwrap.dedent(checks).strip("\n"), "\nprint(json.dumps(out))\n"])
    done = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", code],
                          capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise AssertionError(f"probe failed:\n{code}\n--- stderr:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class InstallAfterImport(unittest.TestCase):
    def check(self, imports, checks):
        out = probe(imports, checks)
        self.assertTrue(out.pop("before_was_cpython"), "select was not CPython's before install()")
        for key, value in out.items():
            self.assertIs(value, True, key)

    def test_after_selectors(self):
        self.check("import selectors", """
            import socket
            out["selectors.select"] = selectors.select is ioready.select
            out["SelectSelector._select"] = selectors.SelectSelector._select is ioready.select.select
            out["PollSelector._selector_cls"] = selectors.PollSelector._selector_cls is ioready.select.poll
            out["EpollSelector._selector_cls"] = selectors.EpollSelector._selector_cls is ioready.select.epoll
            a, b = socket.socketpair()
            for cls in (selectors.DefaultSelector, selectors.SelectSelector,
                        selectors.PollSelector, selectors.EpollSelector):
                with cls() as sel:
                    sel.register(a, selectors.EVENT_READ, "a")
                    b.send(b"x")
                    ready = sel.select(5)
                    a.recv(1)
                    out[cls.__name__ + " waits"] = [key.data for key, _ in ready] == ["a"]
            with selectors.DefaultSelector() as sel:
                out["DefaultSelector on ours"] = type(sel._selector) is ioready.select.epoll
        """)

    def test_after_asyncio(self):
        self.check("import asyncio", """
            async def echo_once():
                async def handle(reader, writer):
                    writer.write(await reader.readexactly(5))
                    await writer.drain()
                    writer.close()
                server = await asyncio.start_server(handle, "127.0.0.1", 0)
                port = server.sockets[0].getsockname()[1]
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"hello")
                data = await reader.readexactly(5)
                writer.close()
                server.close()
                await server.wait_closed()
                loop = asyncio.get_running_loop()
                return data, type(loop._selector._selector)
            data, kind = asyncio.run(echo_once())
            out["echo"] = data == b"hello"
            out["asyncio.run's loop on ours"] = kind is ioready.select.epoll
        """)

    def test_after_subprocess(self):
        self.check("import subprocess", """
            out["subprocess.select"] = subprocess.select is ioready.select
            sel = subprocess._PopenSelector()
            out["_PopenSelector on ours"] = type(sel._selector).__module__ == "select" and \\
                type(sel._selector) is type(ioready.select.poll())
            sel.close()
            # communicate() with both pipes waits with _PopenSelector.
            data = b"x" * 200000
            done = subprocess.run([sys.executable, "-c",
                                   "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d)"],
                                  input=data, capture_output=True, timeout=60)
            out["communicate"] = done.stdout == data and done.returncode == 0
        """)

    def test_after_socketserver(self):
        self.check("import socketserver", """
            import socket, threading
            class Echo(socketserver.StreamRequestHandler):
                def handle(self):
                    self.wfile.write(self.rfile.readline())
            with socketserver.TCPServer(("127.0.0.1", 0), Echo) as server:
                sel = socketserver._ServerSelector()
                out["_ServerSelector on ours"] = type(sel._selector) is type(ioready.select.poll())
                sel.close()
                t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
                t.start()
                with socket.create_connection(server.server_address, timeout=30) as c:
                    c.sendall(b"ping\\n")
                    out["echo"] = c.makefile("rb").readline() == b"ping\\n"
                server.shutdown()
                t.join(30)
        """)

    def test_after_pty_from_import(self):
        # `from select import select` binds the function itself.
        self.check("import pty", """
            out["pty.select"] = pty.select is ioready.select.select
        """)

    def test_what_it_does_not_change(self):
        out = probe("""
            import selectors, types
            made_before = selectors.DefaultSelector()
            third_party = types.ModuleType("third_party")
            exec("import select", third_party.__dict__)
            sys.modules["third_party"] = third_party
        """, """
            out["selector made before keeps CPython's"] = type(made_before._selector) is before.epoll
            out["third-party module keeps CPython's"] = third_party.select is before
            out["new selector is ours"] = type(selectors.DefaultSelector()._selector) is ioready.select.epoll
        """)
        self.assertTrue(out.pop("before_was_cpython"))
        for key, value in out.items():
            self.assertIs(value, True, key)

    def test_install_twice_and_installed(self):
        self.check("import asyncio, subprocess", """
            ioready.select.install()
            out["installed"] = ioready.select.installed()
            out["still ours"] = sys.modules["select"] is ioready.select
            out["subprocess.select"] = subprocess.select is ioready.select
        """)


async def echo_roundtrip():
    """A TCP echo on 127.0.0.1 through the running loop; returns the data
    and the class of the loop's selector's underlying object."""
    async def handle(reader, writer):
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping")
    data = await reader.readexactly(4)
    writer.close()
    server.close()
    await server.wait_closed()
    return data, type(asyncio.get_running_loop()._selector._selector)


class EventLoop(unittest.TestCase):
    """new_event_loop() and run(): no global change, in this process."""

    def setUp(self):
        self.assertIs(sys.modules["select"], cpython)

    def tearDown(self):
        # Nothing global changed.
        self.assertIs(sys.modules["select"], cpython)
        self.assertFalse(ours.installed())

    def test_new_event_loop(self):
        loop = ours.new_event_loop()
        self.addCleanup(loop.close)
        self.assertIsInstance(loop, asyncio.SelectorEventLoop)
        self.assertEqual(loop.run_until_complete(echo_roundtrip()), (b"ping", ours.epoll))

    @unittest.skipUnless(hasattr(asyncio, "Runner"), "asyncio.Runner is 3.11+")
    def test_runner_loop_factory(self):
        with asyncio.Runner(loop_factory=ours.new_event_loop) as runner:
            self.assertEqual(runner.run(echo_roundtrip()), (b"ping", ours.epoll))

    @unittest.skipUnless(sys.version_info >= (3, 12), "asyncio.run(loop_factory=) is 3.12+")
    def test_asyncio_run_loop_factory(self):
        result = asyncio.run(echo_roundtrip(), loop_factory=ours.new_event_loop)
        self.assertEqual(result, (b"ping", ours.epoll))

    def runners(self):
        # run() itself and the 3.9/3.10 path it takes without asyncio.Runner.
        return {"run": ours.run,
                "without Runner": lambda main, debug=None: run_without_runner(
                    ours.new_event_loop, main, debug, "ioready.select.run()")}

    def test_run(self):
        for name, run in self.runners().items():
            with self.subTest(run=name):
                self.assertEqual(run(echo_roundtrip()), (b"ping", ours.epoll))

    def test_run_cleans_up_like_asyncio_run(self):
        for name, run in self.runners().items():
            with self.subTest(run=name):
                seen = {}

                async def agen():
                    try:
                        yield 1
                        yield 2
                    finally:
                        seen["agen closed"] = True

                async def forever():
                    try:
                        await asyncio.sleep(3600)
                    except asyncio.CancelledError:
                        seen["task cancelled"] = True
                        raise

                async def main():
                    seen["loop"] = asyncio.get_running_loop()
                    seen["current"] = asyncio.get_event_loop() is seen["loop"]
                    seen["debug"] = seen["loop"].get_debug()
                    asyncio.ensure_future(forever())
                    async for _ in agen():
                        break
                    await asyncio.sleep(0)
                    return "done"

                self.assertEqual(run(main(), debug=True), "done")
                self.assertTrue(seen["loop"].is_closed())
                self.assertEqual((seen["current"], seen["debug"], seen.get("task cancelled"),
                                  seen.get("agen closed")), (True, True, True, True))

    def test_run_errors(self):
        for name, run in self.runners().items():
            with self.subTest(run=name):
                async def boom():
                    raise KeyError("from main")

                with self.assertRaises(KeyError):
                    run(boom())

                async def nested():
                    coro = asyncio.sleep(0)
                    try:
                        run(coro)
                    finally:
                        coro.close()

                with self.assertRaisesRegex(RuntimeError, "running event loop"):
                    ours.run(nested())
                with self.assertRaisesRegex(ValueError, "a coroutine was expected"):
                    run(42)


if __name__ == "__main__":
    unittest.main()
