# Types of the package ioready. Checked against the runtime by mypy's stubtest.
import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from . import select as select
from ._loop import EventLoop as EventLoop, EventLoopPolicy as EventLoopPolicy

__all__ = ["EventLoop", "EventLoopPolicy", "new_event_loop", "new_uring_event_loop", "run", "select"]

_T = TypeVar("_T")

def new_event_loop(backend: str | None = None) -> EventLoop: ...
def new_uring_event_loop() -> EventLoop: ...
def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T: ...
def __getattr__(name: str) -> Any: ...
def __dir__() -> list[str]: ...
