"""Run CPython's own select tests on ioready.select.

    python tests/run_cpython_tests.py            # ioready.select injected as `select`
    python tests/run_cpython_tests.py --stock    # the interpreter's own module (baseline)

The suites are the ones installed with the interpreter, in its `test`
package: test_select, test_poll, test_epoll and test_selectors. They run
under unittest directly (not regrtest), so every resource they ask for is
enabled: test_poll2 ('walltime') and test_above_fd_setsize ('cpu') run too.

`ioready.select.install()` runs before anything imports `select`; the script
then checks that the injection took everywhere it matters (the test modules,
selectors' class attributes, subprocess, asyncio, socketserver) and refuses
to report a count otherwise.

Differences on purpose: select() accepts descriptors >= 1024 where CPython
raises ValueError. None of these four suites asserts that ValueError
(test_select has no such case; selectors' test_above_fd_setsize runs only for
the poll and epoll selectors), so no test is expected to fail; the list below
is where such a test would be named, with its reason.

The last line of output is `N passed, M failed` (M counts failures, errors
and unexpected successes); the exit status is non-zero if any test failed
unexpectedly or the injection did not take.
"""

import sys

STOCK = "--stock" in sys.argv[1:]

if not STOCK:
    if "select" in sys.modules:
        sys.exit("run_cpython_tests: `select` was imported before the injection")
    import ioready.select

    ioready.select.install()

import asyncio.selector_events  # noqa: E402
import select  # noqa: E402
import selectors  # noqa: E402
import socketserver  # noqa: E402
import subprocess  # noqa: E402
import unittest  # noqa: E402

SUITES = ["test.test_select", "test.test_poll", "test.test_epoll", "test.test_selectors"]

# Test id -> why it fails on purpose. Empty: see the module docstring.
KNOWN_DIFFERENCES = {}


def injection_problems(test_modules):
    """Every place where the stdlib or a suite would still use another module."""
    if STOCK:
        return []
    expected = ioready.select
    checks = {
        "sys.modules['select']": sys.modules.get("select"),
        "import select": select,
        "selectors.select": selectors.select,
        "subprocess.select": getattr(subprocess, "select", expected),
    }
    for mod in test_modules:
        checks[f"{mod.__name__}.select"] = getattr(mod, "select", expected)
    problems = [f"{where} is {obj!r}" for where, obj in checks.items() if obj is not expected]
    attrs = {
        "selectors.SelectSelector._select": (selectors.SelectSelector._select, expected.select),
        "selectors.PollSelector._selector_cls": (selectors.PollSelector._selector_cls, expected.poll),
        "selectors.EpollSelector._selector_cls": (selectors.EpollSelector._selector_cls, expected.epoll),
        "selectors.DefaultSelector": (selectors.DefaultSelector, selectors.EpollSelector),
        "subprocess._PopenSelector": (subprocess._PopenSelector, selectors.PollSelector),
        "socketserver._ServerSelector": (socketserver._ServerSelector, selectors.PollSelector),
        "asyncio.selector_events.selectors": (asyncio.selector_events.selectors, selectors),
    }
    problems += [f"{where} is {got!r}, not {want!r}" for where, (got, want) in attrs.items() if got is not want]
    return problems


def main():
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromNames(SUITES)
    test_modules = [sys.modules[name] for name in SUITES]
    problems = injection_problems(test_modules)
    if problems:
        print("injection did not take:", *problems, sep="\n  ")
        print("0 passed, 1 failed")
        return 1
    print(f"select module under test: {select.__name__} ({select.__file__})", flush=True)

    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    # Checked again: a suite might have replaced it while running.
    problems = injection_problems(test_modules)

    def ids(pairs):
        return {test.id() for test, _ in pairs}

    failed_ids = ids(result.failures) | ids(result.errors) | {t.id() for t in result.unexpectedSuccesses}
    unexpected = sorted(failed_ids - set(KNOWN_DIFFERENCES))
    known = sorted(failed_ids & set(KNOWN_DIFFERENCES))
    skipped = len(result.skipped)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - skipped - len(result.expectedFailures)
    sys.stderr.flush()
    print(f"ran {result.testsRun} tests: {skipped} skipped (kqueue, devpoll and other platforms' tests)")
    for test_id in known:
        print(f"known difference: {test_id}: {KNOWN_DIFFERENCES[test_id]}")
    for test_id in unexpected:
        print(f"FAILED: {test_id}")
    for problem in problems:
        print(f"injection undone during the run: {problem}")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if unexpected or problems else 0


if __name__ == "__main__":
    sys.exit(main())
