"""ioready.select under pytest, which imports `select` and `selectors` (and
this file imports asyncio, subprocess and socketserver) before any test
runs: install() from inside a test must still switch them over, and the
asyncio entry points must work as a test would use them.

Run on its own (`python -m pytest tests/under_pytest`): install() changes
the whole pytest process from the first test that uses the fixture on.
"""

import asyncio
import select as select_at_import
import selectors
import socket
import socketserver
import subprocess
import sys
import threading

import pytest

import ioready.select


@pytest.fixture(scope="module")
def installed():
    # The situation install() is for: CPython's module imported first.
    assert select_at_import is not ioready.select
    assert sys.modules["select"] is select_at_import
    assert type(selectors.DefaultSelector()._selector) is select_at_import.epoll
    ioready.select.install()
    return ioready.select


async def echo(payload):
    async def handle(reader, writer):
        writer.write(await reader.readexactly(len(payload)))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    data = await reader.readexactly(len(payload))
    writer.close()
    server.close()
    await server.wait_closed()
    return data, type(asyncio.get_running_loop()._selector._selector)


def test_new_event_loop_without_install():
    # Before the fixture: nothing global is needed or changed.
    with asyncio.Runner(loop_factory=ioready.select.new_event_loop) as runner:
        assert runner.run(echo(b"runner")) == (b"runner", ioready.select.epoll)
    assert ioready.select.run(echo(b"run")) == (b"run", ioready.select.epoll)
    assert sys.modules["select"] is select_at_import


def test_install_rebinds_what_pytest_imported(installed):
    assert sys.modules["select"] is installed
    assert selectors.select is installed
    assert subprocess.select is installed
    assert selectors.EpollSelector._selector_cls is installed.epoll
    assert selectors.PollSelector._selector_cls is installed.poll
    assert selectors.SelectSelector._select is installed.select


def test_asyncio_run_uses_it(installed):
    assert asyncio.run(echo(b"asyncio.run")) == (b"asyncio.run", installed.epoll)


def test_subprocess_uses_it(installed):
    sel = subprocess._PopenSelector()
    assert type(sel._selector) is type(installed.poll())
    sel.close()
    data = b"y" * 100000
    done = subprocess.run([sys.executable, "-c",
                           "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"],
                          input=data, capture_output=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, data)


def test_socketserver_uses_it(installed):
    class Echo(socketserver.StreamRequestHandler):
        def handle(self):
            self.wfile.write(self.rfile.readline())

    with socketserver.TCPServer(("127.0.0.1", 0), Echo) as server:
        sel = socketserver._ServerSelector()
        assert type(sel._selector) is type(installed.poll())
        sel.close()
        t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        t.start()
        try:
            with socket.create_connection(server.server_address, timeout=30) as c:
                c.sendall(b"pytest\n")
                assert c.makefile("rb").readline() == b"pytest\n"
        finally:
            server.shutdown()
            t.join(30)
