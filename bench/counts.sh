#!/usr/bin/env bash
# Deterministic costs per round trip: syscalls (strace -f -c) and user-space
# instructions (valgrind --tool=callgrind) of ioready's echo server and of
# each peer, on fixed work.
#
# Usage: bench/counts.sh [--quick] [--servers "ioready-epoll mio ..."]
#                        [--out DIR] [--doc FILE] [--no-build]
#
# Each server is run under the tool twice: once while the load generator
# makes every connection do exactly N round trips, once with zero round trips
# (connect, then close). The difference divided by the number of round trips
# is the cost of one round trip, with start-up, accept and close cancelled.
#
# Two kinds of load:
# * isolated: one request in flight at a time, each sent only once the
#   server is asleep in its wait (read from /proc/PID/stat), so that every
#   round trip pays a full wake-up; the counts are whole numbers.
# * loaded: 64 connections in closed loop; one wait serves many
#   connections, so the counts depend on timing (they are shown, not judged).
#
# Needs strace and valgrind: installed with apt-get if missing (as root).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
OUT=bench-results
DOC=
SERVERS_ARG=
BUILD=1
ARGS=()
for a in "$@"; do [ "$a" = --no-build ] || ARGS+=("$a"); done
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1; OUT=bench-results/quick ;;
        --servers) SERVERS_ARG=$2; shift ;;
        --no-build) BUILD=0 ;;
        --out) OUT=$2; shift ;;
        --doc) DOC=$2; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "counts.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
# The document the counts section is spliced into: BENCHMARKS.md for a full
# run, a report beside the figures of a quick one (wherever --out put them).
if [ -z "$DOC" ]; then
    if [ "$QUICK" = 1 ]; then DOC=$OUT/report.md; else DOC=BENCHMARKS.md; fi
fi

