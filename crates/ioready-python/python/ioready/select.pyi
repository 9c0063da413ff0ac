# Types of ioready.select: the select API (from the extension module) and the
# functions of select.py. Checked against the runtime by mypy's stubtest.
import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._ioready import (
    EPOLL_CLOEXEC as EPOLL_CLOEXEC,
    EPOLLERR as EPOLLERR,
    EPOLLET as EPOLLET,
    EPOLLEXCLUSIVE as EPOLLEXCLUSIVE,
    EPOLLHUP as EPOLLHUP,
    EPOLLIN as EPOLLIN,
    EPOLLMSG as EPOLLMSG,
    EPOLLONESHOT as EPOLLONESHOT,
    EPOLLOUT as EPOLLOUT,
    EPOLLPRI as EPOLLPRI,
    EPOLLRDBAND as EPOLLRDBAND,
    EPOLLRDHUP as EPOLLRDHUP,
    EPOLLRDNORM as EPOLLRDNORM,
    EPOLLWRBAND as EPOLLWRBAND,
    EPOLLWRNORM as EPOLLWRNORM,
    PIPE_BUF as PIPE_BUF,
    POLLERR as POLLERR,
    POLLHUP as POLLHUP,
    POLLIN as POLLIN,
    POLLMSG as POLLMSG,
    POLLNVAL as POLLNVAL,
    POLLOUT as POLLOUT,
    POLLPRI as POLLPRI,
    POLLRDBAND as POLLRDBAND,
    POLLRDHUP as POLLRDHUP,
    POLLRDNORM as POLLRDNORM,
    POLLWRBAND as POLLWRBAND,
    POLLWRNORM as POLLWRNORM,
    epoll as epoll,
    error as error,
    poll as poll,
    select as select,
)

_T = TypeVar("_T")

def install() -> None: ...
def installed() -> bool: ...
def new_event_loop() -> asyncio.AbstractEventLoop: ...
def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T: ...
