"""ioready_select: CPython's ``select`` module (Linux) on the ioready Rust library.

Use it directly::

    import ioready_select as select

run asyncio on it, as with uvloop (no global change, no import-order rule)::

    ioready_select.run(main())
    asyncio.run(main(), loop_factory=ioready_select.new_event_loop)   # 3.12+
    with asyncio.Runner(loop_factory=ioready_select.new_event_loop) as r: ...

or make the whole interpreter use it in place of ``select`` (``selectors``,
``subprocess``, ``asyncio``, ``socketserver``, ...), at any point::

    import ioready_select
    ioready_select.install()

    python -m ioready_select script.py [args...]
    python -m ioready_select -m module [args...]

The API is CPython 3.11's ``select`` on Linux: ``select()``, ``poll()``,
``epoll``, ``error`` (which is ``OSError``) and every constant, with the same
arguments, exceptions and messages. One difference on purpose: ``select()``
accepts descriptors numbered 1024 and above (CPython raises ``ValueError``).
"""

import sys as _sys

from ._ioready_select import *  # noqa: F401,F403  (the select API)
from ._ioready_select import __doc__ as _select_doc  # noqa: F401
from ._ioready_select import epoll as _epoll

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
    before importing them, or start with ``python -m ioready_select``).
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
            """selectors.EpollSelector on ioready_select.epoll."""

            _selector_cls = _epoll

        _selector_class = EpollSelector
    return _selector_class()


def new_event_loop():
    """A new asyncio event loop (``asyncio.SelectorEventLoop``) whose
    selector is an ``EpollSelector`` on this module's ``epoll``.

    For ``asyncio.Runner(loop_factory=ioready_select.new_event_loop)`` and
    ``asyncio.run(main, loop_factory=ioready_select.new_event_loop)``
    (3.12+), as ``uvloop.new_event_loop``. It changes nothing global: no
    policy, no ``sys.modules`` entry.
    """
    import asyncio

    return asyncio.SelectorEventLoop(_selector())


def run(main, *, debug=None):
    """Run coroutine ``main`` to completion on a new event loop of
    :func:`new_event_loop`, as ``asyncio.run(main)`` does on the default
    loop (the loop is set as current while it runs, remaining tasks are
    cancelled, async generators and the default executor shut down, the loop
    closed) and return its result.

    Raises ``RuntimeError`` if called while an event loop is running in this
    thread; ``main`` is checked as ``asyncio.Runner.run`` checks it
    (``ValueError`` for anything but a coroutine on 3.9-3.11).
    """
    import asyncio
    import sys

    _no_running_loop()
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=new_event_loop) as runner:
            return runner.run(main)
    return _run_without_runner(main, debug)


def _run_without_runner(main, debug):
    """`run` for 3.9 and 3.10 (no asyncio.Runner): asyncio.run's steps, on
    our loop. Only public asyncio API, so it is tested on 3.11 as well."""
    import asyncio

    _no_running_loop()
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_remaining_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _no_running_loop():
    """RuntimeError if an event loop runs in this thread (checked first, as
    asyncio.run does: a Runner's clean-up would hide it otherwise)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError("ioready_select.run() cannot be called from a running event loop")


def _cancel_remaining_tasks(loop):
    """Cancel the tasks `main` left on `loop`, let them finish, and report
    the exceptions they end with (other than the cancellation) to the loop's
    exception handler, as asyncio.run does."""
    import asyncio

    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not pending:
        return
    for task in pending:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    for task in pending:
        if task.cancelled() or task.exception() is None:
            continue
        loop.call_exception_handler({
            "message": "unhandled exception during ioready_select.run() shutdown",
            "exception": task.exception(),
            "task": task,
        })
