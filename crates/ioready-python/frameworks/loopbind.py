"""A pytest plugin that puts a framework's test suite on a given asyncio loop.

    IOREADY_TEST_LOOP=uvloop:new_event_loop pytest -p loopbind ...

Every suite here gets its loops through `asyncio.new_event_loop()` (uvicorn's
through anyio's runner, aiohttp's through its pytest plugin's default
"pyloop" factory, which is `asyncio.new_event_loop`, websockets' through
unittest's IsolatedAsyncioTestCase and asyncio.run), and that asks the event
loop policy: so an event loop policy whose new_event_loop calls the factory
binds the whole suite. Unset or "asyncio:new_event_loop": stock asyncio (the
policy is left alone). The plugin also records, in the junit XML's
properties, which loop ran, and checks once that the loop it binds is the one
tests get (a suite that bypasses the policy would be compared with itself).
"""

import asyncio
import importlib
import os

import pytest

SPEC = os.environ.get("IOREADY_TEST_LOOP", "asyncio:new_event_loop")


def _factory(spec):
    module, sep, name = spec.partition(":")
    if not sep:
        raise pytest.UsageError(f"IOREADY_TEST_LOOP={spec!r}: expected module:callable")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


class FactoryPolicy(asyncio.DefaultEventLoopPolicy):
    """asyncio's default policy, but new loops come from the factory."""

    def __init__(self, factory):
        super().__init__()
        self._factory = factory

    def new_event_loop(self):
        return self._factory()


def pytest_configure(config):
    if SPEC == "asyncio:new_event_loop":
        return
    factory = _factory(SPEC)
    asyncio.set_event_loop_policy(FactoryPolicy(factory))
    loop = asyncio.new_event_loop()
    try:
        probe = factory()
        try:
            if type(loop) is not type(probe):
                raise pytest.UsageError(f"the policy gave {type(loop)}, the factory {type(probe)}")
        finally:
            probe.close()
    finally:
        loop.close()


def _engine():
    """For an ioready loop, the engine its transports run on (what
    IOREADY_BACKEND or the kernel decided), so a log says what was tested."""
    if not SPEC.startswith("ioready:"):
        return ""
    from ioready import _ioready

    loop = asyncio.new_event_loop()
    try:
        uring = _ioready._uring_active(loop)
    finally:
        loop.close()
    backend = os.environ.get("IOREADY_BACKEND", "(unset)")
    return f", engine {'io_uring' if uring else 'readiness'} (IOREADY_BACKEND={backend})"


def pytest_sessionstart(session):
    # Written even under -q (which hides the report header): the log of a
    # run says which loop, and which engine, it tested.
    policy = type(asyncio.get_event_loop_policy()).__name__
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"loopbind: IOREADY_TEST_LOOP={SPEC} (policy {policy}){_engine()}")
