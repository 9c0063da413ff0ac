#!/usr/bin/env bash
# CI for the Python module (crates/ioready-python, outside the Cargo workspace):
# builds ioready_select with maturin into a virtualenv, lints the crate, then
# runs its own tests, the seeds' programs on it, and CPython's own
# test_select/test_poll/test_epoll/test_selectors with it injected as
# `select`. The last line is that harness's `N passed, M failed`; the exit
# status is non-zero on any unexpected failure.
#
#   PYTHON=/path/to/python3.11 ci/python.sh     (default: python3.11, python3)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=.venv-ci
MATURIN_VERSION=1.9.6
CRATE=crates/ioready-python

echo "== python: $("$PYTHON" --version) ($PYTHON)"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION"

echo "== build: maturin develop --release"
VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop --release --quiet -m "$CRATE/Cargo.toml"

echo "== lint: cargo fmt / clippy (ioready-python)"
(cd "$CRATE" && cargo fmt --check)
(cd "$CRATE" && PYO3_PYTHON="$PWD/../../$VENV/bin/python" cargo clippy --all-targets -- -D warnings)

cd "$CRATE"
PY="../../$VENV/bin/python"
echo "== ioready_select's own tests"
"$PY" -m unittest -v tests/test_module.py 2>&1
echo "== the seeds' select() programs on ioready_select"
"$PY" -m unittest -v tests/test_seeds.py 2>&1
echo "== CPython's test_select, test_poll, test_epoll, test_selectors on ioready_select"
"$PY" tests/run_cpython_tests.py 2>&1
