"""ioready_select: CPython's ``select`` module (Linux) on the ioready Rust library.

Use it directly::

    import ioready_select as select

or make a whole interpreter use it in place of ``select`` (so ``selectors``,
``subprocess``, ``asyncio`` and ``socketserver`` run on it)::

    import ioready_select
    ioready_select.install()      # first thing, before selectors & co. are imported

    python -m ioready_select.run script.py [args...]
    python -m ioready_select.run -m module [args...]

The API is CPython 3.11's ``select`` on Linux: ``select()``, ``poll()``,
``epoll``, ``error`` (which is ``OSError``) and every constant, with the same
arguments, exceptions and messages. One difference on purpose: ``select()``
accepts descriptors numbered 1024 and above (CPython raises ``ValueError``).
"""

import sys as _sys

from ._ioready_select import *  # noqa: F401,F403  (the select API)
from ._ioready_select import __doc__ as _select_doc  # noqa: F401

# The stdlib modules that keep a reference to ``select`` (or to its functions,
# as class attributes) from the moment they are imported.
_BOUND_AT_IMPORT = ("selectors", "subprocess", "asyncio", "socketserver")


def install():
    """Make this module the interpreter's ``select`` module.

    Sets ``sys.modules['select']`` to ``ioready_select``, so every later
    ``import select`` (and ``selectors``, ``subprocess``, ``asyncio``,
    ``socketserver``, which import it) gets this module.

    Raises RuntimeError if one of those stdlib modules was imported already:
    it would keep using the original module, and a half-done switch is worse
    than none. Calling it again is harmless.
    """
    this = _sys.modules[__name__]
    if _sys.modules.get("select") is this:
        return
    late = [name for name in _BOUND_AT_IMPORT if name in _sys.modules]
    if late:
        raise RuntimeError(
            "ioready_select.install() must run before these modules are "
            "imported: " + ", ".join(late)
        )
    _sys.modules["select"] = this


def installed():
    """True if ``select`` (as imported from now on) is this module."""
    return _sys.modules.get("select") is _sys.modules[__name__]
