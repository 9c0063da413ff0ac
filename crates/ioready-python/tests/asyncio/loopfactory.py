"""The loop under test, named as "module:callable" (``IOREADY_LOOP`` or an
argument), shared by the CPython-suite runner and the cross-checked tests.

    asyncio:new_event_loop            stock asyncio (the baseline)
    ioready_select:new_event_loop     asyncio's SelectorEventLoop on ioready's epoll
                                      (the package before issue 20's rename;
                                      after it: ioready.select:new_event_loop)
    ioready:new_event_loop            ioready's native loop
    uvloop:new_event_loop             any other loop, e.g. for calibration

``asyncio:new_event_loop`` is special: it asks the current policy for a loop,
and the harness installs a policy whose loops come from the factory, which
would recurse. It is resolved to what the stock default policy builds
(``asyncio.DefaultEventLoopPolicy._loop_factory``, i.e. SelectorEventLoop),
captured before any policy is installed.
"""

import asyncio
import asyncio.events
import importlib
import os

ENV = "IOREADY_LOOP"
DEFAULT = "ioready:new_event_loop"
BASELINE = "asyncio:new_event_loop"

# Captured at import, before install_policy() can replace them.
_STOCK_POLICY = asyncio.DefaultEventLoopPolicy
_STOCK_LOOP_FACTORY = asyncio.DefaultEventLoopPolicy._loop_factory


def spec_from_env(default=DEFAULT):
    return os.environ.get(ENV) or default


def resolve(spec):
    """The callable named by ``spec`` ("module:callable"); a clear error if
    the module or the attribute is missing."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"loop factory {spec!r} is not of the form 'module:callable'")
    module = importlib.import_module(module_name)
    obj = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"loop factory {spec!r} is not callable: {obj!r}")
    if obj is asyncio.events.new_event_loop:
        return _STOCK_LOOP_FACTORY
    return obj


def install_policy(factory):
    """Make ``factory`` the default: asyncio.new_event_loop(), asyncio.run(),
    asyncio.Runner() and IsolatedAsyncioTestCase get its loops.

    The policy is the stock Unix policy (child watchers and all) with its
    loop factory replaced. ``asyncio.DefaultEventLoopPolicy`` is replaced
    too, because test modules reset the policy with
    ``set_event_loop_policy(None)`` and asyncio then builds
    ``asyncio.DefaultEventLoopPolicy()`` again.
    """

    class FactoryEventLoopPolicy(_STOCK_POLICY):
        _loop_factory = staticmethod(factory)

    asyncio.DefaultEventLoopPolicy = FactoryEventLoopPolicy
    asyncio.set_event_loop_policy(None)
    return FactoryEventLoopPolicy
