"""Cross-checked tests (uvloop's idea): every behaviour is written once, as
a mixin, and @crosscheck makes two unittest classes of it, one on the loop
under test and one on stock asyncio, so a difference shows as one test
passing and its twin failing.

    @crosscheck
    class CallSoon:
        def test_order(self):
            ...uses self.loop...

gives TestCallSoon_factory (loops from $IOREADY_LOOP, default
ioready:new_event_loop) and TestCallSoon_asyncio (asyncio's stock
SelectorEventLoop). Both run under unittest and pytest.

Every test gets a fresh loop, closed in tearDown, and checks that closing it
left no descriptor open that the test did not open (/proc/self/fd); one
loop is made and closed per class first, so that a descriptor a factory
opens once per process is not counted against every test.
"""

import asyncio
import gc
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loopfactory  # noqa: E402

SPEC = loopfactory.spec_from_env()
_factory = None


def factory():
    global _factory
    if _factory is None:
        _factory = loopfactory.resolve(SPEC)
    return _factory


def open_fds():
    return set(os.listdir("/proc/self/fd"))


class LoopTestCase(unittest.TestCase):
    side = None  # "factory" or "asyncio"
    TIMEOUT = 15.0

    def new_loop(self):
        if self.side == "asyncio":
            return asyncio.SelectorEventLoop()
        return factory()()

    @classmethod
    def setUpClass(cls):
        # One loop made and closed before any descriptor is counted: a
        # factory may open a descriptor once per process (uvloop keeps a
        # pipe for its signal wake-up); what the tests check is that each
        # loop gives back what it opened.
        super().setUpClass()
        cls.new_loop(cls).close()

    def setUp(self):
        gc.collect()
        self.fds_before = open_fds()
        self.loop = self.new_loop()
        asyncio.set_event_loop(None)
        self.addCleanup(self._close_and_check_fds)

    def _close_and_check_fds(self):
        loop = self.loop
        if not loop.is_closed():
            if not loop.is_running():
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
        asyncio.set_event_loop(None)
        self.loop = None
        del loop
        gc.collect()
        leaked = open_fds() - self.fds_before
        # A descriptor listed a moment ago may be one os.listdir itself
        # opened: check the survivors still exist.
        leaked = {fd for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
        if leaked:
            targets = sorted(f"{fd}->{os.readlink(f'/proc/self/fd/{fd}')}" for fd in leaked
                             if os.path.exists(f"/proc/self/fd/{fd}"))
            self.fail(f"descriptors left open after the loop was closed: {targets}")

    def run_loop(self, coro, timeout=None):
        """Run a coroutine on self.loop, bounded in time."""
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout or self.TIMEOUT))

    def assertSameError(self, exc_type, regex=None):
        """assertRaises(+Regex); the message regex is what asyncio's own
        message says, so a different message is a difference."""
        if regex is None:
            return self.assertRaises(exc_type)
        return self.assertRaisesRegex(exc_type, regex)


def crosscheck(mixin):
    """Class decorator: adds Test<Name>_factory and Test<Name>_asyncio to the
    mixin's module; returns the mixin unchanged."""
    module = sys.modules[mixin.__module__]
    for side in ("factory", "asyncio"):
        name = f"Test{mixin.__name__}_{side}"
        cls = type(name, (mixin, LoopTestCase), {"side": side, "__module__": mixin.__module__})
        cls.__qualname__ = name
        setattr(module, name, cls)
    return mixin
