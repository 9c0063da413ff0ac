"""An echo server on a given asyncio loop, in the four shapes users quote
(those of uvloop's examples/bench/echoserver.py; written here):

  sockets   loop.sock_accept / sock_recv / sock_sendall, a task per client
  streams   asyncio.start_server, reader.read + writer.write + drain
  protocol  asyncio.Protocol: data_received -> transport.write
  buffered  asyncio.BufferedProtocol: get_buffer / buffer_updated ->
            transport.write of the filled part of one reused buffer

    python echo_server.py --loop uvloop:new_event_loop --api protocol

Binds 127.0.0.1 (port 0 unless --port), prints "listening on 127.0.0.1:PORT"
once it accepts, serves until killed. The load generator (`ioready bench`)
checks every echoed byte, so a shape that corrupts data shows as errors.
"""

import argparse
import asyncio
import socket
import sys

from loopspec import new_loop

READ = 65536  # bytes asked of each receive (every message here is <= 16 KiB)


async def serve_sockets(loop, port):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(4096)
    lsock.setblocking(False)

    async def client(sock):
        try:
            while True:
                data = await loop.sock_recv(sock, READ)
                if not data:
                    break
                await loop.sock_sendall(sock, data)
        except ConnectionError:
            pass
        finally:
            sock.close()

    announce(lsock)
    tasks = set()
    while True:
        sock, _ = await loop.sock_accept(lsock)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        t = loop.create_task(client(sock))
        tasks.add(t)
        t.add_done_callback(tasks.discard)


async def serve_streams(loop, port):
    async def client(reader, writer):
        try:
            while True:
                data = await reader.read(READ)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(client, "127.0.0.1", port, backlog=4096)
    announce(server.sockets[0])
    await asyncio.Event().wait()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class BufferedEcho(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = memoryview(bytearray(READ))

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        # A transport keeps whatever it cannot send at once, so it must copy
        # what it keeps: the buffer is overwritten by the next receive.
        self.transport.write(self.buffer[:nbytes])


async def serve_protocol(loop, port, proto):
    server = await loop.create_server(proto, "127.0.0.1", port, backlog=4096)
    announce(server.sockets[0])
    await asyncio.Event().wait()


def announce(sock):
    host, port = sock.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", default="asyncio:new_event_loop", help="module:callable")
    ap.add_argument("--api", choices=("sockets", "streams", "protocol", "buffered"), default="protocol")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    loop = new_loop(args.loop)
    asyncio.set_event_loop(loop)
    if args.api == "sockets":
        main_coro = serve_sockets(loop, args.port)
    elif args.api == "streams":
        main_coro = serve_streams(loop, args.port)
    elif args.api == "protocol":
        main_coro = serve_protocol(loop, args.port, Echo)
    else:
        main_coro = serve_protocol(loop, args.port, BufferedEcho)
    print(f"loop {type(loop).__module__}.{type(loop).__qualname__}", file=sys.stderr, flush=True)
    try:
        loop.run_until_complete(main_coro)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
