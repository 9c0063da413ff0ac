#!/usr/bin/env bash
# Where an echo server's CPU goes, per round trip: its own code, the
# kernel's machinery for waiting and submitting (system calls and epoll, or
# io_uring), and everything else in the kernel (TCP/IP over loopback, the
# copies, the scheduler), which both engines pay alike.
#
# Usage: bench/cpu-split.sh [--servers "ioready-epoll ioready-uring c-epoll"]
#                           [--conns "64 1000"] [--reps N] [--round-trips N]
#                           [--seconds S] [--placement split|same]
#                           [--no-build] [--out DIR]
#
# Two measurements per server and connection count, the server pinned to
# CPU 1 and the load generator to CPU 0 (--placement split, the default:
# each has a core of its own) or both to CPU 1 (--placement same, as
# bench/compare.sh: no cross-CPU wake-ups); either way the server's CPU
# time is its own (the scheduler accounts it per task):
#  1. server CPU per round trip, in ns, on fixed work (--round-trips per
#     64 connections, 64-byte messages): the scheduler's own account of the
#     time the server ran (/proc/PID/schedstat, ns), before and after; the
#     median of --reps runs, interleaved across servers;
#  2. with perf (software clock, 4999 Hz, --seconds of load), the share of
#     those samples in the server's own code (user space), in the kernel
#     functions of the wait/submit machinery, and in the rest of the kernel.
#     The machinery is told by function name: io_uring's functions (io_*,
#     tctx_*, the task-work list) for the io_uring engine; the system call
#     entry, the socket calls' wrappers and descriptor look-ups, epoll and
#     the socket poll for the others. By name, so approximate: the kernel
#     inlines differently on the two paths (sock_recvmsg is inside
#     __sys_recvfrom on one, a call of its own under io_recv on the other),
#     which moves a percent or two between columns; the CPU per round trip
#     is exact. Without perf (or its permission) the split is skipped and
#     said so.
# Results: a table on stdout and in DIR/cpu-split.md (default
# target/bench-cpu-split), with the raw samples in DIR/*.perf.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS="ioready-epoll ioready-uring c-epoll"
CONNS="64 1000"
REPS=5
RTS=3000
SECONDS_=2
BUILD=1
OUT=target/bench-cpu-split
PLACE=split
while [ $# -gt 0 ]; do
    case "$1" in
        --servers) SERVERS=$2; shift ;;
        --conns) CONNS=$2; shift ;;
        --reps) REPS=$2; shift ;;
        --round-trips) RTS=$2; shift ;;
        --seconds) SECONDS_=$2; shift ;;
        --placement) PLACE=$2; shift ;;
        --no-build) BUILD=0 ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,34p' "$0"; exit 0 ;;
        *) echo "cpu-split.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then
    echo "cpu-split.sh: needs 2 CPUs and taskset (the server and the load generator pinned)" >&2
    exit 1
fi
case "$PLACE" in
    split) LOAD_CPU=0; PLACEMENT="server on CPU 1, load generator on CPU 0" ;;
    same) LOAD_CPU=1; PLACEMENT="server and load generator both on CPU 1" ;;
    *) echo "cpu-split.sh: --placement is split or same" >&2; exit 2 ;;
esac
. bench/build.sh
mkdir -p "$OUT"
TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

cmd() {
    case "$1" in
        ioready-*) echo "target/release/ioready echo-server --quiet --backend ${1#ioready-} --addr 127.0.0.1:0" ;;
        c-epoll) echo "target/release/epoll_echo 127.0.0.1:0" ;;
        *) echo "cpu-split.sh: unknown server $1 (ioready-<backend> or c-epoll)" >&2; exit 2 ;;
    esac
}

