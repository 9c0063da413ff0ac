#!/usr/bin/env bash
# User-space instructions per operation of the micro-benchmarks, per loop:
# deterministic where wall-clock rates on a shared machine are not.
# Runs micro.py under `valgrind --tool=callgrind` twice per loop and
# benchmark, with N1 and N2 operations, and prints (Ir(N2) - Ir(N1)) /
# (N2 - N1): start-up, imports and the warm-up cancel out.
#
#   crates/ioready-python/bench/loops/count_instructions.sh [--loops "SPEC ..."] [--benches "call_soon timer"]
#
# Needs the venv of setup.sh (VENV, default target/bench-venv) and valgrind.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
VENV=${VENV:-$ROOT/target/bench-venv}
LOOPS="asyncio:new_event_loop uvloop:new_event_loop rloop:new_event_loop ioready_select:new_event_loop ioready:new_event_loop"
BENCHES="call_soon timer threadsafe"
N1=20000 N2=60000
while [ $# -gt 0 ]; do
    case "$1" in
        --loops) LOOPS=$2; shift ;;
        --benches) BENCHES=$2; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "count_instructions.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
command -v valgrind >/dev/null || apt-get install -y valgrind >&2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ir() {  # ir SPEC BENCH N -> total instructions of the run
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
        "$VENV/bin/python" "$HERE/micro.py" --loop "$1" --bench "$2" --n "$3" >/dev/null 2>"$TMP/vg.err" \
        || { cat "$TMP/vg.err" >&2; return 1; }
    awk '/^(summary|totals):/ {print $2; exit}' "$TMP/cg.out"
}
printf '| benchmark |'; for s in $LOOPS; do printf ' %s |' "${s%%:*}"; done; echo
printf '|---|'; for _ in $LOOPS; do printf -- '---:|'; done; echo
for b in $BENCHES; do
    printf '| %s |' "$b"
    for s in $LOOPS; do
        a=$(ir "$s" "$b" "$N1"); c=$(ir "$s" "$b" "$N2")
        printf ' %s |' "$(( (c - a) / (N2 - N1) ))"
    done
    echo
done
