"""Bind the loop-parametrised parts of CPython's test_asyncio to a loop
factory.

CPython binds each mixin to its own loops with small classes
(``EPollEventLoopTests``: ``create_event_loop`` returns
``asyncio.SelectorEventLoop(selectors.EpollSelector())``, and so on). For
each such module, :func:`bind` removes those classes (they would test stock
asyncio whatever the factory is) and adds one class, named ``Factory...``,
whose loops come from the factory. The new classes are placed in the
CPython module with its name as ``__module__``, so test ids read
``test.test_asyncio.test_events.FactoryEventLoopTests.test_create_connection``
on every side of a comparison.

The rest of test_asyncio gets the factory through the default policy
(loopfactory.install_policy): test_streams, test_ssl, test_subprocess's
watcher tests, test_tasks' asyncio.run() and IsolatedAsyncioTestCase
classes ask asyncio.new_event_loop() for their loops.
"""

import asyncio
import types
from unittest import mock


def _add(module, name, bases, attrs):
    cls = type(name, bases, attrs)
    cls.__module__ = module.__name__
    cls.__qualname__ = name
    setattr(module, name, cls)
    return cls


def _drop(module, *names):
    for name in names:
        if hasattr(module, name):
            delattr(module, name)


def _create_event_loop(factory):
    return {"create_event_loop": lambda self: factory()}


def _new_loop(factory):
    return {"new_loop": lambda self: factory()}


class _AsyncioSeenByTest(types.ModuleType):
    """asyncio as a test module sees it during setUp: SelectorEventLoop is
    the factory, everything else is asyncio's. (Patching asyncio itself
    would also reach a factory that builds a SelectorEventLoop.)"""

    def __init__(self, factory):
        super().__init__("asyncio")
        self.SelectorEventLoop = factory

    def __getattr__(self, name):
        return getattr(asyncio, name)


def _setup_with_selector_loop_as(factory, base, module):
    """A setUp that runs ``base.setUp`` with the test module's
    ``asyncio.SelectorEventLoop`` replaced by the factory: for classes that
    build their loop as ``asyncio.SelectorEventLoop()`` in setUp."""
    seen = _AsyncioSeenByTest(factory)

    def setUp(self):
        with mock.patch.object(module, "asyncio", seen):
            base.setUp(self)

    return {"setUp": setUp}


# Stock-loop classes of the bound modules, replaced by the Factory classes.
_SELECTOR_VARIANTS = (
    "SelectEventLoopTests",
    "EPollEventLoopTests",
    "PollEventLoopTests",
    "KqueueEventLoopTests",
    "ProactorEventLoopTests",
)


def bind(module, factory):
    """Rebind ``module`` (a test.test_asyncio module, imported) to
    ``factory``; returns the names of the classes added."""
    name = module.__name__.rpartition(".")[2]
    added = []
    if name == "test_events":
        from test.test_asyncio import utils as test_utils

        _drop(module, *_SELECTOR_VARIANTS)
        added.append(
            _add(
                module,
                "FactoryEventLoopTests",
                (module.UnixEventLoopTestsMixin, module.SubprocessTestsMixin, test_utils.TestCase),
                _create_event_loop(factory),
            )
        )
    elif name == "test_sock_lowlevel":
        from test.test_asyncio import utils as test_utils

        _drop(module, *_SELECTOR_VARIANTS)
        added.append(
            _add(
                module,
                "FactoryEventLoopTests",
                (module.BaseSockTestsMixin, test_utils.TestCase),
                _create_event_loop(factory),
            )
        )
    elif name == "test_sendfile":
        from test.test_asyncio import utils as test_utils

        _drop(module, *_SELECTOR_VARIANTS)
        added.append(
            _add(
                module,
                "FactoryEventLoopTests",
                (module.SendfileTestsBase, test_utils.TestCase),
                _create_event_loop(factory),
            )
        )
    elif name == "test_server":
        # SelectorStartServerTests adds the Unix-socket server tests to
        # BaseStartServer: kept, with the factory's loop.
        base = module.SelectorStartServerTests
        _drop(module, "SelectorStartServerTests", "ProactorStartServerTests")
        added.append(_add(module, "FactoryStartServerTests", (base,), _new_loop(factory)))
    elif name == "test_buffered_proto":
        base = module.BufferedProtocolSelectorTests
        _drop(module, "BufferedProtocolSelectorTests", "BufferedProtocolProactorTests")
        added.append(_add(module, "FactoryBufferedProtocolTests", (base,), _new_loop(factory)))
    elif name == "test_sslproto":
        base = module.SelectorStartTLSTests
        _drop(module, "SelectorStartTLSTests", "ProactorStartTLSTests")
        added.append(_add(module, "FactoryStartTLSTests", (base,), _new_loop(factory)))
    elif name == "test_unix_events":
        # These two build `asyncio.SelectorEventLoop()` in setUp. The signal
        # tests mock asyncio.unix_events.signal and read the loop's
        # _signal_handlers: they test the selector loop's own code, and a
        # loop that is not a SelectorEventLoop is expected to need them in
        # the exceptions file; they are bound so that the exceptions are
        # visible, not hidden.
        for old, new in (
            ("SelectorEventLoopSignalTests", "FactorySignalTests"),
            ("SelectorEventLoopUnixSocketTests", "FactoryUnixSocketTests"),
        ):
            base = getattr(module, old)
            _drop(module, old)
            added.append(_add(module, new, (base,), _setup_with_selector_loop_as(factory, base, module)))
        # SelectorEventLoopUnixSockSendfileTests and TestFunctional use
        # asyncio.new_event_loop(): the policy gives them the factory's loop.
    elif name == "test_base_events":
        # create_connection/create_server/create_datagram_endpoint and
        # getnameinfo on a real loop, many with asyncio.base_events.socket
        # mocked: the argument checks are public behaviour; the tests that
        # depend on the mocks reaching the loop's code are expected in the
        # exceptions file for a loop with other code.
        base = module.BaseEventLoopWithSelectorTests
        _drop(module, "BaseEventLoopWithSelectorTests")
        added.append(_add(module, "FactoryBaseEventLoopWithSelectorTests", (base,),
                          _setup_with_selector_loop_as(factory, base, module)))
    return [cls.__name__ for cls in added]
