"""A plain ASGI "hello" app: every request gets the same 1 KiB body. For
uvicorn under wrk (frameworks/bench.py):

    uvicorn hello_asgi:app --loop uvloop:new_event_loop

At startup (lifespan) it prints the class of the running loop, so that the
benchmark can check that `--loop` took effect.
"""

import asyncio
import sys


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
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                print(f"hello_asgi: running loop {describe(asyncio.get_running_loop())}", file=sys.stderr, flush=True)
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
