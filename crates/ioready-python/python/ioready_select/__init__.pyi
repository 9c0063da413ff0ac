# Types of the package: the select API (from the extension module) and the
# functions of __init__.py. Checked against the runtime by mypy's stubtest.
import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._ioready_select import *

_T = TypeVar("_T")

def install() -> None: ...
def installed() -> bool: ...
def new_event_loop() -> asyncio.AbstractEventLoop: ...
def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T: ...
