"""Loop factories named as "module:callable" (asyncio:new_event_loop,
uvloop:new_event_loop, rloop:new_event_loop, ioready:new_event_loop, ...),
shared by the loop benchmark's servers and micro-benchmarks."""

import importlib


def factory(spec):
    """The callable `spec` names. Raises ValueError on a malformed spec and
    ImportError/AttributeError (with the spec in the message) when the module
    or the callable is missing."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"loop factory {spec!r}: expected module:callable")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"loop factory {spec!r}: {e}") from e
    obj = mod
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as e:
            raise AttributeError(f"loop factory {spec!r}: {e}") from e
    if not callable(obj):
        raise ValueError(f"loop factory {spec!r}: {name} is not callable")
    return obj


def new_loop(spec):
    """A new loop from `spec`, checked to be an asyncio event loop. A spec
    "module:callable@ENGINE" makes the loop with IOREADY_BACKEND=ENGINE set
    in this process (ioready's engines side by side: ioready:new_event_loop@epoll,
    ioready:new_event_loop@uring), as frameworks/run.sh spells it."""
    import asyncio
    import os

    spec, _, engine = spec.partition("@")
    if engine:
        os.environ["IOREADY_BACKEND"] = engine
    loop = factory(spec)()
    if not isinstance(loop, asyncio.AbstractEventLoop):
        raise TypeError(f"loop factory {spec!r} returned {type(loop).__name__}, not an event loop")
    return loop
