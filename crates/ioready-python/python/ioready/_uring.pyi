import asyncio
import socket
from typing import Any

from . import _ioready
from ._transport import _StreamTransportCommon

class UringSocketTransport(_ioready.UringTransport, _StreamTransportCommon):
    _loop: Any
    _sock: socket.socket | None
    _protocol_connected: bool
    def __init__(
        self,
        loop: Any,
        sock: socket.socket,
        protocol: Any,
        waiter: Any = None,
        extra: Any = None,
        server: Any = None,
    ) -> None: ...
    def __del__(self, _warn: Any = ...) -> None: ...
    def _begin_reading(self) -> None: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def _stop_writing(self) -> None: ...
    def write_eof(self) -> None: ...

class UringServing:
    def _start_serving(
        self,
        protocol_factory: Any,
        sock: socket.socket,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
    ) -> None: ...
    def _stop_serving(self, sock: socket.socket) -> None: ...
