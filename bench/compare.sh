#!/usr/bin/env bash
# ioready's echo server beside mio, tokio and a bare C epoll loop, in one run.
#
# Usage: bench/compare.sh [--quick] [--reps N] [--duration S] [--warmup S]
#                         [--conns "1 64 1000 10000"] [--placement same|split]
#                         [--out DIR] [--doc FILE] [--no-build]
#
# Builds everything in release mode, then for each repetition and each
# connection count runs every server in turn (A B C A B C ..., so that drift
# of the machine hits all alike): a fresh server pinned to one core, the load
# generator (`ioready bench`) pinned to the other, 64-byte messages. Records
# round trips/s, p99 latency, the server's peak RSS (VmHWM) and its CPU time
# (utime+stime) per round trip, then prints a markdown table with ratios to
# mio, draws charts into the output folder and rewrites the `compare` section
# of BENCHMARKS.md.
#
# --quick: one repetition of 1 s per point, results in bench-results/quick
# (BENCHMARKS.md untouched): a smoke run of about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
REPS=3
DURATION=3
WARMUP=1
CONNS="1 64 1000 10000"
OUT=bench-results
DOC=BENCHMARKS.md
PLACE=same
BUILD=1
ARGS=()
for a in "$@"; do [ "$a" = --no-build ] || ARGS+=("$a"); done
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; REPS=1; DURATION=1; WARMUP=0.3; OUT=bench-results/quick; DOC=bench-results/quick/report.md ;;
        --reps) REPS=$2; shift ;;
        --duration) DURATION=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --conns) CONNS=$2; shift ;;
        --placement) PLACE=$2; shift ;;
        --no-build) BUILD=0 ;;
        --out) OUT=$2; shift ;;
        --doc) DOC=$2; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# Placement. The load generator and every server are single-threaded.
# same (default): both pinned to CPU 1. On this VM a wake-up sent to the
#   other core costs tens of microseconds (an IPI through the hypervisor):
#   split placement gives one connection ~14k round trips/s, same-core
#   ~117k. On one core a round trip costs exactly server CPU + load
#   generator CPU, so a cheaper server shows as more round trips/s, and the
#   other core absorbs the rest of the machine's work.
# split: load generator on CPU 0, server on CPU 1.
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null && [ "$PLACE" = same ]; then
    LOAD_PIN=(taskset -c 1)
    SERVER_PIN=(taskset -c 1)
    PLACEMENT="load generator and server both pinned to CPU 1 (taskset -c 1)"
elif [ "$NCPU" -ge 2 ] && command -v taskset >/dev/null && [ "$PLACE" = split ]; then
    LOAD_PIN=(taskset -c 0)
    SERVER_PIN=(taskset -c 1)
    PLACEMENT="load generator pinned to CPU 0, server to CPU 1 (taskset)"
elif [ "$PLACE" != same ] && [ "$PLACE" != split ]; then
    echo "compare.sh: --placement must be same or split" >&2
    exit 2
else
    LOAD_PIN=()
    SERVER_PIN=()
    PLACEMENT="no pinning (fewer than 2 CPUs or no taskset)"
fi

# 10,000 connections on each side.
ulimit -n "$(ulimit -Hn)"

. bench/build.sh

if [ "$HAVE_CLI" = 1 ] && target/release/ioready bench --help >/dev/null 2>&1; then
    LOADGEN=(target/release/ioready bench)
else
    LOADGEN=(target/release/examples/loadgen)
fi

SERVERS=()
declare -A CMD
if [ "$HAVE_CLI" = 1 ]; then
    for b in epoll poll select uring; do
        SERVERS+=("ioready-$b")
        CMD[ioready-$b]="target/release/ioready echo-server --quiet --backend $b --addr 127.0.0.1:0"
    done
else
    echo "warning: target/release/ioready has no echo-server: comparing the peers only" >&2
fi
SERVERS+=(mio tokio c-epoll)
CMD[mio]="target/release/mio-echo 127.0.0.1:0"
CMD[tokio]="target/release/tokio-echo 127.0.0.1:0"
CMD[c-epoll]="target/release/epoll_echo 127.0.0.1:0"

