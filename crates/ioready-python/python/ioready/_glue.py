"""The cold paths of the native loop that asyncio's own Python already does
right: a handle's repr, reporting a callback's exception, the source
traceback of debug mode, the slow-callback warning, selector keys.

Called from Rust (src/aio/glue.rs); nothing here runs per event unless the
loop is in debug mode or a callback raised.
"""

import selectors
import sys
from asyncio import base_events, format_helpers, selector_events

SelectorKey = selectors.SelectorKey

# asyncio's callbacks of the sock_* methods (each ``(fut, sock, ...)``): on
# their own descriptor, each does one operation, takes EAGAIN as "wait
# again" and is done; the next sock_* call tries the socket before waiting.
# So they are served by an edge-triggered registration the loop keeps
# between calls (src/aio/sockwatch.rs). Those this Python lacks are left out.
SOCK_CALLBACKS = tuple(
    f
    for f in (
        getattr(selector_events.BaseSelectorEventLoop, name, None)
        for name in (
            "_sock_recv",
            "_sock_recv_into",
            "_sock_recvfrom",
            "_sock_recvfrom_into",
            "_sock_sendall",
            "_sock_sendto",
            "_sock_connect_cb",
            "_sock_accept",
        )
    )
    if f is not None
)
_format_handle = getattr(base_events, "_format_handle")


def handle_repr(handle, when):
    """``repr()`` of a native Handle (``when`` None) or TimerHandle, as
    asyncio's ``Handle.__repr__``/``TimerHandle.__repr__``."""
    if handle._repr is not None:
        return handle._repr
    info = [type(handle).__name__]
    if handle._cancelled:
        info.append("cancelled")
    if handle._callback is not None:
        info.append(format_helpers._format_callback_source(handle._callback, handle._args))
    if handle._source_traceback:
        frame = handle._source_traceback[-1]
        info.append(f"created at {frame[0]}:{frame[1]}")
    if when is not None:
        info.insert(2 if handle._cancelled else 1, f"when={when}")
    return "<{}>".format(" ".join(info))


def report_error(handle, exc):
    """What asyncio's ``Handle._run`` does when the callback raised."""
    cb = format_helpers._format_callback_source(handle._callback, handle._args)
    context = {"message": f"Exception in callback {cb}", "exception": exc, "handle": handle}
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    handle._loop.call_exception_handler(context)


def source_traceback():
    """The stack of the Python code that called into the loop (debug mode:
    a handle's ``_source_traceback``)."""
    return format_helpers.extract_stack(sys._getframe(1))


def warn_slow(handle, dt):
    """asyncio's slow-callback warning (debug mode), through
    ``asyncio.base_events.logger`` as asyncio's own loop logs it (looked up
    at each call: tests replace it)."""
    getattr(base_events, "logger").warning("Executing %s took %.3f seconds", _format_handle(handle), dt)


def warn_connlost():
    """asyncio's warning for writes to a transport whose connection is lost
    (through ``asyncio.selector_events.logger``, looked up at each call)."""
    getattr(selector_events, "logger").warning("socket.send() raised exception.")
