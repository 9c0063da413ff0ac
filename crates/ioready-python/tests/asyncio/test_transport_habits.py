"""Stream transports: what frameworks' own test suites rely on beyond the
protocol contract (websockets', uvicorn's; see frameworks/run.sh): methods
patched on asyncio's transport classes, a socket class whose recv/send are
its own, and the context protocol callbacks run in. Each on the loop under
test and on stock asyncio (crosscheck.py); TCP on 127.0.0.1 port 0."""

import asyncio
import contextvars
import os
import socket
from unittest import mock

from crosscheck import crosscheck
from test_transports import Collector, echo_server


@crosscheck
class FrameworkHabits:
    def test_get_extra_info_patched_on_asyncio_classes(self):
        # websockets' tests patch asyncio.Transport.get_extra_info with a
        # mock (called without the transport); a function patched on
        # asyncio.BaseTransport is bound to the transport, as any method.
        async def main():
            server, addr = await echo_server(self.loop)
            tr, pr = await self.loop.create_connection(lambda: Collector(self.loop), *addr)
            with mock.patch("asyncio.Transport.get_extra_info") as patched:
                patched.return_value = ("sock", 1234)
                mocked = tr.get_extra_info("sockname")
                patched.assert_called_with("sockname")
            seen = []

            def fake(self, name, default=None):
                seen.append((self, name, default))
                return "faked"

            with mock.patch.object(asyncio.BaseTransport, "get_extra_info", fake):
                faked = tr.get_extra_info("peername", 7)
            restored = tr.get_extra_info("peername")
            tr.close()
            await pr.lost
            server.close()
            await server.wait_closed()
            return tr, addr, mocked, faked, seen, restored

        tr, addr, mocked, faked, seen, restored = self.run_loop(main())
        self.assertEqual(mocked, ("sock", 1234))
        self.assertEqual(faked, "faked")
        self.assertEqual(len(seen), 1)
        self.assertIs(seen[0][0], tr)
        self.assertEqual(seen[0][1:], ("peername", 7))
        self.assertEqual(restored, addr)

    def test_write_buffer_limits_patched_on_asyncio_classes(self):
        async def main():
            server, addr = await echo_server(self.loop)
            tr, pr = await self.loop.create_connection(lambda: Collector(self.loop), *addr)
            with mock.patch("asyncio.transports._FlowControlMixin.get_write_buffer_limits",
                            return_value=(1, 2)):
                patched = tr.get_write_buffer_limits()
            tr.set_write_buffer_limits(high=4096)
            real = tr.get_write_buffer_limits()
            tr.close()
            await pr.lost
            server.close()
            await server.wait_closed()
            return patched, real

        self.assertEqual(self.run_loop(main()), ((1, 2), (1024, 4096)))

    def test_socket_subclass_reads_and_writes_through_its_methods(self):
        # A socket class that overrides recv/recv_into/send (websockets'
        # test_explicit_socket): asyncio's transport calls them.
        class TrackedSocket(socket.socket):
            def __init__(self, *args, **kwargs):
                self.used_for_read = False
                self.used_for_write = False
                super().__init__(*args, **kwargs)

            def recv(self, *args, **kwargs):
                self.used_for_read = True
                return super().recv(*args, **kwargs)

            def recv_into(self, *args, **kwargs):
                self.used_for_read = True
                return super().recv_into(*args, **kwargs)

            def send(self, *args, **kwargs):
                self.used_for_write = True
                return super().send(*args, **kwargs)

        async def main():
            server, addr = await echo_server(self.loop)
            s = TrackedSocket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            await self.loop.sock_connect(s, addr)
            tr, pr = await self.loop.create_connection(lambda: Collector(self.loop), sock=s)
            payload = os.urandom(200_000)
            tr.write(payload)
            got = await pr.wait_bytes(len(payload))
            tr.close()
            await pr.lost
            server.close()
            await server.wait_closed()
            return got == payload, s.used_for_read, s.used_for_write, s.fileno()

        self.assertEqual(self.run_loop(main()), (True, True, True, -1))

    def test_protocol_callbacks_run_in_the_serving_context(self):
        # uvicorn's test_contextvars_preserved_by_default: a variable set
        # before the server starts is seen by its protocols' callbacks and
        # by the tasks they create; what data_received sets stays for the
        # next data_received (asyncio's reader handle keeps one context).
        var = contextvars.ContextVar("var")

        async def main():
            var.set("outer")
            seen = []
            done = self.loop.create_future()

            class Server(asyncio.Protocol):
                def connection_made(self, transport):
                    seen.append(("made", var.get("missing")))

                def data_received(self, data):
                    seen.append(("data", var.get("missing")))
                    var.set("set by data_received")
                    if data.endswith(b"!"):
                        async def task():
                            seen.append(("task", var.get("missing")))
                            done.set_result(None)

                        asyncio.get_running_loop().create_task(task())

                def connection_lost(self, exc):
                    seen.append(("lost", var.get("missing")))

            server = await self.loop.create_server(Server, "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()

            async def client():
                var.set("client")
                r, w = await asyncio.open_connection(*addr)
                w.write(b"one")
                await asyncio.sleep(0.05)
                w.write(b"two!")
                await done
                w.close()
                await w.wait_closed()

            await contextvars.Context().run(self.loop.create_task, client())
            await asyncio.sleep(0.05)
            server.close()
            await server.wait_closed()
            return seen

        self.assertEqual(self.run_loop(main()), [
            ("made", "outer"), ("data", "outer"), ("data", "set by data_received"),
            ("task", "set by data_received"), ("lost", "set by data_received")])

    def test_client_protocol_runs_in_the_connecting_context(self):
        var = contextvars.ContextVar("var")

        async def main():
            server, addr = await echo_server(self.loop)

            class Seeing(Collector):
                seen = None

                def data_received(self, data):
                    self.seen = var.get("missing")
                    super().data_received(data)

            async def connect():
                var.set("connecting")
                return await self.loop.create_connection(lambda: Seeing(self.loop), *addr)

            tr, pr = await contextvars.Context().run(self.loop.create_task, connect())
            tr.write(b"ping")
            await pr.wait_bytes(4)
            tr.close()
            await pr.lost
            server.close()
            await server.wait_closed()
            return pr.seen

        self.assertEqual(self.run_loop(main()), "connecting")

    def test_write_then_abort_in_the_same_callback_sends_the_write(self):
        # aiohttp's test_stalled_parser_outlives_connection_lost: a handler
        # writes (the websocket handshake's answer) and aborts before
        # yielding; asyncio's transport handed the bytes to the socket in
        # write(), so the peer gets them before the reset.
        class AnswerAndAbort(asyncio.Protocol):
            def connection_made(self, transport):
                self.transport = transport

            def data_received(self, data):
                self.transport.write(b"answer:" + data)
                self.transport.abort()

        async def main():
            server = await self.loop.create_server(AnswerAndAbort, "127.0.0.1", 0)
            addr = server.sockets[0].getsockname()
            r, w = await asyncio.open_connection(*addr)
            w.write(b"question")
            got = b""
            try:
                while len(got) < 15:
                    chunk = await r.read(100)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass
            w.close()
            server.close()
            await server.wait_closed()
            return got

        self.assertEqual(self.run_loop(main()), b"answer:question")
