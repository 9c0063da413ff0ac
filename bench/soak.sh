#!/usr/bin/env bash
# Soak: N connections of echo traffic against `ioready echo-server` for M
# minutes, printing the server's memory and descriptor count at a fixed
# interval, to see whether either grows under steady load. Not run by CI.
#
# Usage: bench/soak.sh [--conns N] [--minutes M] [--backend epoll|poll|select]
#                      [--size BYTES] [--every SECONDS] [--no-build]
#                      [--python-loop MODULE:CALLABLE [--python PYTHON]]
#
# Defaults: 1,000 connections, 1 minute, epoll, 64-byte messages, a sample
# every 60 s (and one at the start and at the end). The long run of issue 10:
#   bench/soak.sh --conns 10000 --minutes 10
# With --python-loop the server is instead the Python Protocol echo server of
# the asyncio loop benchmark (crates/ioready-python/bench/loops/echo_server.py)
# on that loop factory, run by --python (default python3; it must import the
# loop): the "no growth" check of the asyncio loop (issue 20), e.g.
#   bench/soak.sh --conns 1000 --minutes 10 --python-loop ioready:new_event_loop \
#       --python .venv-ci-full/bin/python
# (a Python server killed by SIGTERM exits with 143: that status is its clean end).
#
# Each sample line: seconds since the load started, the server's RSS and
# peak RSS (VmRSS, VmHWM, KiB), its open descriptors (/proc/PID/fd), its CPU
# seconds so far. At the end: the load generator's report (round trips/s,
# p99, errors), the server's descriptors once every client has gone (must be
# back to what it had before the load), and its exit status on SIGTERM
# (must be 0). Exit status 1 if the load counted errors, descriptors leaked,
# or the server did not exit cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=1000
MINUTES=1
BACKEND=epoll
SIZE=64
EVERY=60
BUILD=1
PYLOOP=
PY=python3
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) CONNS=$2; shift ;;
        --minutes) MINUTES=$2; shift ;;
        --backend) BACKEND=$2; shift ;;
        --size) SIZE=$2; shift ;;
        --every) EVERY=$2; shift ;;
        --no-build) BUILD=0 ;;
        --python-loop) PYLOOP=$2; shift ;;
        --python) PY=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "soak.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for v in CONNS MINUTES SIZE EVERY; do
    if ! [[ ${!v} =~ ^[0-9]+$ ]] || [ "${!v}" = 0 ]; then
        echo "soak.sh: --${v,,} must be a positive whole number, got ${!v}" >&2
        exit 2
    fi
done
SECONDS_TOTAL=$((MINUTES * 60))

# N connections on each side (the load generator raises its own limit too).
ulimit -n "$(ulimit -Hn)"
if [ "$BUILD" = 1 ]; then
    echo "== building (release)" >&2
    cargo build --release -q -p ioready-cli
fi
BIN=target/release/ioready

TMP=$(mktemp -d)
SERVER_PID=
LOAD_PID=
cleanup() {
    if [ -n "$LOAD_PID" ]; then kill "$LOAD_PID" 2>/dev/null || true; fi
    if [ -n "$SERVER_PID" ]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

CLEAN_RC=0
SERVER_DESC="$BIN echo-server"
if [ -n "$PYLOOP" ]; then
    "$PY" crates/ioready-python/bench/loops/echo_server.py --loop "$PYLOOP" --api protocol \
        > "$TMP/server.out" 2>&1 &
    BACKEND="the Python loop $PYLOOP"
    SERVER_DESC="crates/ioready-python/bench/loops/echo_server.py --api protocol"
    CLEAN_RC=143
else
    "$BIN" echo-server --quiet --backend "$BACKEND" --addr 127.0.0.1:0 \
        --max-conns $((CONNS + 100)) > "$TMP/server.out" 2>&1 &
fi
SERVER_PID=$!
ADDR=
for _ in $(seq 400); do
    ADDR=$(grep -oE '127\.0\.0\.1( port |:)[0-9]+' "$TMP/server.out" | head -1 | sed 's/ port /:/' || true)
    [ -n "$ADDR" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$ADDR" ]; then
    echo "soak.sh: the server did not start:" >&2
    cat "$TMP/server.out" >&2
    exit 1
fi

status() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
cpu() {
    local stat rest
    stat=$(cat "/proc/$1/stat")
    rest=${stat##*) }
    # shellcheck disable=SC2086
    set -- $rest
    awk -v t=$(( ${12} + ${13} )) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", t / hz}'
}
sample() {
    printf '%6s  %10s  %10s  %8s  %8s\n' "$1" "$(status "$SERVER_PID" VmRSS)" \
        "$(status "$SERVER_PID" VmHWM)" "$(fds "$SERVER_PID")" "$(cpu "$SERVER_PID")"
}

FDS_BEFORE=$(fds "$SERVER_PID")
echo "== soak: $CONNS connections x ${SIZE}-byte echoes for $MINUTES min on $BACKEND ($SERVER_DESC at $ADDR)"
"$BIN" bench --addr "$ADDR" -c "$CONNS" -s "$SIZE" -d "$SECONDS_TOTAL" -w 0 \
    --timeout $((SECONDS_TOTAL + 120)) --json --quiet > "$TMP/load.json" 2> "$TMP/load.err" &
LOAD_PID=$!
START=$(date +%s)
printf '%6s  %10s  %10s  %8s  %8s\n' "t (s)" "RSS (KiB)" "HWM (KiB)" "fds" "CPU (s)"
sample 0
NEXT=$EVERY
while kill -0 "$LOAD_PID" 2>/dev/null; do
    sleep 1
    now=$(( $(date +%s) - START ))
    if [ "$now" -ge "$NEXT" ] && kill -0 "$LOAD_PID" 2>/dev/null; then
        sample "$now"
        NEXT=$((NEXT + EVERY))
    fi
done
set +e
wait "$LOAD_PID"
LOAD_RC=$?
set -e
LOAD_PID=
sample "$(( $(date +%s) - START ))"

FAILED=0
echo "== load generator (exit $LOAD_RC):"
cat "$TMP/load.json"
[ -s "$TMP/load.err" ] && cat "$TMP/load.err"
if [ "$LOAD_RC" != 0 ]; then FAILED=1; fi

# Every client has closed: the server's descriptors must come back down.
FDS_AFTER=
for _ in $(seq 100); do
    FDS_AFTER=$(fds "$SERVER_PID")
    [ "$FDS_AFTER" -le "$FDS_BEFORE" ] && break
    sleep 0.1
done
echo "== server descriptors: $FDS_BEFORE before the load, $FDS_AFTER after it"
if [ "$FDS_AFTER" -gt "$FDS_BEFORE" ]; then
    echo "soak.sh: the server kept $((FDS_AFTER - FDS_BEFORE)) descriptors after every client left" >&2
    FAILED=1
fi

kill -TERM "$SERVER_PID"
set +e
for _ in $(seq 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "soak.sh: the server did not exit within 10 s of SIGTERM" >&2
    FAILED=1
    SERVER_RC=timeout
else
    wait "$SERVER_PID"
    SERVER_RC=$?
fi
set -e
SERVER_PID=
echo "== server exit status on SIGTERM: $SERVER_RC"
if [ "$SERVER_RC" != "$CLEAN_RC" ]; then FAILED=1; fi
exit "$FAILED"
