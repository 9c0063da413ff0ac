"""ioready.EventLoop and its companions (the Python half of the loop)."""

import asyncio
import asyncio.unix_events

from . import select as _select
from ._runner import run_on


class EventLoop(asyncio.unix_events._UnixSelectorEventLoop):
    """The ioready event loop (stage 1: asyncio's selector loop on
    ioready.select's epoll; the native core replaces this)."""

    def __init__(self):
        super().__init__(_select._selector())


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose ``new_event_loop()`` is an
    ``ioready.EventLoop``, for code that still sets policies."""

    def new_event_loop(self):
        return EventLoop()


def run(main, *, debug=None):
    """``ioready.run``: see the package."""
    return run_on(EventLoop, main, debug, "ioready.run()")
