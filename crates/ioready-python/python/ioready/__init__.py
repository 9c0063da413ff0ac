"""ioready: an asyncio event loop native in Rust, and CPython's ``select``
module (Linux), on the ioready library.

The loop, as with uvloop (nothing global changes)::

    import ioready
    ioready.run(main())                                            # as asyncio.run
    asyncio.run(main(), loop_factory=ioready.new_event_loop)        # 3.12+
    with asyncio.Runner(loop_factory=ioready.new_event_loop) as r:  # 3.11+
        r.run(main())

``ioready.EventLoop`` is a complete ``asyncio.AbstractEventLoop``;
``ioready.EventLoopPolicy`` serves code that still sets a policy.

The drop-in ``select`` module is ``ioready.select`` (``install()`` makes it
the interpreter's ``select``; ``python -m ioready script.py`` runs a script
with it installed; ``ioready.select.new_event_loop()`` is asyncio's own
selector loop over it).

Importing this package imports neither asyncio nor ``select``: the loop is
loaded on first use, so ``ioready.select.install()`` can still come first.
"""

__all__ = ["EventLoop", "EventLoopPolicy", "new_event_loop", "new_uring_event_loop", "run", "select"]


def new_event_loop(backend=None):
    """A new ``ioready.EventLoop`` (for ``loop_factory=``, as
    ``uvloop.new_event_loop``). Changes nothing global. ``backend``:
    ``"uring"`` for the io_uring engine of the transports, ``"epoll"``
    (``"poll"``, ``"select"``) for the readiness one (see ``EventLoop``);
    default ``IOREADY_BACKEND``, else io_uring where the kernel allows it."""
    from ._loop import EventLoop

    return EventLoop(backend=backend)


def new_uring_event_loop():
    """``new_event_loop(backend="uring")``, as a factory with no argument
    (``IOREADY_LOOP=ioready:new_uring_event_loop``)."""
    return new_event_loop(backend="uring")


def run(main, *, debug=None):
    """Run coroutine ``main`` on a new ``ioready.EventLoop`` as
    ``asyncio.run(main, debug=debug)`` does (the loop is set as current while
    it runs; remaining tasks are cancelled, async generators and the default
    executor shut down, the loop closed) and return its result.

    Raises ``RuntimeError`` if called while an event loop is running in this
    thread; ``ValueError`` if ``main`` is not a coroutine (3.9-3.11, as
    ``asyncio.Runner``).
    """
    from ._loop import run as _run

    return _run(main, debug=debug)


def __getattr__(name):
    if name in ("EventLoop", "EventLoopPolicy"):
        from . import _loop

        return getattr(_loop, name)
    if name == "select":
        import importlib

        return importlib.import_module(".select", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
