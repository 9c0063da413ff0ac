"""ioready.select: CPython's ``select`` module (Linux) on the ioready Rust library.

Use it directly::

    from ioready import select

make the whole interpreter use it in place of ``select`` (``selectors``,
``subprocess``, ``asyncio``, ``socketserver``, ...), at any point::

    import ioready.select
    ioready.select.install()

    python -m ioready script.py [args...]
    python -m ioready -m module [args...]

or run asyncio's own selector event loop on it (``new_event_loop()``,
``run()``); ioready's native loop is ``ioready.new_event_loop()``.

The API is CPython 3.11's ``select`` on Linux: ``select()``, ``poll()``,
``epoll``, ``error`` (which is ``OSError``) and every constant, with the same
arguments, exceptions and messages. One difference on purpose: ``select()``
accepts descriptors numbered 1024 and above (CPython raises ``ValueError``).
"""

import sys as _sys

from ._ioready import (  # noqa: F401  (the select API)
    EPOLL_CLOEXEC,
    EPOLLERR,
    EPOLLET,
    EPOLLEXCLUSIVE,
    EPOLLHUP,
    EPOLLIN,
    EPOLLMSG,
    EPOLLONESHOT,
    EPOLLOUT,
    EPOLLPRI,
    EPOLLRDBAND,
    EPOLLRDHUP,
    EPOLLRDNORM,
    EPOLLWRBAND,
    EPOLLWRNORM,
    PIPE_BUF,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLMSG,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDBAND,
    POLLRDHUP,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    epoll,
    error,
    poll,
    select,
)

_epoll = epoll

# Top-level names of the standard library, where install() rebinds what was
# bound from `select` at import. 3.9 has no sys.stdlib_module_names: these
# are its modules that import `select` (directly or through selectors).
_STDLIB = getattr(
    _sys,
    "stdlib_module_names",
    frozenset(
        {"asyncio", "asyncore", "http", "multiprocessing", "pty", "pydoc",
         "selectors", "socketserver", "subprocess", "telnetlib"}
    ),
)


def install():
    """Make this module the interpreter's ``select`` module, at any point.

    Sets ``sys.modules['select']``, so every later ``import select`` gets
    this module; then, in the standard-library modules already imported,
    rebinds what they bound from the previous ``select`` at import: module
    globals (``selectors.select``, ``subprocess.select``, ``pty.select``,
    ...) and class attributes (``selectors.SelectSelector._select``,
    ``PollSelector._selector_cls``, ``EpollSelector._selector_cls``, through
    which ``socketserver``, ``subprocess`` and every new asyncio event loop
    get their selector). So it works under pytest or IPython, after asyncio
    and the rest were imported.

    What it does not change: objects made before the call (an event loop or
    a selector that exists keeps the module it was made with), and modules
    outside the standard library that imported ``select`` earlier (install
    before importing them, or start with ``python -m ioready``).
    Child processes are not affected. Calling it again is harmless.
    """
    this = _sys.modules[__name__]
    old = _sys.modules.get("select")
    _sys.modules["select"] = this
    if old is None or old is this:
        return
    _rebind(old, this)


def _rebind(old, new):
    """In the imported standard-library modules, what refers to `old` (the
    module, or one of its functions or types) is pointed at `new`'s."""
    swap = {id(old): (old, new)}
    for name in dir(old):
        obj = getattr(old, name)
        if name.startswith("_") or not callable(obj) or not hasattr(new, name):
            continue
        if getattr(new, name) is not obj:  # `error` is OSError in both
            swap[id(obj)] = (obj, getattr(new, name))

    def replacement(value):
        hit = swap.get(id(value))
        return hit[1] if hit is not None and hit[0] is value else None

    for modname, module in list(_sys.modules.items()):
        if module is None or module is old or module is new:
            continue
        if modname.partition(".")[0] not in _STDLIB:
            continue
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        for key, value in list(namespace.items()):
            repl = replacement(value)
            if repl is not None:
                namespace[key] = repl
            elif isinstance(value, type) and value.__module__ == modname:
                for attr, inner in list(vars(value).items()):
                    repl = replacement(inner)
                    if repl is not None:
                        setattr(value, attr, repl)


def installed():
    """True if ``select`` (as imported from now on) is this module."""
    return _sys.modules.get("select") is _sys.modules[__name__]


_selector_class = None


def _selector():
    """A new ``selectors.EpollSelector`` on this module's ``epoll``, whatever
    ``select`` is (nothing global is changed)."""
    global _selector_class
    if _selector_class is None:
        import selectors

        class EpollSelector(selectors.EpollSelector):
            """selectors.EpollSelector on ioready.select.epoll."""

            _selector_cls = _epoll

        _selector_class = EpollSelector
    return _selector_class()


def new_event_loop():
    """A new asyncio event loop (``asyncio.SelectorEventLoop``) whose
    selector is an ``EpollSelector`` on this module's ``epoll``.

    For ``asyncio.Runner(loop_factory=ioready.select.new_event_loop)`` and
    ``asyncio.run(main, loop_factory=ioready.select.new_event_loop)``
    (3.12+), as ``uvloop.new_event_loop``. It changes nothing global: no
    policy, no ``sys.modules`` entry.
    """
    import asyncio

    return asyncio.SelectorEventLoop(_selector())


def run(main, *, debug=None):
    """Run coroutine ``main`` to completion on a new event loop of
    :func:`new_event_loop` (asyncio's own selector loop over this module), as
    ``asyncio.run(main)`` does on the default loop (the loop is set as
    current while it runs, remaining tasks are cancelled, async generators
    and the default executor shut down, the loop closed) and return its
    result.

    Raises ``RuntimeError`` if called while an event loop is running in this
    thread; ``main`` is checked as ``asyncio.Runner.run`` checks it
    (``ValueError`` for anything but a coroutine on 3.9-3.11).
    """
    from ._runner import run_on

    return run_on(new_event_loop, main, debug, "ioready.select.run()")
