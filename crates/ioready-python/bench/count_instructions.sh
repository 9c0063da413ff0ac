#!/usr/bin/env bash
# User-space instructions per call (valgrind callgrind), CPython's select vs
# ioready.select: deterministic where wall-clock timings on a shared machine
# are not. Each count is (run with 20000 calls - run with 10000) / 10000, so
# start-up and import costs cancel out.
#   PY=.venv-ci/bin/python crates/ioready-python/bench/count_instructions.sh
set -euo pipefail
PY=${PY:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONHASHSEED=0
count() {
    N=$3 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PY" "$HERE/calls_loop.py" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '| call | CPython select | ioready.select | difference |\n|---|---:|---:|---:|\n'
for case in select1 select3 poll0 pollN epoll0; do
    c=$(( ($(count $case c 20000) - $(count $case c 10000)) / 10000 ))
    o=$(( ($(count $case ours 20000) - $(count $case ours 10000)) / 10000 ))
    printf '| %s | %d | %d | %+d |\n' "$case" "$c" "$o" $((o - c))
done