need=()
command -v strace >/dev/null || need+=(strace)
command -v valgrind >/dev/null || need+=(valgrind)
if [ ${#need[@]} -gt 0 ]; then
    echo "== installing ${need[*]}" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    else
        echo "counts.sh: needs ${need[*]} (not root: cannot install)" >&2
        exit 1
    fi
fi

if [ "$QUICK" = 1 ]; then
    ISO_CONNS=2; ISO_N=50; LOAD_CONNS=16; LOAD_N=50
else
    ISO_CONNS=4; ISO_N=250; LOAD_CONNS=64; LOAD_N=200
fi

. bench/build.sh
LOADGEN=(target/release/examples/loadgen)

declare -A CMD
ALL=()
if [ "$HAVE_CLI" = 1 ]; then
    for b in epoll poll select uring; do
        ALL+=("ioready-$b")
        CMD[ioready-$b]="target/release/ioready echo-server --quiet --backend $b --addr 127.0.0.1:0"
    done
fi
ALL+=(mio tokio c-epoll)
CMD[mio]="target/release/mio-echo 127.0.0.1:0"
CMD[tokio]="target/release/tokio-echo 127.0.0.1:0"
CMD[c-epoll]="target/release/epoll_echo 127.0.0.1:0"
# The server library on a named Selector backend (io_uring beside epoll):
# only on request (--servers "selector-epoll selector-uring"), built with the
# bench crate's feature `uring`.
SELECTOR_ECHO=()
if [ -x target/release/selector-echo ]; then
    for b in epoll uring; do
        SELECTOR_ECHO+=("selector-$b")
        CMD[selector-$b]="target/release/selector-echo $b 127.0.0.1:0"
    done
fi
if [ -n "$SERVERS_ARG" ]; then
    read -r -a SERVERS <<< "$SERVERS_ARG"
else
    SERVERS=("${ALL[@]}")
fi

mkdir -p "$OUT"
TMP=$(mktemp -d)
TOOL_PID=
cleanup() {
    if [ -n "$TOOL_PID" ]; then kill "$TOOL_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# run_under TOOL SERVER CONNS N ISOLATED(0/1) OUTFILE
# Starts SERVER under TOOL, loads it, stops it; leaves the tool's report in
# OUTFILE.
run_under() {
    local tool=$1 name=$2 conns=$3 n=$4 iso=$5 outfile=$6
    local pid addr=
    rm -f "$outfile" "$TMP/server.out"
    case "$tool" in
        # shellcheck disable=SC2086
        strace) strace -f -c -o "$outfile" ${CMD[$name]} > "$TMP/server.out" 2>&1 & ;;
        # shellcheck disable=SC2086
        callgrind) valgrind -q --tool=callgrind --callgrind-out-file="$outfile" \
            ${CMD[$name]} > "$TMP/server.out" 2>&1 & ;;
    esac
    TOOL_PID=$!
    for _ in $(seq 300); do
        addr=$(grep -oE '127\.0\.0\.1(:| port )[0-9]+' "$TMP/server.out" | head -1 | sed 's/ port /:/' || true)
        [ -n "$addr" ] && break
        kill -0 "$TOOL_PID" 2>/dev/null || break
        sleep 0.05
    done
    if [ -z "$addr" ]; then
        echo "error: $name did not start under $tool:" >&2
        cat "$TMP/server.out" >&2
        return 1
    fi
    # The server's own pid: under strace it is strace's child.
    if [ "$tool" = strace ]; then
        pid=$(cat "/proc/$TOOL_PID/task/$TOOL_PID/children" | awk '{print $1}')
    else
        pid=$TOOL_PID
    fi
    local extra=()
    if [ "$iso" = 1 ]; then extra=(--isolated --server-pid "$pid" --gap-us 50); fi
    if ! "${LOADGEN[@]}" --addr "$addr" -c "$conns" -n "$n" --quiet --json --timeout 300 \
        "${extra[@]}" > "$TMP/load.json"; then
        echo "error: load generator failed against $name under $tool:" >&2
        cat "$TMP/load.json" >&2
        return 1
    fi
    # Let the server see every close, then stop it (the tool writes its
    # report when the server exits, also on SIGTERM).
    sleep 0.5
    if [ "$tool" = callgrind ] && [[ "$name" == *uring* ]]; then
        # valgrind (3.19) keeps a signal pending while the process is in
        # io_uring_enter, which it does not count as a blocking call, so an
        # io_uring server never sees SIGTERM under it. Ask callgrind for its
        # report instead (vgdb), then stop the server.
        callgrind_control -d "$pid" >/dev/null 2>&1 || true
        kill -KILL "$pid" 2>/dev/null || true
        wait "$TOOL_PID" 2>/dev/null || true
        TOOL_PID=
        mv -f "$outfile.1" "$outfile" 2>/dev/null || true
        [ -s "$outfile" ] || { echo "error: callgrind wrote no report for $name" >&2; return 1; }
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$TOOL_PID" 2>/dev/null && [ $waited -lt 100 ]; do
        sleep 0.1
        waited=$((waited + 1))
        # A signal that arrived at an unlucky moment: say it again.
        if [ $waited = 50 ]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    if kill -0 "$TOOL_PID" 2>/dev/null; then
        echo "error: $name did not exit within 10 s of SIGTERM under $tool" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait "$TOOL_PID" 2>/dev/null || true
        TOOL_PID=
        return 1
    fi
    wait "$TOOL_PID" 2>/dev/null || true
    TOOL_PID=
    [ -s "$outfile" ] || { echo "error: $tool wrote no report for $name" >&2; return 1; }
}

# strace -c report -> "syscall calls errors" lines.
strace_calls() {
    awk '$1 ~ /^[0-9.]+$/ && $NF != "total" && NF >= 5 {
        errors = (NF == 6) ? $5 : 0; print $NF, $4, errors }' "$1"
}

