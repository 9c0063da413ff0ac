import asyncio
import asyncio.unix_events
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")

class EventLoop(asyncio.unix_events._UnixSelectorEventLoop):
    def __init__(self) -> None: ...

class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> EventLoop: ...

def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T: ...
