#!/usr/bin/env bash
# Where a server's user instructions per round trip go, per function: the
# method of bench/counts.sh (callgrind on fixed work, minus a run with zero
# round trips), split by function with callgrind_annotate (exclusive
# instructions; code inlined into a function counts in it).
#
# Usage: bench/profile.sh [--server ioready-uring|ioready-epoll|...]
#                         [--load isolated|loaded] [--top N] [--no-build]
#
# Prints "instructions per round trip  function" for the top N functions
# (default 15) and the total, e.g. the tables of BENCHMARKS.md's section on
# the server's io_uring engine. Needs valgrind (see counts.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=ioready-uring
LOAD=isolated
TOP=15
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --server) SERVER=$2; shift ;;
        --load) LOAD=$2; shift ;;
        --top) TOP=$2; shift ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "profile.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$SERVER" in
    ioready-*) CMD=(target/release/ioready echo-server --quiet --backend "${SERVER#ioready-}" --addr 127.0.0.1:0) ;;
    *) echo "profile.sh: --server must be ioready-<backend> (epoll, poll, select, uring)" >&2; exit 2 ;;
esac
if [ "$LOAD" = isolated ]; then C=4; N=250; else C=64; N=200; fi

. bench/build.sh
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# run N OUTFILE: the server under callgrind, C connections x N round trips.
run() {
    local n=$1 out=$2 pid addr=
    valgrind -q --tool=callgrind --callgrind-out-file="$out" "${CMD[@]}" > "$TMP/server.out" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        addr=$(grep -oE '127\.0\.0\.1(:| port )[0-9]+' "$TMP/server.out" | head -1 | sed 's/ port /:/' || true)
        [ -n "$addr" ] && break
        sleep 0.05
    done
    [ -n "$addr" ] || { echo "profile.sh: $SERVER did not start" >&2; cat "$TMP/server.out" >&2; exit 1; }
    local extra=()
    if [ "$LOAD" = isolated ]; then extra=(--isolated --server-pid "$pid" --gap-us 50); fi
    target/release/examples/loadgen --addr "$addr" -c "$C" -n "$n" --quiet --json --timeout 300 \
        "${extra[@]}" > "$TMP/load.json"
    sleep 0.5
    if [[ "$SERVER" == *uring* ]]; then
        # See counts.sh: valgrind does not deliver SIGTERM inside io_uring_enter.
        callgrind_control -d "$pid" >/dev/null 2>&1 || true
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        mv -f "$out.1" "$out" 2>/dev/null || true
    else
        kill -TERM "$pid"
        wait "$pid" 2>/dev/null || true
    fi
}

# per_function FILE: "instructions<TAB>function" (exclusive, summed per symbol).
per_function() {
    callgrind_annotate --auto=no --inclusive=no --threshold=100 "$1" | awk '
        /^ *[0-9,]+ +\( *[0-9.]+%\) +/ {
            n = $1; gsub(",", "", n)
            line = $0; sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, "", line)
            if (line ~ /PROGRAM TOTALS/) { print n "\tTOTAL"; next }
            sub(/ +\[[^]]*\] *$/, "", line)       # the object file
            i = index(line, ":"); if (i) line = substr(line, i + 1)
            sum[line] += n
        }
        END { for (f in sum) print sum[f] "\t" f }'
}

run "$N" "$TMP/cg.n"
run 0 "$TMP/cg.0"
RTS=$((C * N))
echo "$SERVER, $LOAD ($C connections x $N round trips, minus 0): user instructions per round trip"
join -t $'\t' -a 1 -a 2 -e 0 -o 0,1.1,2.1 -1 2 -2 2 \
    <(per_function "$TMP/cg.n" | sort -t $'\t' -k2,2) \
    <(per_function "$TMP/cg.0" | sort -t $'\t' -k2,2) |
    awk -F'\t' -v rts="$RTS" '{ d = ($2 - $3) / rts; if (d >= 0.5 || d <= -0.5 || $1 == "TOTAL") printf "%8.1f\t%s\n", d, $1 }' |
    sort -t $'\t' -k1,1 -rn | head -n "$((TOP + 1))"
