#!/usr/bin/env bash
# Makes the benchmark-only virtualenv of the loop benchmark: the loops people
# pick instead of stock asyncio (uvloop, rloop) and pyperf, from PyPI at
# pinned versions, plus ioready's own wheels built here with maturin. None of
# these is a dependency of the package: they live in this venv only.
#
#   crates/ioready-python/bench/loops/setup.sh [--select REV] [--aio REV]
#
#   --select REV  build and install the ioready_select wheel (asyncio's
#                 selector loop over ioready's epoll) from git revision REV of
#                 this repository (default: 1dc18a5, the last revision before
#                 the package became `ioready`).
#   --aio REV     also build and install the `ioready` wheel (the native loop,
#                 ioready.new_event_loop) from git revision REV (the branch
#                 `aio`, or HEAD once it is merged). Skipped when not given.
#
# Each revision is exported with `git archive` into target/bench-src/<sha>,
# so a build never touches a work tree (not even its Cargo.lock), and is
# built in release mode with its own CARGO_TARGET_DIR.
#
# Environment: PYTHON (default python3.11), VENV (default
# target/bench-venv at the repository root).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
cd "$ROOT"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
VENV=${VENV:-$ROOT/target/bench-venv}
UVLOOP_VERSION=0.23.0
RLOOP_VERSION=0.5.0
PYPERF_VERSION=2.10.0
MATURIN_VERSION=1.16.0

SELECT_REV=1dc18a58107caa62587b5d88241af721c19a4654
AIO_REV=
while [ $# -gt 0 ]; do
    case "$1" in
        --select) SELECT_REV=$2; shift ;;
        --aio) AIO_REV=$2; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" "uvloop==$UVLOOP_VERSION" "rloop==$RLOOP_VERSION" "pyperf==$PYPERF_VERSION" \
    "maturin==$MATURIN_VERSION"

# build_wheel REV: exports REV, builds the Python crate's wheel, installs it.
build_wheel() {
    local rev sha src out
    rev=$1
    sha=$(git rev-parse --verify "$rev^{commit}")
    src=$ROOT/target/bench-src/$sha
    if [ ! -d "$src" ]; then
        mkdir -p "$src.tmp"
        git archive "$sha" | tar -x -C "$src.tmp"
        mv "$src.tmp" "$src"
    fi
    out=$src/wheels
    rm -rf "$out"
    echo "== building the wheel of $rev ($sha)" >&2
    (cd "$src/crates/ioready-python" &&
        CARGO_TARGET_DIR=$ROOT/target/bench-wheel-target PATH="$VENV/bin:$PATH" \
        maturin build --release --quiet --interpreter "$VENV/bin/python" \
            --compatibility linux --out "$out")
    "${PIP[@]}" --force-reinstall --no-deps "$out"/*.whl
    echo "$sha" > "$VENV/built-$2"
}

build_wheel "$SELECT_REV" select
if [ -n "$AIO_REV" ]; then
    build_wheel "$AIO_REV" aio
fi

"$VENV/bin/python" - <<'EOF'
import importlib.metadata as md
for d in ("uvloop", "rloop", "pyperf", "ioready-select", "ioready"):
    try:
        print(f"{d} {md.version(d)}")
    except md.PackageNotFoundError:
        print(f"{d} (not installed)")
EOF
