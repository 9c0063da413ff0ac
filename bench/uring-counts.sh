#!/usr/bin/env bash
# System calls per event of the Selector on io_uring beside epoll (and poll),
# counted with `strace -f -c` on fixed work: `rearm BACKEND MODE N` run with
# N events and with none; the difference divided by N is the cost of one
# event, with start-up cancelled.
#
# Modes (crates/ioready-bench/src/bin/rearm.rs):
#   oneshot  a ready descriptor registered oneshot: wait, reregister (re-arm)
#   churn    register a ready descriptor, wait, deregister
#   level    a ready descriptor, level-triggered: wait
#   idle-churn  register an idle descriptor, wait (zero timeout), deregister
#
# Usage: bench/uring-counts.sh [N]   (default 20000; prints a markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
command -v strace >/dev/null || { echo "uring-counts.sh: needs strace" >&2; exit 1; }
cargo build --release -q -p ioready-bench --features uring --bin rearm
BIN=target/release/rearm
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# calls of one run: total, and the selector's own (the wait and the ctl calls)
count() {
    strace -f -c -U name,calls -o "$TMP/out" "$BIN" "$@" >/dev/null
    awk '$1 == "total" { total = $2 }
         $1 ~ /^(io_uring_enter|io_uring_register|epoll_wait|epoll_pwait|epoll_pwait2|epoll_ctl|poll|ppoll)$/ { sel += $2 }
         END { printf "%d %d\n", total, sel }' "$TMP/out"
}

echo "| mode | backend | syscalls/event (all) | of which the selector's own (wait, ctl, register) | N |"
echo "|---|---|---|---|---|"
for mode in oneshot churn level idle-churn; do
    for backend in epoll uring poll; do
        read -r t1 s1 < <(count "$backend" "$mode" "$N")
        read -r t0 s0 < <(count "$backend" "$mode" 0)
        awk -v m="$mode" -v b="$backend" -v n="$N" -v t1="$t1" -v t0="$t0" -v s1="$s1" -v s0="$s0" \
            'BEGIN { printf "| %s | %s | %.3f | %.3f | %d |\n", m, b, (t1 - t0) / n, (s1 - s0) / n, n }'
    done
done
