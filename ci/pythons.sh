#!/usr/bin/env bash
# The asyncio loop on the other CPython versions the package supports
# (requires-python >= 3.9), with the wheel pip would give each of them, when
# this machine has those interpreters (pyenv's versions, or python3.X on
# PATH); each one missing is said and skipped, never counted as passed.
#
# For each interpreter: CPython's own test_asyncio *of that interpreter* and
# the cross-checked tests, beside that interpreter's stock asyncio
# (ci/asyncio.sh), on the default engine (io_uring). The wheels are the ones
# ci/python.sh built into crates/ioready-python/dist: 3.9 gets cp39-abi3,
# 3.10 and later get cp310-abi3 (no version-specific wheel is built for
# them, so pip picks that one). Each interpreter gets a venv of its own
# (.venv-ci-asyncio-3.X).
#
# Time (2 shared cores): about 3 minutes per interpreter.
#
#   ci/pythons.sh [3.9 3.10 3.12 3.13]
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${DIST:-crates/ioready-python/dist}
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.9 3.10 3.12 3.13)

find_python() {
    local v=$1 root p
    if command -v pyenv >/dev/null 2>&1; then
        root=$(pyenv root)
        for p in $(ls -d "$root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V -r); do
            [ -x "$p" ] && { echo "$p"; return; }
        done
    fi
    p=$(command -v "python$v" 2>/dev/null || true)
    if [ -n "$p" ] && "$p" -c 'import sys' >/dev/null 2>&1; then
        echo "$p"
    fi
}

status=0
ran=0
for v in "${versions[@]}"; do
    py=$(find_python "$v")
    if [ -z "$py" ]; then
        echo "== CPython $v: not installed here, skipped"
        continue
    fi
    if ! "$py" -c 'import test.test_asyncio' 2>/dev/null; then
        echo "== CPython $v ($py): its test package is missing, skipped"
        continue
    fi
    case $v in
        3.9) kind=cp39-abi3 ;;
        *) kind=cp310-abi3 ;;
    esac
    wheel=$(ls "$DIST"/ioready-*-"$kind"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        echo "pythons.sh: no $kind wheel in $DIST (run ci/python.sh first)" >&2
        exit 2
    fi
    echo "== CPython $v ($py) with $(basename "$wheel")"
    ran=$((ran + 1))
    WHEEL=$(realpath "$wheel") ASYNCIO_VENV=$PWD/.venv-ci-asyncio-$v PYTHON=$py bash ci/asyncio.sh || status=1
done
echo "== other CPython versions: $ran run"
exit $status
