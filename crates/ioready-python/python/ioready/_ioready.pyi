# Types of the extension module ioready._ioready: CPython's `select` on Linux
# (as typeshed's select.pyi for Linux), checked against the runtime by stubtest.
from _typeshed import FileDescriptorLike
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Final, final

from typing_extensions import Self

__all__ = [
    "select", "poll", "epoll", "error", "PIPE_BUF",
    "POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDNORM",
    "POLLRDBAND", "POLLWRNORM", "POLLWRBAND", "POLLMSG", "POLLRDHUP",
    "EPOLLIN", "EPOLLOUT", "EPOLLPRI", "EPOLLERR", "EPOLLHUP", "EPOLLET", "EPOLLONESHOT",
    "EPOLLEXCLUSIVE", "EPOLLRDHUP", "EPOLLRDNORM", "EPOLLRDBAND", "EPOLLWRNORM",
    "EPOLLWRBAND", "EPOLLMSG", "EPOLL_CLOEXEC",
]

PIPE_BUF: Final[int]
POLLERR: Final[int]
POLLHUP: Final[int]
POLLIN: Final[int]
POLLMSG: Final[int]
POLLNVAL: Final[int]
POLLOUT: Final[int]
POLLPRI: Final[int]
POLLRDBAND: Final[int]
POLLRDHUP: Final[int]
POLLRDNORM: Final[int]
POLLWRBAND: Final[int]
POLLWRNORM: Final[int]

EPOLLERR: Final[int]
EPOLLEXCLUSIVE: Final[int]
EPOLLET: Final[int]
EPOLLHUP: Final[int]
EPOLLIN: Final[int]
EPOLLMSG: Final[int]
EPOLLONESHOT: Final[int]
EPOLLOUT: Final[int]
EPOLLPRI: Final[int]
EPOLLRDBAND: Final[int]
EPOLLRDHUP: Final[int]
EPOLLRDNORM: Final[int]
EPOLLWRBAND: Final[int]
EPOLLWRNORM: Final[int]
EPOLL_CLOEXEC: Final[int]

error = OSError

def select(
    rlist: Iterable[Any],
    wlist: Iterable[Any],
    xlist: Iterable[Any],
    timeout: float | None = None,
    /,
) -> tuple[list[Any], list[Any], list[Any]]: ...

# The type of poll() objects; at run time it is not a module attribute and
# calls itself `select.poll`, as CPython's.
@final
class _Poll:
    def register(self, fd: FileDescriptorLike, eventmask: int = 7, /) -> None: ...
    def modify(self, fd: FileDescriptorLike, eventmask: int, /) -> None: ...
    def unregister(self, fd: FileDescriptorLike, /) -> None: ...
    def poll(self, timeout: float | None = None, /) -> list[tuple[int, int]]: ...

def poll() -> _Poll: ...
@final
class epoll:
    def __new__(cls, sizehint: int = -1, flags: int = 0) -> Self: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        exc_tb: TracebackType | None = None,
        /,
    ) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def fileno(self) -> int: ...
    def register(self, fd: FileDescriptorLike, eventmask: int = ...) -> None: ...
    def modify(self, fd: FileDescriptorLike, eventmask: int) -> None: ...
    def unregister(self, fd: FileDescriptorLike) -> None: ...
    def poll(self, timeout: float | None = None, maxevents: int = -1) -> list[tuple[int, int]]: ...
    @classmethod
    def fromfd(cls, fd: int, /) -> epoll: ...
