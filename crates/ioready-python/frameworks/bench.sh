#!/usr/bin/env bash
# uvicorn ("hello" ASGI app, 1 KiB) and aiohttp (the same answer) under wrk
# on 127.0.0.1, per loop, interleaved: requests/s, p99 and server CPU per
# request at 64 and 256 connections. Needs frameworks/setup.sh uvicorn aiohttp;
# installs wrk (the Debian package) when it is missing.
#
#   crates/ioready-python/frameworks/bench.sh [--quick] [--loops "SPEC ..."] [--reps N]
#
# Default loops: asyncio, uvloop, rloop, ioready_select and, when installed,
# ioready. Results: bench-results/frameworks-bench.md and
# bench-results/frameworks-bench/raw.jsonl (--quick: 1 repetition of 1 s,
# into bench-results/quick-frameworks-bench/).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"
FW=$ROOT/target/frameworks
ARGS=("$@")
LOOPS= REPS=3 DURATION=3 WARMUP=1
OUT=bench-results/frameworks-bench DOC=bench-results/frameworks-bench.md
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) REPS=1; DURATION=1; WARMUP=0; OUT=bench-results/quick-frameworks-bench
                 DOC=bench-results/quick-frameworks-bench/report.md ;;
        --loops) LOOPS=$2; shift ;;
        --reps) REPS=$2; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if ! command -v wrk >/dev/null; then
    apt-get install -y wrk >&2
fi
for v in uvicorn aiohttp; do
    [ -x "$FW/venv-$v/bin/python" ] || { echo "bench.sh: run frameworks/setup.sh $v first" >&2; exit 2; }
done
if [ -z "$LOOPS" ]; then
    LOOPS="asyncio:new_event_loop uvloop:new_event_loop rloop:new_event_loop ioready_select:new_event_loop"
    if "$FW/venv-uvicorn/bin/python" -c "import ioready; ioready.new_event_loop" 2>/dev/null &&
       "$FW/venv-aiohttp/bin/python" -c "import ioready; ioready.new_event_loop" 2>/dev/null; then
        LOOPS="$LOOPS ioready:new_event_loop"
    fi
fi
ulimit -n "$(ulimit -Hn)"
PIN="taskset -c 1"
if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then PIN=""; fi
exec "$FW/venv-uvicorn/bin/python" "$HERE/bench.py" --uvicorn-python "$FW/venv-uvicorn/bin/python" \
    --aiohttp-python "$FW/venv-aiohttp/bin/python" --loops "$LOOPS" --reps "$REPS" \
    --duration "$DURATION" --warmup "$WARMUP" --pin "$PIN" --out "$OUT" --doc "$DOC" \
    --command "crates/ioready-python/frameworks/bench.sh${ARGS[*]:+ ${ARGS[*]}}"
