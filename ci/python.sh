#!/usr/bin/env bash
# CI for the Python module (crates/ioready-python, outside the Cargo
# workspace): lints the crate (all three builds), builds every wheel with
# crates/ioready-python/build-wheels.sh (cp39-abi3, cp310-abi3 and
# version-specific, manylinux2014, checked with auditwheel), then, for each
# wheel (all on this CPython 3.11), installs it
# into a virtualenv of its own and runs there:
#   * its own tests, the seeds' programs and the switching tests (unittest);
#   * the switching tests under pytest;
#   * CPython's test_select/test_poll/test_epoll/test_selectors with it
#     injected as `select`;
#   * mypy's stubtest: the shipped .pyi stubs against the runtime module;
# and once: mypy on the package's Python code against the 3.9 and 3.13
# standard libraries (requires-python is >=3.9; only 3.11 runs here).
#
# Each step ends with `N passed, M failed` (a check with no count of its own,
# as stubtest, counts as one); the last line is the sum over all steps. The
# exit status is non-zero if anything failed.
#
#   PYTHON=/path/to/python3.11 ci/python.sh     (default: python3.11, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
CRATE=crates/ioready-python
PYTEST_VERSION=8.4.2
MYPY_VERSION=1.18.2
export MYPY_CACHE_DIR=${TMPDIR:-/tmp}/ioready-python-mypy-cache
export PYTHONDONTWRITEBYTECODE=1

echo "== python: $("$PYTHON" --version) ($PYTHON)"

echo "== lint: cargo fmt / clippy (ioready-python: full-API, abi3 3.9 and 3.10 builds)"
(cd "$CRATE" && cargo fmt --check)
(cd "$CRATE" && PYO3_PYTHON="$PYTHON" cargo clippy --all-targets -- -D warnings)
(cd "$CRATE" && PYO3_PYTHON="$PYTHON" cargo clippy --all-targets --features abi3 -- -D warnings)
(cd "$CRATE" && PYO3_PYTHON="$PYTHON" cargo clippy --all-targets --features abi3-py310 -- -D warnings)

echo "== wheels: $CRATE/build-wheels.sh"
PYTHON="$PYTHON" "$CRATE/build-wheels.sh"

# step and steps_summary (from the directory STEP_DIR).
STEP_DIR=$CRATE
. ci/steps.sh

for kind in cp39-abi3 cp310-abi3 full; do
    case $kind in
        full) wheel=$(ls "$CRATE"/dist/ioready-*.whl | grep -v -- -abi3- | head -n 1) ;;
        *) wheel=$(ls "$CRATE"/dist/ioready-*-"$kind"-*.whl) ;;
    esac
    venv=$PWD/.venv-ci-$kind
    echo "== [$kind] $(basename "$wheel") into $venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$PYTHON" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "pytest==$PYTEST_VERSION" "mypy==$MYPY_VERSION"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        --force-reinstall --no-deps "$wheel"
    py=$venv/bin/python
    step "[$kind] own tests, seeds, switching, the event loop (unittest)" \
        "$py" tests/run_unittest.py test_module test_seeds test_switching test_loop
    step "[$kind] the io_uring engine; the loop's checks on the readiness transports (IOREADY_BACKEND=epoll)" \
        env IOREADY_BACKEND=epoll "$py" tests/run_unittest.py test_uring test_loop
    step "[$kind] switching under pytest" "$py" tests/run_pytest.py tests/under_pytest
    step "[$kind] CPython's test_select, test_poll, test_epoll, test_selectors" \
        "$py" tests/run_cpython_tests.py
    step "[$kind] stubtest (the .pyi stubs against the module)" \
        "$py" -m mypy.stubtest ioready
done

for version in 3.9 3.13; do
    step "mypy --python-version $version (the package's Python code)" \
        "$PWD/.venv-ci-full/bin/python" -m mypy --python-version "$version" --check-untyped-defs \
        python/ioready/__init__.py python/ioready/__main__.py python/ioready/select.py \
        python/ioready/_loop.py python/ioready/_runner.py python/ioready/_transport.py \
        python/ioready/_glue.py python/ioready/_uring.py
done

steps_summary
