import asyncio
import asyncio.unix_events
import socket
from collections.abc import Coroutine
from typing import Any, TypeVar

from . import _ioready
from ._transport import SocketTransport
from ._uring import UringServing, UringSocketTransport

_T = TypeVar("_T")

Handle = _ioready.Handle
TimerHandle = _ioready.TimerHandle

class EventLoop(_ioready.LoopCore, UringServing, asyncio.unix_events._UnixSelectorEventLoop):  # type: ignore[misc]
    def __init__(self, backend: str | None = None, **_sizes: int) -> None: ...
    def _make_socket_transport(  # type: ignore[override]
        self,
        sock: socket.socket,
        protocol: Any,
        waiter: Any = None,
        *,
        extra: Any = None,
        server: Any = None,
    ) -> SocketTransport | UringSocketTransport: ...

class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> EventLoop: ...

def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T: ...
