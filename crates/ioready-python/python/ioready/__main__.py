"""Run a script or a module with ioready.select installed as ``select``.

    python -m ioready script.py [args...]
    python -m ioready -m module [args...]

The module is installed (``ioready.select.install()``) before the script or
module runs, so ``selectors``, ``subprocess``, ``asyncio`` and
``socketserver`` all use it. Only this interpreter is affected: child
processes start with the standard ``select``.

With ``IOREADY_VERBOSE=1`` in the environment it says so on stderr
(one line) before running; otherwise it prints nothing.
"""

import os
import runpy
import sys

import ioready.select

USAGE = "usage: python -m ioready (script.py | -m module) [args...]"


def main(argv):
    if not argv or argv[0] in ("-h", "--help") or (argv[0] == "-m" and len(argv) < 2):
        print(USAGE, file=sys.stderr)
        return 2
    ioready.select.install()
    if os.environ.get("IOREADY_VERBOSE") == "1":
        import select

        print(f"ioready: select is {select.__name__} ({select.__file__})",
              file=sys.stderr, flush=True)
    if argv[0] == "-m":
        sys.argv = argv[1:]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = argv
        runpy.run_path(argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