start_server() {
    # shellcheck disable=SC2046
    taskset -c 1 $(cmd "$1") > "$TMP/server.out" 2>&1 &
    SERVER_PID=$!
    ADDR=
    for _ in $(seq 100); do
        ADDR=$(grep -oE '127\.0\.0\.1(:| port )[0-9]+' "$TMP/server.out" | head -1 | sed 's/ port /:/' || true)
        [ -n "$ADDR" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "cpu-split.sh: $1 did not start:" >&2
    cat "$TMP/server.out" >&2
    exit 1
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

ran_ns() { awk '{print $1}' "/proc/$1/schedstat"; }

load() {
    taskset -c "$LOAD_CPU" target/release/examples/loadgen --addr "$ADDR" -s 64 --quiet --json "$@" > "$TMP/load.json"
}

# 1. CPU per round trip on fixed work.
echo "# server	connections	rep	server_ns_per_round_trip" > "$OUT/cpu.tsv"
for rep in $(seq "$REPS"); do
    for c in $CONNS; do
        n=$(( (RTS * 64 + c - 1) / c ))
        for s in $SERVERS; do
            start_server "$s"
            load -c "$c" -n 0    # connect and close once: warm, not counted
            before=$(ran_ns "$SERVER_PID")
            load -c "$c" -n "$n"
            after=$(ran_ns "$SERVER_PID")
            stop_server
            printf '%s\t%s\t%s\t%s\n' "$s" "$c" "$rep" "$(( (after - before) / (n * c) ))" >> "$OUT/cpu.tsv"
            echo "rep $rep: $s, $c connections: $(( (after - before) / (n * c) )) ns per round trip" >&2
        done
    done
done

# 2. The split, from perf samples.
PERF=1
if ! command -v perf >/dev/null || ! perf record -q -e cpu-clock -o "$TMP/probe.data" -- true >/dev/null 2>&1; then
    PERF=0
    echo "cpu-split.sh: perf is missing or not permitted: no split, only the CPU per round trip" >&2
fi
MACHINERY_URING='^(__)?io_|^tctx_|^llist_reverse_order$|^__do_sys_io_uring|^io_uring'
MACHINERY_CALLS='^(do_syscall_64|entry_SYSCALL|syscall_exit|syscall_return|__x64_sys_|__sys_|ksys_|vfs_read$|vfs_write$|rw_verify_area|sock_read_iter|sock_write_iter|fdget|fget$|__fget|fput|__fdget|sockfd_lookup|sock_from_file$|ep_|__ep_|do_epoll|sock_poll$|tcp_poll$|import_ubuf)'
echo "# server	connections	user_pct	machinery_pct	rest_pct	samples" > "$OUT/split.tsv"
if [ "$PERF" = 1 ]; then
    for c in $CONNS; do
        for s in $SERVERS; do
            start_server "$s"
            load -c "$c" -d $((SECONDS_ + 2)) -w 0.5 &
            lp=$!
            sleep 1
            perf record -q -e cpu-clock -F 4999 -p "$SERVER_PID" -o "$TMP/perf.data" -- sleep "$SECONDS_" >/dev/null 2>&1
            wait "$lp" || true
            stop_server
            perf report -i "$TMP/perf.data" --no-children --sort dso,sym --stdio -g none \
                --percent-limit 0 > "$TMP/report.txt" 2>/dev/null || true
            grep -E '^ +[0-9.]+%' "$TMP/report.txt" > "$OUT/$s-$c.perf.txt" || true
            samples=$(grep -oE '^# Samples: [0-9.]+[KM]?' "$TMP/report.txt" | head -1 | awk '{print $3}' || true)
            awk -v mu="$MACHINERY_URING" -v mc="$MACHINERY_CALLS" -v s="$s" -v c="$c" -v n="$samples" '
                {
                    pct = $1; sub("%", "", pct)
                    if ($2 != "[kernel.kallsyms]") { user += pct; next }
                    sym = $0; sub(/^.*\[k\] /, "", sym); sub(/ +$/, "", sym)
                    if (sym ~ mu || sym ~ mc) mach += pct; else rest += pct
                }
                END { printf "%s\t%s\t%.2f\t%.2f\t%.2f\t%s\n", s, c, user, mach, rest, n }' \
                "$OUT/$s-$c.perf.txt" >> "$OUT/split.tsv"
        done
    done
fi

# The table: median ns per round trip, split by the shares.
{
    echo "Reproduce with: \`bench/cpu-split.sh --servers \"$SERVERS\" --conns \"$CONNS\" --reps $REPS --round-trips $RTS --seconds $SECONDS_ --placement $PLACE\`"
    echo "(Linux $(uname -r), $(nproc) CPUs; $PLACEMENT; 64-byte messages; CPU per round trip: median of $REPS, from /proc/PID/schedstat on fixed work; split: perf cpu-clock samples of ${SECONDS_} s of timed load)."
    echo
    echo "| server | connections | server CPU per round trip | its own code (user) | wait/submit machinery (kernel) | TCP/IP, copies, scheduling (kernel) |"
    echo "|---|---:|---:|---:|---:|---:|"
    for c in $CONNS; do
        for s in $SERVERS; do
            med=$(awk -F'\t' -v s="$s" -v c="$c" '$1 == s && $2 == c {print $4}' "$OUT/cpu.tsv" | sort -n |
                awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2)}')
            split=$(awk -F'\t' -v s="$s" -v c="$c" '$1 == s && $2 == c' "$OUT/split.tsv")
            if [ -n "$split" ] && [ "$med" != n/a ]; then
                awk -F'\t' -v m="$med" '{t = $3 + $4 + $5; if (t == 0) t = 100
                    printf "| %s | %s | %d ns | %.1f%% (%d ns) | %.1f%% (%d ns) | %.1f%% (%d ns) |\n",
                        $1, $2, m, $3, m * $3 / t, $4, m * $4 / t, $5, m * $5 / t}' <<< "$split"
            else
                echo "| $s | $c | $med ns | n/a | n/a | n/a |"
            fi
        done
    done
} | tee "$OUT/cpu-split.md"
