"""An aiohttp server answering every GET / with the same 1 KiB body, on a
loop given as "module:callable" (frameworks/bench.py):

    python aiohttp_hello.py --loop uvloop:new_event_loop --port 0

Prints "listening on 127.0.0.1:PORT" once it accepts; serves until killed.
"""

import argparse
import asyncio
import importlib

from aiohttp import web


def describe(loop):
    """module.Class of the loop, and of its selector if it has one; for
    ioready's loop, @ENGINE."""
    sel = getattr(loop, "_selector", None)
    name = f"{type(loop).__module__}.{type(loop).__qualname__}"
    if sel is not None:
        name = f"{name}/{type(sel).__module__}.{type(sel).__qualname__}"
    if type(loop).__module__.startswith("ioready."):
        # The engine really running (IOREADY_BACKEND picks it).
        from ioready import _ioready

        name += "@uring" if _ioready._uring_active(loop) else "@epoll"
    return name


BODY = b"x" * 1023 + b"\n"


async def hello(request):
    return web.Response(body=BODY, content_type="text/plain")


def factory(spec):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


async def start(port):
    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=4096)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"running loop {describe(asyncio.get_running_loop())}", flush=True)
    print(f"listening on {host}:{port}", flush=True)
    return runner


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loop", default="asyncio:new_event_loop")
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    loop = factory(a.loop)()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(start(a.port))
    loop.run_forever()


if __name__ == "__main__":
    main()