# Per-round-trip syscalls: "total|breakdown" from two reports and a count.
syscall_diff() {
    local with=$1 base=$2 rts=$3
    awk -v rts="$rts" '
        FNR == NR { bc[$1] = $2; be[$1] = $3; names[$1] = 1; next }
        { wc[$1] = $2; we[$1] = $3; names[$1] = 1 }
        END {
            for (s in names)
                printf "%s %.4f %.4f\n", s, (wc[s] - bc[s]) / rts, (we[s] - be[s]) / rts
        }' <(strace_calls "$base") <(strace_calls "$with") | sort | awk '
        {
            total += $2
            if ($2 >= 0.005 || $2 <= -0.005) {
                part = sprintf("%s %.2f", $1, $2)
                if ($3 >= 0.005) part = part sprintf(" (%.2f failing)", $3)
                parts = parts (parts == "" ? "" : ", ") part
            }
        }
        END { printf "%.2f|%s\n", total, parts }'
}

callgrind_total() {
    awk '/^totals:/ {print $2; exit} /^summary:/ {s = $2} END {if (s) print s}' "$1" | head -1
}

RAW=$OUT/counts.tsv
echo "# server	load	connections	round_trips	syscalls_per_rt	breakdown	instructions_per_rt" > "$RAW"
for s in "${SERVERS[@]}"; do
    if [ -z "${CMD[$s]:-}" ]; then
        echo "counts.sh: unknown server $s (have: ${ALL[*]} ${SELECTOR_ECHO[*]})" >&2
        exit 2
    fi
    for load in isolated loaded; do
        if [ "$load" = isolated ]; then c=$ISO_CONNS; n=$ISO_N; iso=1; else c=$LOAD_CONNS; n=$LOAD_N; iso=0; fi
        rts=$((c * n))
        echo "== $s, $load: $c connections x $n round trips" >&2
        run_under strace "$s" "$c" "$n" "$iso" "$TMP/st.n"
        run_under strace "$s" "$c" 0 "$iso" "$TMP/st.0"
        sys=$(syscall_diff "$TMP/st.n" "$TMP/st.0" "$rts")
        # (io_uring servers are stopped through callgrind_control: see
        # run_under.)
        run_under callgrind "$s" "$c" "$n" "$iso" "$TMP/cg.n"
        run_under callgrind "$s" "$c" 0 "$iso" "$TMP/cg.0"
        ir_n=$(callgrind_total "$TMP/cg.n")
        ir_0=$(callgrind_total "$TMP/cg.0")
        ir=$(awk -v a="$ir_n" -v b="$ir_0" -v r="$rts" 'BEGIN { printf "%.1f", (a - b) / r }')
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$load" "$c" "$n" "${sys%%|*}" "${sys#*|}" "$ir" >> "$RAW"
        printf '   syscalls/rt %s (%s); user instructions/rt %s\n' "${sys%%|*}" "${sys#*|}" "$ir" >&2
    done
done

# Markdown, with ratios to the C loop in the same load.
MD=$OUT/counts.md
{
    echo "Reproduce with: \`bench/counts.sh${ARGS[*]:+ ${ARGS[*]}}\` (isolated: $ISO_CONNS connections x $ISO_N round trips;"
    echo "loaded: $LOAD_CONNS connections x $LOAD_N round trips; each minus a run with 0 round trips)."
    echo
    echo "| server | load | syscalls per round trip | of which | user instructions per round trip | vs C loop |"
    echo "|---|---|---:|---|---:|---:|"
    awk -F'\t' '
        NR == 1 { next }
        { row[NR] = $0; if ($1 == "c-epoll") c[$2] = $7 }
        END {
            for (i = 2; i <= NR; i++) {
                split(row[i], f, "\t")
                r = (c[f[2]] > 0) ? sprintf("%.2fx", f[7] / c[f[2]]) : "n/a"
                printf "| %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[5], f[6], f[7], r
            }
        }' "$RAW"
} > "$MD"
cat "$MD"
target/release/bench-report splice "$DOC" counts "$MD"
echo "== wrote $RAW, $MD and the counts section of $DOC" >&2
