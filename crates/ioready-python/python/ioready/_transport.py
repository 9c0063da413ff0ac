"""The Python half of ioready's stream transport: construction and the
cold paths, around the native ``StreamTransport`` (reading, writing, the
write buffer, the protocol, and the state asyncio's attributes name).

Where asyncio's own Python for a cold path only reads and sets those
attributes, it is used as it is (the functions are taken from asyncio's
classes, so behaviour and messages stay asyncio's); the rest is written
here with the same behaviour.
"""

import socket
import sys
from types import FunctionType, MethodType
from typing import Any

from asyncio import base_events, constants, futures, selector_events, transports, trsock

from . import _ioready

# asyncio's private classes and helpers (typeshed does not declare them). Its
# socket transport class, not its base: what asyncio 3.9 and 3.10 define there
# (is_reading, pause_reading, resume_reading) moved to the base in 3.11.
_SelectorSocket: Any = getattr(selector_events, "_SelectorSocketTransport")
_set_nodelay: Any = getattr(base_events, "_set_nodelay")
_set_result_unless_cancelled: Any = getattr(futures, "_set_result_unless_cancelled")


class _AsyncioFace(transports._FlowControlMixin, transports.Transport):
    """What ``SocketTransport`` instances give as ``__class__``: an
    ``asyncio.Transport`` with asyncio's flow control, so that
    ``isinstance(transport, asyncio.Transport)`` holds, as asyncio's own
    code (the sendfile fallback) and its tests check. (The native base
    cannot be combined with asyncio's classes as bases: their ``__slots__``
    give them an instance layout of their own.)"""


_AsyncioFace.__name__ = _AsyncioFace.__qualname__ = "SocketTransport"


