"""One child of run_cpython_asyncio.py: runs the tests of one
test.test_asyncio module on one loop factory and writes each test's outcome
as a JSON line, flushed, so that a crash or a hang loses nothing but the
test that was running.

    python cpython_child.py --loop SPEC --module test.test_asyncio.test_events \
        --out FILE [--skip FILE] [--only FILE] [--test-timeout SECONDS] [--list]

Events written to --out:
    {"ev": "start", "id": ...}
    {"ev": "end", "id": ..., "outcome": "pass|fail|error|skip|xfail|xpass",
     "why": one line, "tb": traceback, "secs": ..., "loops": factory calls}
    {"ev": "fixture", "id": ..., "outcome": "error", "why": ..., "tb": ...}
      (setUpClass/setUpModule and the like: not a test of its own)

A test that runs past --test-timeout is ended by faulthandler, which dumps
every thread's stack to stderr and exits the process: the parent sees a
"start" without an "end" and the dump.
"""

import argparse
import faulthandler
import json
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import loopfactory  # noqa: E402


def one_line(err, test_file_hint="test_asyncio"):
    """'ExcType: message [at file:line in func]' for the innermost frame in a
    CPython test file (where the test noticed), and the innermost frame
    overall if it is elsewhere (where it went wrong)."""
    etype, value, tb = err
    msg = traceback.format_exception_only(etype, value)[-1].strip()
    msg = msg.splitlines()[0] if msg else etype.__name__
    if len(msg) > 300:
        msg = msg[:297] + "..."
    frames = traceback.extract_tb(tb)
    where = []
    in_test = [f for f in frames if test_file_hint in f.filename]
    if in_test:
        f = in_test[-1]
        where.append(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}")
    if frames and (not in_test or frames[-1] is not in_test[-1]):
        f = frames[-1]
        where.append(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}")
    return f"{msg} [at {'; '.join(where)}]" if where else msg


class JsonResult(unittest.TestResult):
    def __init__(self, out, timeout, counter):
        super().__init__()
        self.out = out
        self.timeout = timeout
        self.counter = counter
        self.current = None

    def emit(self, **event):
        self.out.write(json.dumps(event) + "\n")
        self.out.flush()

    def startTest(self, test):
        super().startTest(test)
        self.current = {"id": test.id(), "outcome": "pass", "why": "", "tb": ""}
        self.t0 = time.monotonic()
        self.loops0 = self.counter[0]
        self.emit(ev="start", id=test.id())
        if self.timeout:
            faulthandler.dump_traceback_later(self.timeout, exit=True)

    def stopTest(self, test):
        if self.timeout:
            faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        cur = self.current
        self.current = None
        if cur is None:
            return
        self.emit(
            ev="end",
            secs=round(time.monotonic() - self.t0, 3),
            loops=self.counter[0] - self.loops0,
            **cur,
        )

    def _set(self, test, outcome, why="", tb=""):
        cur = self.current
        if cur is None or cur["id"] != test.id():
            # setUpClass, setUpModule, tearDownModule...: no startTest.
            self.emit(ev="fixture", id=test.id(), outcome=outcome, why=why, tb=tb)
            return
        # The first failure wins; a later error in tearDown does not hide it.
        if cur["outcome"] in ("pass", "skip"):
            cur.update(outcome=outcome, why=why, tb=tb)

    def _err(self, test, outcome, err):
        self._set(test, outcome, one_line(err), "".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        super().addError(test, err)
        self._err(test, "error", err)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._err(test, "fail", err)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "fail" if issubclass(err[0], test.failureException) else "error"
            self._set(test, outcome, f"{subtest._subDescription()}: {one_line(err)}",
                      "".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skip", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "xfail", one_line(err))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass", "unexpected success")


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


def read_ids(path):
    if not path:
        return None
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loop", required=True)
    ap.add_argument("--module", required=True)
    ap.add_argument("--out")
    ap.add_argument("--skip")
    ap.add_argument("--only")
    ap.add_argument("--test-timeout", type=float, default=0)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--no-policy", action="store_true", help="leave asyncio's default policy alone")
    args = ap.parse_args()

    faulthandler.enable(all_threads=True)
    factory = loopfactory.resolve(args.loop)
    counter = [0]
    loop_types = set()

    def counted_factory(*a, **kw):
        counter[0] += 1
        loop = factory(*a, **kw)
        loop_types.add(f"{type(loop).__module__}.{type(loop).__qualname__}")
        return loop

    if not args.no_policy:
        loopfactory.install_policy(counted_factory)

    import importlib

    import cpython_bindings

    try:
        module = importlib.import_module(args.module)
    except unittest.SkipTest as e:  # test_windows_events and the like
        if args.out:
            with open(args.out, "a") as out:
                out.write(json.dumps({"ev": "fixture", "id": args.module, "outcome": "skip", "why": str(e)}) + "\n")
        return 0
    cpython_bindings.bind(module, counted_factory)
    tests = list(flatten(unittest.TestLoader().loadTestsFromModule(module)))
    if args.list:
        for t in tests:
            print(t.id())
        return 0
    skip = read_ids(args.skip) or set()
    only = read_ids(args.only)
    tests = [t for t in tests if t.id() not in skip and (only is None or t.id() in only)]
    with open(args.out, "a") as out:
        result = JsonResult(out, args.test_timeout, counter)
        unittest.TestSuite(tests).run(result)
        result.emit(ev="loops", types=sorted(loop_types))
    return 0


if __name__ == "__main__":
    sys.exit(main())
