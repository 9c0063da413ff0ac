import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")

def run_on(
    factory: Callable[[], asyncio.AbstractEventLoop],
    main: Coroutine[Any, Any, _T],
    debug: bool | None,
    name: str,
) -> _T: ...
def run_without_runner(
    factory: Callable[[], asyncio.AbstractEventLoop],
    main: Coroutine[Any, Any, _T],
    debug: bool | None,
    name: str,
) -> _T: ...
