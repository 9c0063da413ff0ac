"""Run the cross-checked tests of this directory (test_*.py: every test on
the loop under test and on stock asyncio) and compare the twins.

    python run_crosscheck.py [--loop module:callable] [--test-timeout S] [--report DIR]

The factory is --loop, else $IOREADY_LOOP, else ioready:new_event_loop. Each
module runs in a child process (cpython_child.py, with run_cpython_asyncio's
crash and hang isolation). The same tests also run in-process with
`python -m unittest` or `pytest` from this directory.

Every test must pass on both sides: a failure on the stock asyncio side is
a wrong test, and counts as a failure like any other. A factory-side
failure whose asyncio twin passes may be excused in exceptions.txt (same
file and format as for CPython's suite; ids such as
test_callbacks.TestCallSoon_factory.test_handles_are_asyncio_handles). The report lists each
difference (passes on asyncio, not on the factory) with its one-line cause.
The last line is `N passed, M failed`; exit status non-zero if M > 0.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import loopfactory  # noqa: E402
from run_cpython_asyncio import EXCEPTIONS, Runner, excepted, load_exceptions  # noqa: E402

MODULES = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--loop", default=None)
    ap.add_argument("--test-timeout", type=float, default=60.0)
    ap.add_argument("--report")
    ap.add_argument("--modules")
    ap.add_argument("--exceptions", default=EXCEPTIONS)
    args = ap.parse_args()
    spec = args.loop or loopfactory.spec_from_env()
    loopfactory.resolve(spec)
    os.environ[loopfactory.ENV] = spec  # crosscheck.py reads it in the child
    modules = args.modules.split(",") if args.modules else MODULES
    rules = load_exceptions(args.exceptions, spec)
    workdir = args.report or tempfile.mkdtemp(prefix="crosscheck-")
    os.makedirs(workdir, exist_ok=True)
    runner = Runner(sys.executable, workdir, args.test_timeout, package=None, child_args=["--no-policy"])
    loop = loopfactory.resolve(spec)()
    loop_type = f"{type(loop).__module__}.{type(loop).__qualname__}"
    loop.close()
    print(f"factory: {spec} (makes {loop_type}); python: {sys.executable}; logs in {workdir}", flush=True)

    t0 = time.monotonic()
    records = {}
    fixtures = []
    for module in modules:
        recs, fx, secs = runner.run_module("own", spec, module)
        records.update(recs)
        fixtures += fx
        print(f"  {module:18} {len(recs):4} tests {secs:6.1f}s", flush=True)

    # Pair the twins: module.TestX_factory.test_y <-> module.TestX_asyncio.test_y
    pairs = {}
    for tid, rec in records.items():
        mod, cls, meth = tid.rsplit(".", 2)
        base, _, side = cls.rpartition("_")
        if side not in ("factory", "asyncio"):
            base, side = cls, "single"
        pairs.setdefault((mod, base, meth), {})[side] = rec

    print()
    print(f"{'behaviour class':34} {'tests':>5} | {'asyncio pass':>12} | {'factory pass':>12} | {'diff':>4}")
    by_class = {}
    for (mod, base, meth), sides in sorted(pairs.items()):
        row = by_class.setdefault(f"{mod}.{base}", [0, 0, 0, 0])
        row[0] += 1
        a = sides.get("asyncio", {}).get("outcome")
        f = sides.get("factory", {}).get("outcome")
        row[1] += a == "pass"
        row[2] += f == "pass"
        row[3] += a == "pass" and f != "pass"
    tot = [0, 0, 0, 0]
    for name, row in by_class.items():
        print(f"{name:34} {row[0]:5} | {row[1]:12} | {row[2]:12} | {row[3]:4}")
        tot = [x + y for x, y in zip(tot, row)]
    print(f"{'total':34} {tot[0]:5} | {tot[1]:12} | {tot[2]:12} | {tot[3]:4}   ({time.monotonic() - t0:.0f}s)")

    passed = failed = 0
    lines = []
    for (mod, base, meth), sides in sorted(pairs.items()):
        for side, rec in sorted(sides.items()):
            if rec["outcome"] == "pass":
                passed += 1
            elif rec["outcome"] == "skip":
                lines.append(f"skipped [{side}]: {rec['id']}: {rec['why']}")
            else:
                failed += 1
                a_ok = sides.get("asyncio", {}).get("outcome") == "pass"
                hit = excepted(rules, rec["id"]) if side == "factory" and a_ok else None
                if hit:
                    failed -= 1
                    lines.append(f"known difference [{side}]: {rec['id']}: {hit[1]} (saw: {rec['why']})")
                    continue
                kind = "DIFFERENCE" if side == "factory" and a_ok else "FAILED"
                lines.append(f"{kind} [{side}]: {rec['id']}: {rec['outcome']}: {rec['why']}")
    for fx in fixtures:
        if fx["outcome"] == "note":
            lines.append(f"note: {fx['id']}: {fx['why']}")
        elif fx["outcome"] != "skip":
            failed += 1
            lines.append(f"FAILED fixture: {fx['id']}: {fx['why']}")
    for pattern in sorted(rules):
        if pattern.split(".")[0] not in modules or any(
            excepted({pattern: ""}, rec["id"]) and rec["outcome"] != "pass"
            for sides in pairs.values() for rec in sides.values()
        ):
            continue  # CPython's suite's, a module not run, or still needed
        lines.append(f"exception no longer needed (matches no failing test): {pattern}")
    for line in lines:
        print(line)
    if not args.report and not failed:
        shutil.rmtree(workdir, ignore_errors=True)  # kept when something failed: the logs are there
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