class _FromAsyncio:
    """A method that asyncio's own stream transport inherits from asyncio's
    transport classes (``asyncio.BaseTransport.get_extra_info``, the flow
    control mixin's), looked up on those classes at each access rather than
    copied once at import: a patch of the class attribute (tests do
    ``mock.patch("asyncio.Transport.get_extra_info")``) is then seen by
    these transports as by asyncio's, with the same binding (a function is
    bound to the transport; anything else, such as a mock, which is no
    descriptor, is given as it is). The lookup is ``_AsyncioFace``'s, whose
    method resolution order is asyncio's transport's past its own two
    classes, and goes through the interpreter's type attribute cache."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner=None, _function=FunctionType, _bind=MethodType):
        attr = getattr(_AsyncioFace, self.name)
        if obj is not None and type(attr) is _function:
            return _bind(attr, obj)
        return attr


def _inherited_from_asyncio(name):
    """Whether asyncio's socket transport takes ``name`` from asyncio's
    transport classes (not from its selector classes, which are written
    for a selector transport's attributes)."""
    for klass in _SelectorSocket.__mro__:
        if name in klass.__dict__:
            return klass.__module__ == transports.__name__
    return False


# asyncio's Server keeps its client transports from 3.13 on (for
# close_clients()/abort_clients()): its _attach/_detach take the transport
# there, and nothing before.
_SERVER_KEEPS_CLIENTS = sys.version_info >= (3, 13)


def _server_attach(server, transport):
    if _SERVER_KEEPS_CLIENTS:
        server._attach(transport)
    else:
        server._attach()


def _server_detach(server, transport):
    if _SERVER_KEEPS_CLIENTS:
        server._detach(transport)
    else:
        server._detach()


class _StreamTransportCommon:
    """What the two stream transports (``SocketTransport`` on the readiness
    core, ``_uring.UringSocketTransport`` on io_uring) share: the cold
    paths, written once. A second base, after the native one, so every
    native method (the hot paths) is found first; no slots of its own, so
    it adds nothing to the native instance layout.

    A subclass gives ``_stop_reading`` and ``_stop_writing`` (what closing
    does to its reading and its writing), ``_release`` (what it lets go of
    before its socket is closed) and ``get_write_buffer_size``. (``self`` is
    typed ``Any`` below: what these methods use is the native base's.)"""

    __slots__ = ()
    # The native bases' attributes these methods set (annotations only: for
    # type checkers, no slot, no class attribute).
    _loop: Any
    _sock: Any
    _protocol: Any
    _empty_waiter: Any

    @property  # type: ignore[misc]
    def __class__(self):
        return _AsyncioFace

    _start_tls_compatible = True
    # loop.sendfile(): asyncio's native path (reading paused, the buffer
    # drained, then os.sendfile through the readiness selector).
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE

    def _setup(self: Any, loop, sock, extra, server):
        """The part of construction both share: the extra info, the server
        told, the loop's map of transports, TCP_NODELAY."""
        self._extra = {} if extra is None else extra
        self._extra["socket"] = trsock.TransportSocket(sock)
        try:
            self._extra["sockname"] = sock.getsockname()
        except OSError:
            self._extra["sockname"] = None
        if "peername" not in self._extra:
            try:
                self._extra["peername"] = sock.getpeername()
            except OSError:
                self._extra["peername"] = None
        self._server = server
        if server is not None:
            _server_attach(server, self)
        loop._transports[self._sock_fd] = self
        _set_nodelay(sock)

    # asyncio's own, unchanged: they read and set the native attributes.
    __repr__ = _SelectorSocket.__repr__
    abort = _SelectorSocket.abort
    is_closing = _SelectorSocket.is_closing
    is_reading = _SelectorSocket.is_reading
    _fatal_error = _SelectorSocket._fatal_error
    _read_ready__on_eof = _SelectorSocket._read_ready__on_eof
    can_write_eof = _SelectorSocket.can_write_eof
    _reset_empty_waiter = _SelectorSocket._reset_empty_waiter
    # asyncio's transport classes' own, found there at each access (see
    # _FromAsyncio): what a program or a test patches on those classes
    # applies here too.
    get_extra_info = _FromAsyncio("get_extra_info")
    _maybe_pause_protocol = _FromAsyncio("_maybe_pause_protocol")
    _maybe_resume_protocol = _FromAsyncio("_maybe_resume_protocol")
    get_write_buffer_limits = _FromAsyncio("get_write_buffer_limits")
    _set_write_buffer_limits = _FromAsyncio("_set_write_buffer_limits")
    set_write_buffer_limits = _FromAsyncio("set_write_buffer_limits")

    def close(self: Any):
        """asyncio's: stop reading; connection_lost once the buffer is sent."""
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self.get_write_buffer_size():
            self._conn_lost += 1
            self._stop_writing()
            self._loop.call_soon(self._call_connection_lost, None)

    def _force_close(self: Any, exc):
        """asyncio's: drop the buffer, connection_lost(exc) soon."""
        if self._conn_lost:
            return
        if self.get_write_buffer_size():
            self._clear_write_buffer()
            self._stop_writing()
        if not self._closing:
            self._closing = True
            self._stop_reading()
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self: Any, exc):
        """asyncio's: connection_lost(exc), what the transport holds let go
        of, the socket closed, the server told."""
        try:
            if self._protocol_connected:
                self._protocol.connection_lost(exc)
        finally:
            self._release()
            sock: Any = self._sock
            sock.close()
            self._sock = None
            self._protocol = None
            self._loop = None
            server = self._server
            if server is not None:
                _server_detach(server, self)
                self._server = None
        if self._empty_waiter is not None:
            self._empty_waiter.set_exception(ConnectionError("Connection is closed by peer"))

    def _writelines(self: Any, list_of_data):
        """asyncio's (3.11): the buffers joined, one write."""
        self.write(b"".join(list_of_data))

    # Where asyncio's transport inherits writelines (3.11: from
    # WriteTransport, which joins and writes, as above), found there too.
    writelines = (_FromAsyncio("writelines") if _inherited_from_asyncio("writelines")
                  else _writelines)

    def _make_empty_waiter(self: Any):
        """For loop.sendfile: a future done when the buffer is empty."""
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        self._empty_waiter = self._loop.create_future()
        if not self.get_write_buffer_size():
            self._empty_waiter.set_result(None)
        return self._empty_waiter


class SocketTransport(_ioready.StreamTransport, _StreamTransportCommon):
    """asyncio's TCP/Unix stream transport, on ioready's native core."""

    def __init__(self, loop, sock, protocol, waiter=None, extra=None, server=None):
        # The native __new__ took loop, sock and protocol.
        self._setup(loop, sock, extra, server)
        loop.call_soon(protocol.connection_made, self)
        # Only start reading when connection_made() has been called.
        loop.call_soon(self._add_reader, self._sock_fd, self._read_ready)
        if waiter is not None:
            loop.call_soon(_set_result_unless_cancelled, waiter, None)

    # asyncio's own, unchanged: they read and set the native attributes.
    __del__ = _SelectorSocket.__del__
    pause_reading = _SelectorSocket.pause_reading
    resume_reading = _SelectorSocket.resume_reading

    def _add_reader(self, fd, callback, *args):
        """asyncio 3.11's: no reader while reading is paused or the
        transport closes (3.9's and 3.10's add it even when
        connection_made() paused reading, and the pause is lost)."""
        if not self.is_reading():
            return
        self._loop._add_reader(fd, callback, *args)

    def _stop_reading(self):
        self._loop._remove_reader(self._sock_fd)

    def _stop_writing(self):
        self._loop._remove_writer(self._sock_fd)

    def _release(self):
        """Nothing to let go of: readiness holds no request on the socket."""

    def write_eof(self):
        """Shut the writing side once the buffer is sent."""
        if self._closing or self._eof:
            return
        self._eof = True
        if not self.get_write_buffer_size():
            sock: Any = self._sock
            sock.shutdown(socket.SHUT_WR)
