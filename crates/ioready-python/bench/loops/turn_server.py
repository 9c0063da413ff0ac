"""Fixed work for counting a loop's system calls per request (see
count_syscalls.sh): N request/response round trips on one TCP connection
on 127.0.0.1, the client a separate blocking process (so that tracing the
server's process without following children counts the loop alone).

Shapes (--shape):
  two-writes  a Protocol answering each request with two transport.write
              calls, headers then body, as uvicorn's httptools protocol does
  one-write   the same answer in one write
  sock-echo   loop.sock_recv / loop.sock_sendall echo of 64 bytes; the
              client pauses 200 us before each request, so every sock_recv
              finds nothing and waits (the registration path is exercised
              each time)

    python turn_server.py --loop ioready:new_event_loop --shape two-writes -n 2000
"""

import argparse
import asyncio
import socket
import subprocess
import sys
import time

from loopspec import new_loop

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
BODY = b"hello"


def client(port, n, size, want, pause):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for _ in range(n):
        if pause:
            time.sleep(pause)
        s.sendall(b"x" * size)
        got = 0
        while got < want:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("server closed early")
            got += len(chunk)
    s.close()


def spawn_client(port, n, size, want, pause):
    return subprocess.Popen([sys.executable, __file__, "--client", str(port), str(n), str(size),
                             str(want), str(pause)])


class Answer(asyncio.Protocol):
    one = False
    done = None  # a future set when the client has gone

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        self.done.set_result(None)

    def data_received(self, data):
        if self.one:
            self.transport.write(HEAD + BODY)
        else:
            self.transport.write(HEAD)
            self.transport.write(BODY)


async def serve_protocol(loop, n, one):
    done = loop.create_future()
    proto = type("Answer", (Answer,), {"one": one, "done": done})
    server = await loop.create_server(proto, "127.0.0.1", 0)
    proc = spawn_client(server.sockets[0].getsockname()[1], n, 18, len(HEAD + BODY), 0)
    await done  # no timer or polling: the work is the requests alone
    server.close()
    return proc.wait()


async def serve_sock_echo(loop, n):
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    lsock.setblocking(False)
    proc = spawn_client(lsock.getsockname()[1], n, 64, 64, 0.0002)
    sock, _ = await loop.sock_accept(lsock)
    sock.setblocking(False)
    while True:
        data = await loop.sock_recv(sock, 65536)
        if not data:
            break
        await loop.sock_sendall(sock, data)
    sock.close()
    lsock.close()
    return proc.wait()


def main():
    if sys.argv[1:2] == ["--client"]:
        port, n, size, want = (int(a) for a in sys.argv[2:6])
        client(port, n, size, want, float(sys.argv[6]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop", default="asyncio:new_event_loop", help="module:callable")
    ap.add_argument("--shape", choices=("two-writes", "one-write", "sock-echo"), default="two-writes")
    ap.add_argument("-n", type=int, default=2000)
    args = ap.parse_args()
    loop = new_loop(args.loop)
    if args.shape == "sock-echo":
        rc = loop.run_until_complete(serve_sock_echo(loop, args.n))
    else:
        rc = loop.run_until_complete(serve_protocol(loop, args.n, args.shape == "one-write"))
    loop.close()
    if rc != 0:
        raise SystemExit(f"client failed: {rc}")


if __name__ == "__main__":
    main()
