"""Run pytest on the given paths; the last line is `N passed, M failed`
(a test failing in set-up, call or tear-down counts once as failed), the
exit status pytest's.

    python tests/run_pytest.py tests/under_pytest
"""

import sys

import pytest


class Count:
    def __init__(self):
        self.passed = set()
        self.failed = set()

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.failed.add(report.nodeid)
        elif report.when == "call" and report.passed:
            self.passed.add(report.nodeid)


def main(args):
    count = Count()
    status = pytest.main(["-v", "-p", "no:cacheprovider", *args], plugins=[count])
    # A test whose call passed may still fail in tear-down: it counts as failed.
    passed = len(count.passed - count.failed)
    print(f"{passed} passed, {len(count.failed)} failed", flush=True)
    return int(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
