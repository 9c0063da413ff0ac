"""ioready.EventLoop and its companions: the Python half of the loop.

``EventLoop`` is ``LoopCore`` (native: scheduling, handles, timers, the
run-once iteration, reader/writer registrations, the clock) combined with
asyncio's own unix selector loop, whose Python keeps the cold paths it does
right (run_forever's bookkeeping, DNS, create_connection/create_server's
logic, TLS through sslproto, subprocesses, pipes, signals, executors). The
native methods come first in the method resolution order; asyncio's Python
calls them back (``self.call_soon``, ``self._add_reader``, ...).
"""

import asyncio
import asyncio.unix_events
import socket
from asyncio import selector_events

from . import _ioready
from ._runner import run_on
from ._transport import SocketTransport
from ._uring import UringServing, UringSocketTransport

Handle = _ioready.Handle
TimerHandle = _ioready.TimerHandle


class EventLoop(_ioready.LoopCore, UringServing, asyncio.unix_events._UnixSelectorEventLoop):  # type: ignore[misc]
    """The ioready event loop: a complete ``asyncio.AbstractEventLoop``
    whose hot paths are native (Rust, on the ioready library's selector).

    ``backend``: ``"uring"`` runs the stream transports on io_uring (epoll
    beside it for everything readiness-based; epoll alone, with a
    ``RuntimeWarning``, where io_uring is refused); ``"epoll"``, ``"poll"``,
    ``"select"`` the readiness transports on that selector. Default: the
    ``IOREADY_BACKEND`` environment variable, else io_uring where the kernel
    allows it (silently epoll where it does not)."""

    def __init__(self, backend=None, **_sizes):
        super().__init__(_ioready.SelectorView(self))  # type: ignore[arg-type]

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        """The native stream transport (TCP and Unix sockets); asyncio's own
        for a socket whose class overrides the methods asyncio's transport
        reads and writes through (the native ones use the descriptor)."""
        if type(sock) is not socket.socket and _io_overridden(sock):
            return _SelectorSocketTransport(self, sock, protocol, waiter, extra, server)
        if _ioready._uring_active(self):
            return UringSocketTransport(self, sock, protocol, waiter, extra, server)
        return SocketTransport(self, sock, protocol, waiter, extra, server)


_SelectorSocketTransport = getattr(selector_events, "_SelectorSocketTransport")
# The socket methods asyncio's stream transport moves data with.
_SOCKET_IO = ("recv", "recv_into", "send", "sendmsg")


def _io_overridden(sock):
    """Whether ``sock`` (of a subclass of socket.socket) reads or writes
    through methods of its own: its class, or the instance, replaces one of
    ``_SOCKET_IO``. asyncio's transport would call them; the native
    transports read and write the descriptor, so such a socket gets
    asyncio's transport (on this loop's readiness registrations)."""
    cls = type(sock)
    own = getattr(sock, "__dict__", None) or {}
    return any(getattr(cls, name, None) is not getattr(socket.socket, name) or name in own
               for name in _SOCKET_IO)


def _make_policy_class():
    class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
        """An event loop policy whose ``new_event_loop()`` is an
        ``ioready.EventLoop``, for code that still sets policies."""

        def new_event_loop(self):
            return EventLoop()

    EventLoopPolicy.__module__ = __name__
    EventLoopPolicy.__qualname__ = "EventLoopPolicy"
    return EventLoopPolicy


def __getattr__(name):
    # Made on first use: asyncio's policies are deprecated from 3.14 on, and
    # touching asyncio.DefaultEventLoopPolicy there warns; a program that
    # only uses the loop must not see that warning.
    if name == "EventLoopPolicy":
        cls = _make_policy_class()
        globals()[name] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run(main, *, debug=None):
    """``ioready.run``: see the package."""
    return run_on(EventLoop, main, debug, "ioready.run()")
