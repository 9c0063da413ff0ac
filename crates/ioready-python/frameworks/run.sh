#!/usr/bin/env bash
# The test suites of uvicorn, aiohttp and websockets on stock asyncio and on
# other loops, side by side: every test that passes on stock asyncio and not
# on a loop is listed with the first line of its failure.
#
#   crates/ioready-python/frameworks/run.sh [--loops "SPEC ..."] [--jobs N] [--reuse-reference]
#                                           [uvicorn aiohttp websockets]
#
# A loop is named by its factory, "module:callable", or
# "module:callable@ENGINE" to run it with IOREADY_BACKEND=ENGINE (ioready's
# engine: uring, epoll, ...; results tagged module@ENGINE); stock asyncio
# (asyncio:new_event_loop) runs first, as the reference (--reuse-reference:
# keep the reference results of an earlier run when there are some). Default
# loops: uvloop, rloop, ioready_select and, when installed, ioready. Needs
# frameworks/setup.sh first. The suite is bound to a loop by loopbind.py (an
# event loop policy whose new_event_loop calls the factory; see there).
#
# Not in the default CI: aiohttp's suite alone takes ~10 minutes per loop on
# 2 cores. Results: target/frameworks/results/<framework>/<loop>.xml (junit)
# and .log; the comparison in bench-results/frameworks.md (OUT=...).
#
# Options of the suites (all loops alike): uvicorn: its pyproject addopts
# less xdist's "-n 8", without tests/benchmarks (codspeed timings);
# aiohttp: its pytest.ini addopts less coverage and doctests, xdist with --jobs workers (default 2), the same markers
# ("not dev_mode and not autobahn and not internal"); websockets: the asyncio
# and legacy (asyncio) packages of its unittest suite, run by pytest. Every
# test has a 120 s timeout (pytest-timeout).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
FW=$ROOT/target/frameworks
OUT=${OUT:-$ROOT/bench-results/frameworks.md}
ARGS=("$@")
LOOPS=
JOBS=2
REUSE=0
NAMES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --loops) LOOPS=$2; shift ;;
        --jobs) JOBS=$2; shift ;;
        --reuse-reference) REUSE=1 ;;
        uvicorn|aiohttp|websockets) NAMES+=("$1") ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#NAMES[@]} -gt 0 ] || NAMES=(uvicorn aiohttp websockets)

ulimit -n "$(ulimit -Hn)"
for name in "${NAMES[@]}"; do
    v=$FW/venv-$name
    if [ ! -x "$v/bin/pytest" ]; then
        echo "run.sh: $v is missing: run frameworks/setup.sh $name first" >&2
        exit 2
    fi
    loops=$LOOPS
    if [ -z "$loops" ]; then
        loops="uvloop:new_event_loop rloop:new_event_loop ioready_select:new_event_loop"
        if "$v/bin/python" -c "import ioready; ioready.new_event_loop" 2>/dev/null; then
            loops="$loops ioready:new_event_loop"
        fi
    fi
    res=$FW/results/$name
    mkdir -p "$res"
    ref=asyncio:new_event_loop
    if [ "$REUSE" = 1 ] && [ -s "$res/asyncio.xml" ]; then ref=; fi
    for spec in $ref $loops; do
        # module:callable@ENGINE: the loop on that engine (IOREADY_BACKEND),
        # its results tagged module@ENGINE.
        engine=
        case "$spec" in *@*) engine=${spec##*@}; spec=${spec%@*} ;; esac
        tag=${spec%%:*}${engine:+@$engine}
        case "$name" in
        uvicorn)
            src=$FW/src/uvicorn-$(ls "$FW/src" | sed -n 's/^uvicorn-//p' | head -1)
            args=(-o 'addopts=-rxXs --strict-markers' --ignore=tests/benchmarks tests) ;;
        aiohttp)
            src=$FW/src/aiohttp-$(ls "$FW/src" | sed -n 's/^aiohttp-//p' | head -1)
            args=(-o 'addopts=-ra --strict-markers' -m 'not dev_mode and not autobahn and not internal'
                  -n "$JOBS" tests) ;;
        websockets)
            src=$FW/src/websockets-$(ls "$FW/src" | sed -n 's/^websockets-//p' | head -1)
            args=(tests/asyncio tests/legacy) ;;
        esac
        echo "== $name on $spec" >&2
        rm -f "$res/$tag.xml" "$res/$tag.log"
        start=$(date +%s)
        set +e
        envs=("IOREADY_TEST_LOOP=$spec" "PYTHONPATH=$HERE")
        [ -z "$engine" ] || envs+=("IOREADY_BACKEND=$engine")
        (cd "$src" && env "${envs[@]}" "$v/bin/pytest" -p loopbind \
            -p no:cacheprovider --timeout 120 --junitxml="$res/$tag.xml" -q "${args[@]}") \
            > "$res/$tag.log" 2>&1
        rc=$?
        set -e
        echo "   exit $rc after $(( $(date +%s) - start )) s: $(tail -n 1 "$res/$tag.log")" >&2
    done
done

"$ROOT/target/frameworks/venv-${NAMES[0]}/bin/python" "$HERE/compare.py" --results "$FW/results" \
    --out "$OUT" --command "crates/ioready-python/frameworks/run.sh${ARGS[*]:+ ${ARGS[*]}}"
