#!/usr/bin/env bash
# asyncio event loops side by side, in one interleaved run: stock asyncio,
# uvloop, rloop, ioready_select's loop (asyncio's selector loop over
# ioready's epoll, built from --select REV, default 1dc18a5, the last revision
# before the package became `ioready`) and, with --aio REV (the branch aio, or
# HEAD once merged), ioready's native loop.
#
# Usage: bench/loops.sh [--quick] [--aio REV] [--select REV] [--loops "SPEC ..."]
#                       [--reps N] [--duration S] [--warmup S] [--conns "1 64 1000"]
#                       [--sizes "64 1024 16384"] [--apis "sockets streams protocol buffered"]
#                       [--only "echo micro strace"] [--out DIR] [--doc FILE] [--no-setup]
#
# A loop is named by its factory, "module:callable"; "module:callable@ENGINE"
# runs it with IOREADY_BACKEND=ENGINE (ioready:new_event_loop@epoll beside the
# default io_uring engine, reported as ioready@epoll). Setup
# (crates/ioready-python/bench/loops/setup.sh) makes the benchmark-only venv
# target/bench-venv: uvloop, rloop, pyperf from PyPI (pinned), the wheels of
# ioready built here; none of them is a dependency of the package. The load
# generator is `target/release/ioready bench` (built here in release mode).
#
# Echo: the four server shapes of uvloop's echoserver.py (sockets, streams,
# Protocol, BufferedProtocol) at 1, 64 and 1,000 connections x 64 B, 1 KiB and
# 16 KiB, each loop in turn per point, 3 repetitions, medians; round trips/s
# and server CPU per round trip (utime+stime from /proc). Micro-benchmarks:
# call_soon, timer schedule+cancel, call_soon_threadsafe from a thread.
# Syscalls per echoed message: strace -f -c on fixed work (Protocol, 64
# connections x 64 B). Results: OUT/raw.jsonl, DOC (markdown) and charts.
#
# Defaults: OUT=bench-results/loops, DOC=bench-results/loops.md; about
# 25 minutes per 5 loops. --quick: 1 repetition of 0.5 s per point, 64 B and
# 1 KiB only, 200,000 micro operations: results in bench-results/quick-loops.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VENV=${VENV:-$ROOT/target/bench-venv}
REPS=3 DURATION=2 WARMUP=0.5 CONNS="1 64 1000" SIZES="64 1024 16384"
APIS="sockets streams protocol buffered" ONLY="echo micro strace"
MICRO_N=1000000 STRACE_N=500
OUT=bench-results/loops DOC=bench-results/loops.md
SELECT_REV=1dc18a58107caa62587b5d88241af721c19a4654 AIO_REV= LOOPS= SETUP=1
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) REPS=1; DURATION=0.5; WARMUP=0.2; SIZES="64 1024"; MICRO_N=200000; STRACE_N=200
                 OUT=bench-results/quick-loops; DOC=bench-results/quick-loops/loops.md ;;
        --aio) AIO_REV=$2; shift ;;
        --select) SELECT_REV=$2; shift ;;
        --loops) LOOPS=$2; shift ;;
        --reps) REPS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --conns) CONNS=$2; shift ;;
        --sizes) SIZES=$2; shift ;;
        --apis) APIS=$2; shift ;;
        --only) ONLY=$2; shift ;;
        --out) OUT=$2; shift ;;
        --doc) DOC=$2; shift ;;
        --no-setup) SETUP=0 ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "loops.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$SETUP" = 1 ]; then
    echo "== building the load generator and bench-report (release)" >&2
    cargo build --release -q -p ioready-cli
    cargo build --release -q -p ioready-bench --bin bench-report
    setup=(crates/ioready-python/bench/loops/setup.sh --select "$SELECT_REV")
    [ -z "$AIO_REV" ] || setup+=(--aio "$AIO_REV")
    VENV=$VENV "${setup[@]}"
fi
if [ -z "$LOOPS" ]; then
    LOOPS="asyncio:new_event_loop uvloop:new_event_loop rloop:new_event_loop ioready_select:new_event_loop"
    if "$VENV/bin/python" -c "import ioready; ioready.new_event_loop" 2>/dev/null; then
        LOOPS="$LOOPS ioready:new_event_loop"
    fi
fi

# 1,000 connections on each side.
ulimit -n "$(ulimit -Hn)"
PIN="taskset -c 1"
if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then PIN=""; fi

exec "$VENV/bin/python" crates/ioready-python/bench/loops/run.py \
    --python "$VENV/bin/python" --loadgen "$ROOT/target/release/ioready bench" \
    --report-tool "$ROOT/target/release/bench-report" --loops "$LOOPS" \
    --reps "$REPS" --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNS" --sizes "$SIZES" \
    --apis "$APIS" --only "$ONLY" --micro-n "$MICRO_N" --strace-n "$STRACE_N" --pin "$PIN" \
    --out "$OUT" --doc "$DOC" --command "bench/loops.sh${ARGS[*]:+ ${ARGS[*]}}"
