#!/usr/bin/env bash
# System calls per request of a loop's thread on fixed work (turn_server.py):
# `strace -c` of the server's process (its main thread: the loop; the client
# is a child process, not followed), runs of N1 and N2 requests, and
# (count(N2) - count(N1)) / (N2 - N1) per system call, so start-up cancels
# out. Server and client pinned to one core (taskset -c 1), as the echo
# benchmark is.
#
#   crates/ioready-python/bench/loops/count_syscalls.sh [--python PY] [--loops "SPEC ..."] [--shapes "two-writes ..."]
#
# IOREADY_BACKEND=epoll in the environment picks ioready's readiness
# transports (the default engine is io_uring).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-python3}
LOOPS="asyncio:new_event_loop uvloop:new_event_loop ioready:new_event_loop"
SHAPES="two-writes one-write sock-echo"
N1=1000 N2=3000
while [ $# -gt 0 ]; do
    case "$1" in
        --python) PY=$2; shift ;;
        --loops) LOOPS=$2; shift ;;
        --shapes) SHAPES=$2; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "count_syscalls.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for shape in $SHAPES; do
    for spec in $LOOPS; do
        for n in $N1 $N2; do
            (cd "$HERE" && taskset -c 1 strace -c -o "$TMP/$n" "$PY" turn_server.py --loop "$spec" --shape "$shape" -n "$n")
        done
        "$PY" - "$TMP/$N1" "$TMP/$N2" "$((N2 - N1))" "$shape" "$spec" <<'PY'
import re, sys
def parse(path):
    counts = {}
    for line in open(path):
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m and m.group(2) != "total":
            counts[m.group(2)] = int(m.group(1))
    return counts
a, b = parse(sys.argv[1]), parse(sys.argv[2])
n = int(sys.argv[3])
per = {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}
per = {k: v for k, v in sorted(per.items()) if abs(v) >= 0.05}
print(f"{sys.argv[4]:10} {sys.argv[5]:26} total {sum(per.values()):5.2f}: "
      + ", ".join(f"{k} {v:.2f}" for k, v in per.items()))
PY
    done
done
