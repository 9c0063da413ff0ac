# Sourced by ci/python.sh and ci/asyncio.sh: the step accounting both share.
#
# step NAME CMD...: runs CMD (in $STEP_DIR, default the current directory)
# and adds the last `N passed, M failed` it printed to the totals; without
# one, it counts as 1 passed or 1 failed by its exit status. A failing exit
# status is at least one failure. steps_summary prints every step's line and
# the sum (`N passed, M failed`, the format the callers' callers parse) and
# fails if anything failed.

total_passed=0
total_failed=0
summary=()

step() {
    local name=$1 out rc=0 line p f t0
    shift
    echo "== $name"
    t0=$SECONDS
    out=$(mktemp)
    (cd "${STEP_DIR:-.}" && "$@") 2>&1 | tee "$out" || rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)
    rm -f "$out"
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*passed, }
        f=${f%% failed*}
    elif [ "$rc" -eq 0 ]; then
        p=1 f=0
    else
        p=0 f=1
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    summary+=("$name: $p passed, $f failed ($((SECONDS - t0)) s)")
}

steps_summary() {
    echo "== summary"
    for line in "${summary[@]}"; do
        echo "  $line"
    done
    echo "$total_passed passed, $total_failed failed"
    [ "$total_failed" -eq 0 ]
}