mkdir -p "$OUT"
RAW=$OUT/raw.tsv
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT
rm -f "$OUT/failures.log"
echo "# server	connections	rep	peak_rss_kib	cpu_ticks	clk_tck	json" > "$RAW"
CLK=$(getconf CLK_TCK)

# utime+stime of a process, in clock ticks.
cpu_ticks() {
    local stat rest
    stat=$(cat "/proc/$1/stat")
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    echo $(( ${12} + ${13} ))
}

start_server() {
    local name=$1
    # shellcheck disable=SC2086
    "${SERVER_PIN[@]}" ${CMD[$name]} > "$TMP/server.out" 2>&1 &
    SERVER_PID=$!
    ADDR=
    for _ in $(seq 100); do
        # "listening on 127.0.0.1:PORT" or "starting up on 127.0.0.1 port PORT"
        ADDR=$(grep -oE '127\.0\.0\.1(:| port )[0-9]+' "$TMP/server.out" | head -1 | sed 's/ port /:/' || true)
        if [ -n "$ADDR" ]; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
        sleep 0.05
    done
    echo "error: $name did not start:" >&2
    cat "$TMP/server.out" >&2
    return 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

POINTS=$(( REPS * $(wc -w <<< "$CONNS") * ${#SERVERS[@]} ))
echo "== $POINTS points: servers ${SERVERS[*]}; connections $CONNS; $REPS repetitions of ${WARMUP}+${DURATION} s; $PLACEMENT" >&2
K=0
FAILED=0
for rep in $(seq "$REPS"); do
    for c in $CONNS; do
        for s in "${SERVERS[@]}"; do
            K=$((K + 1))
            start_server "$s"
            before=$(cpu_ticks "$SERVER_PID")
            set +e
            "${LOAD_PIN[@]}" "${LOADGEN[@]}" --addr "$ADDR" -c "$c" -s 64 \
                -d "$DURATION" -w "$WARMUP" --json --quiet > "$TMP/load.json" 2> "$TMP/load.err"
            rc=$?
            set -e
            after=$(cpu_ticks "$SERVER_PID")
            hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
            stop_server
            if [ ! -s "$TMP/load.json" ]; then
                { echo "error: load generator failed on $s at $c connections (exit $rc):"
                  cat "$TMP/load.err"; } | tee -a "$OUT/failures.log" >&2
                FAILED=1
                continue
            fi
            if [ "$rc" != 0 ]; then
                FAILED=1
                { echo "errors on $s at $c connections:"; cat "$TMP/load.json"; } >> "$OUT/failures.log"
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$c" "$rep" "$hwm" "$((after - before))" "$CLK" \
                "$(cat "$TMP/load.json")" >> "$RAW"
            rate=$(grep -oE '"round_trips_per_s":[0-9.]+' "$TMP/load.json" | cut -d: -f2)
            errs=$(grep -oE '"total":[0-9]+' "$TMP/load.json" | cut -d: -f2)
            printf '[%d/%d] rep %s %6s conns %-14s %12s rt/s  errors %s\n' "$K" "$POINTS" "$rep" "$c" "$s" "$rate" "$errs" >&2
        done
    done
done

CPU_MODEL=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
SETUP="Machine: $NCPU CPUs ($CPU_MODEL), Linux $(uname -r); $PLACEMENT; 64-byte messages, pipeline 1, \
warm-up ${WARMUP} s then ${DURATION} s measured per point, $REPS repetitions interleaved (medians shown); \
a fresh server per point; load generator: \`${LOADGEN[*]}\`."
target/release/bench-report compare "$RAW" "$OUT" "$DOC" \
    "bench/compare.sh${ARGS[*]:+ ${ARGS[*]}}" --setup "$SETUP"
echo "== wrote $OUT/compare.md, $OUT/throughput.{png,svg}, $OUT/p99.{png,svg}, $DOC" >&2
if [ "$FAILED" = 1 ]; then
    echo "compare.sh: some runs counted errors (see the errors column)" >&2
    exit 1
fi
