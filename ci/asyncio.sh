#!/usr/bin/env bash
# Compatibility of ioready's asyncio loop, judged by other people's tests,
# side by side with stock asyncio (crates/ioready-python/tests/asyncio):
#   1. CPython's own test_asyncio: the loop-parametrised mixins bound to the
#      loop factory, the rest with the factory as the default loop; every
#      test that passes on stock asyncio must pass on the factory's loop
#      (exceptions: tests/asyncio/exceptions.txt, each with its reason);
#   2. the cross-checked behaviour tests (every test on the factory's loop
#      and on stock asyncio), in child processes, then once more in-process
#      under pytest.
#
#   PYTHON=/path/to/venv/bin/python ci/asyncio.sh
#       uses that interpreter as is if it can import the factory's module
#       (e.g. the venv ci/python.sh installed the wheel into);
#   WHEEL=/path/to/ioready-...whl ci/asyncio.sh
#       installs that wheel into a venv of its own (.venv-ci-asyncio);
#   ci/asyncio.sh
#       otherwise builds the wheel of crates/ioready-python with maturin
#       (release) in that venv and installs it.
#   ASYNCIO_VENV=DIR               that venv instead of .venv-ci-asyncio (one
#                                  per interpreter: ci/pythons.sh)
#   IOREADY_LOOP=module:callable   the factory (default ioready:new_event_loop)
#   ASYNCIO_FULL=1                 also the CPython suite in asyncio debug
#                                  mode (PYTHONASYNCIODEBUG=1), as uvloop's CI
#
# Time (2 shared cores, 2026-12-07): step 1 about 80 s (both sides, 2 jobs,
# the whole of test_asyncio: 2,143 tests a side), step 2 about 10 s, pytest
# about 17 s; a wheel build adds 1-3 min. ASYNCIO_FULL doubles step 1.
#
# Each step ends with `N passed, M failed`; the last line is the sum. The
# exit status is non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1
CRATE=crates/ioready-python
TESTS=$CRATE/tests/asyncio
LOOP=${IOREADY_LOOP:-ioready:new_event_loop}
MATURIN_VERSION=1.16.0
PYTEST_VERSION=8.4.2
module=${LOOP%%:*}

py=${PYTHON:-}
if [ -n "$py" ] && "$py" -c "import $module" 2>/dev/null; then
    echo "== using $py ($("$py" --version)): $module importable"
else
    base=${py:-$(command -v python3.11 || command -v python3)}
    venv=${ASYNCIO_VENV:-$PWD/.venv-ci-asyncio}
    echo "== a venv of its own: $venv (base $base)"
    if [ ! -x "$venv/bin/python" ]; then
        "$base" -m venv "$venv"
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest==$PYTEST_VERSION"
    [ -n "${WHEEL:-}" ] || "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin==$MATURIN_VERSION"
    if [ -n "${WHEEL:-}" ]; then
        echo "== installing $WHEEL (no build)"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --force-reinstall --no-deps "$WHEEL"
    else
        dist=$(mktemp -d)
        (cd "$CRATE" && "$venv/bin/maturin" build --release --quiet -i "$venv/bin/python" -o "$dist")
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --force-reinstall --no-deps "$dist"/*.whl
        rm -rf "$dist"
    fi
    py=$venv/bin/python
fi
export IOREADY_LOOP=$LOOP

# step and steps_summary (from the directory STEP_DIR).
. ci/steps.sh

step "CPython test_asyncio on $LOOP beside stock asyncio" \
    "$py" "$TESTS/run_cpython_asyncio.py" --loop "$LOOP"
if [ -n "${ASYNCIO_FULL:-}" ]; then
    step "CPython test_asyncio on $LOOP beside stock asyncio, asyncio debug mode" \
        env PYTHONASYNCIODEBUG=1 "$py" "$TESTS/run_cpython_asyncio.py" --loop "$LOOP"
fi
step "cross-checked behaviour tests: $LOOP beside stock asyncio" \
    "$py" "$TESTS/run_crosscheck.py" --loop "$LOOP"
if "$py" -c "import pytest" 2>/dev/null; then
    step "cross-checked behaviour tests under pytest" \
        bash -c 'cd "$1" && "$2" tests/run_pytest.py tests/asyncio' _ "$CRATE" "$py"
else
    echo "== (pytest not installed in $py: the pytest run is skipped)"
fi

steps_summary
