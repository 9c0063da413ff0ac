"""The Python half of the io_uring engine (``backend="uring"``): the stream
transport's construction and cold paths around the native
``UringTransport`` (writing, the deliveries of received data, the end of a
send), and serving through a multishot accept.

The transport keeps asyncio's behaviour and attribute names; where asyncio's
Python for a cold path only reads and sets those attributes it is used as
it is. What differs is underneath: reading is a multishot receive armed on
the ring (paused by cancelling it: a paused transport consumes no buffers),
writes are sent by the loop's next ``io_uring_enter`` with every other
write of the turn, and a closed transport lets go of its requests (no
completion of theirs ever reaches a later transport on the same
descriptor) before its socket is closed.
"""

import contextvars
import errno
import socket
import warnings
from typing import Any

from asyncio import constants, futures, trsock
from asyncio.log import logger

from . import _ioready
from ._transport import _StreamTransportCommon

_set_result_unless_cancelled: Any = getattr(futures, "_set_result_unless_cancelled")

# accept(2) errors after which serving goes on at once, and those that mean
# "out of resources" (asyncio logs them and retries after a delay).
_ACCEPT_TRANSIENT = frozenset(
    {errno.EAGAIN, errno.ECONNABORTED, errno.EINTR, errno.EPROTO, errno.EPERM, errno.ENETDOWN}
)
_ACCEPT_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class UringSocketTransport(_ioready.UringTransport, _StreamTransportCommon):
    """asyncio's TCP/Unix stream transport on ioready's io_uring engine."""

    def __init__(self, loop, sock, protocol, waiter=None, extra=None, server=None):
        # The native __new__ took loop, sock and protocol.
        self._loop = loop
        self._sock = sock
        self._protocol_connected = True
        self._setup(loop, sock, extra, server)
        self._attach()
        loop.call_soon(protocol.connection_made, self)
        # Only start reading when connection_made() has been called.
        loop.call_soon(self._begin_reading)
        if waiter is not None:
            loop.call_soon(_set_result_unless_cancelled, waiter, None)

    def __del__(self, _warn=warnings.warn):
        if self._sock is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self._release()
            self._sock.close()

    def _begin_reading(self):
        if self.is_reading():
            self._start_reading()

    def pause_reading(self):
        """asyncio's: stop reading (the receive is cancelled)."""
        if not self.is_reading():
            return
        self._paused = True
        self._stop_reading(True)
        if self._loop.get_debug():
            logger.debug("%r pauses reading", self)

    def resume_reading(self):
        """asyncio's: read again (what arrived meanwhile comes first)."""
        if self._closing or not self._paused:
            return
        self._paused = False
        self._start_reading()
        if self._loop.get_debug():
            logger.debug("%r resumes reading", self)

    def _stop_writing(self):
        """Nothing to undo: this transport registers no writer with the loop."""

    def write_eof(self):
        """Shut the writing side once the buffer is sent."""
        if self._closing or self._eof:
            return
        self._eof = True
        if self._shut_when_sent():
            self._sock.shutdown(socket.SHUT_WR)


class UringServing:
    """The loop's serving on io_uring (a multishot accept per listening
    socket), for an ``EventLoop`` whose engine is io_uring; asyncio's own
    readiness-based accept otherwise. A base of ``ioready.EventLoop``."""

    def _start_serving(self, protocol_factory, sock, sslcontext=None, server=None,
                       backlog=100, *args):
        # A base of EventLoop, whose other bases give the loop's methods.
        loop: Any = self
        if not (_ioready._uring_active(loop) and isinstance(sock, socket.socket)):
            base: Any = super()
            return base._start_serving(protocol_factory, sock, sslcontext, server,
                                       backlog, *args)
        listeners = self.__dict__.setdefault("_uring_listeners", {})
        fd = sock.fileno()
        family, type_, proto = sock.family, sock.type, sock.proto
        handle: Any = None

        def accepted(res, ended):
            if res >= 0:
                try:
                    conn = socket.socket(family, type_, proto, fileno=res)
                except OSError:
                    import os

                    os.close(res)
                else:
                    conn.setblocking(False)
                    try:
                        addr = conn.getpeername()
                    except OSError:
                        addr = None
                    coro = loop._accept_connection2(
                        protocol_factory, conn, {"peername": addr}, sslcontext, server, *args)
                    loop.create_task(coro)
            else:
                err = -res
                if err in _ACCEPT_RESOURCES:
                    loop.call_exception_handler({
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(err, "accept: " + errno.errorcode.get(err, "?")),
                        "socket": trsock.TransportSocket(sock),
                    })
                    if ended and listeners.get(fd) is handle:
                        loop.call_later(constants.ACCEPT_RETRY_DELAY, rearm)
                    return
                if err not in _ACCEPT_TRANSIENT:
                    loop.call_exception_handler({
                        "message": "accept failed on a listening socket",
                        "exception": OSError(err, "accept: " + errno.errorcode.get(err, "?")),
                        "socket": trsock.TransportSocket(sock),
                    })
            if ended:
                rearm()

        def rearm():
            if listeners.get(fd) is handle and not loop.is_closed():
                _ioready._uring_rearm(loop, handle)

        # The accepts run in a copy of the context serving started in, as
        # asyncio's accept (a reader handle) does: a new connection's task,
        # and so its protocol's callbacks, inherit it.
        context = contextvars.copy_context()
        handle = _ioready._uring_serve(
            loop, fd, lambda res, ended: context.run(accepted, res, ended))
        listeners[fd] = handle

    def _stop_serving(self, sock):
        loop: Any = self
        listeners = self.__dict__.get("_uring_listeners")
        if listeners:
            handle = listeners.pop(sock.fileno(), None)
            if handle is not None:
                _ioready._uring_unserve(loop, handle)
        # asyncio's own next, for what it adds around its readiness part
        # (3.13 removes a Unix server's socket file); that part, removing a
        # reader this socket never had, is a no-op here before the close.
        base: Any = super()
        base._stop_serving(sock)
