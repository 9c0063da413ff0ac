"""Run test modules of this directory with unittest; the last line is
`N passed, M failed` (M counts failures, errors and unexpected successes;
skipped tests are neither), the exit status non-zero if M > 0.

    python tests/run_unittest.py test_module test_seeds test_switching
"""

import os
import sys
import unittest


def main(names):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    suite = unittest.TestLoader().loadTestsFromNames(names)
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped) - len(result.expectedFailures)
    sys.stderr.flush()
    for test, reason in result.skipped:
        print(f"skipped: {test.id()}: {reason}")
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
