"""``asyncio.run`` on a given loop factory: ``ioready.run`` (the native
loop) and ``ioready.select.run`` (asyncio's selector loop over
``ioready.select``) share it."""

import asyncio
import sys


def run_on(factory, main, debug, name):
    """Run coroutine ``main`` on ``factory()`` as ``asyncio.run`` does and
    return its result; ``name`` names the caller in messages.

    Raises ``RuntimeError`` if an event loop runs in this thread already.
    """
    _no_running_loop(name)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
            return runner.run(main)
    return run_without_runner(factory, main, debug, name)


def run_without_runner(factory, main, debug, name):
    """`run_on` for 3.9 and 3.10 (no asyncio.Runner): asyncio.run's steps,
    on a loop of `factory`. Only public asyncio API, so it is tested on 3.11
    as well."""
    _no_running_loop(name)
    if not asyncio.iscoroutine(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")
    loop = factory()
    try:
        asyncio.set_event_loop(loop)
        if debug is not None:
            loop.set_debug(debug)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_remaining_tasks(loop, name)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _no_running_loop(name):
    """RuntimeError if an event loop runs in this thread (checked first, as
    asyncio.run does: a Runner's clean-up would hide it otherwise)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"{name} cannot be called from a running event loop")


def _cancel_remaining_tasks(loop, name):
    """Cancel the tasks `main` left on `loop`, let them finish, and report
    the exceptions they end with (other than the cancellation) to the loop's
    exception handler, as asyncio.run does."""
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
            "message": f"unhandled exception during {name} shutdown",
            "exception": task.exception(),
            "task": task,
        })
