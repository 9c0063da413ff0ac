#!/usr/bin/env bash
# Installs the frameworks whose test suites judge an asyncio loop, each in a
# virtualenv of its own (their test pins disagree): uvicorn, aiohttp and
# websockets at pinned versions, built from their sdists (from PyPI, through
# pip), with their test dependencies; then, in each venv, the loops to compare
# (uvloop, rloop, pinned) and ioready's wheels, through
# ../bench/loops/setup.sh.
#
#   crates/ioready-python/frameworks/setup.sh [--aio REV] [--select REV] [uvicorn aiohttp websockets]
#
# Layout (at the repository root): target/frameworks/src/<name>-<version>/
# (the unpacked sdist, or for websockets the git checkout of its tag: its sdist
# prunes the tests), target/frameworks/venv-<name>/.
#
# websockets' tests come from its git repository at the tag of the pinned
# version: WEBSOCKETS_GIT (default https://github.com/python-websockets/websockets).
# Environment: PYTHON (default python3.11).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
cd "$ROOT"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
UVICORN_VERSION=0.55.0
AIOHTTP_VERSION=3.14.5
# 17.0.1, not the newest 17.4: the newest tag whose tests we could fetch
# (the sdist has none); the suite must match the code it tests.
WEBSOCKETS_VERSION=17.0.1
WEBSOCKETS_GIT=${WEBSOCKETS_GIT:-https://github.com/python-websockets/websockets}
FW=$ROOT/target/frameworks
mkdir -p "$FW/src" "$FW/sdist"

LOOPS_SETUP=("$ROOT/crates/ioready-python/bench/loops/setup.sh")
NAMES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --aio) LOOPS_SETUP+=(--aio "$2"); shift ;;
        --select) LOOPS_SETUP+=(--select "$2"); shift ;;
        uvicorn|aiohttp|websockets) NAMES+=("$1") ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ ${#NAMES[@]} -gt 0 ] || NAMES=(uvicorn aiohttp websockets)

# sdist NAME VERSION: downloads and unpacks the sdist; prints its folder.
sdist() {
    local f
    f=$FW/sdist/$1-$2.tar.gz
    if [ ! -f "$f" ]; then
        "$PYTHON" -m pip download --quiet --disable-pip-version-check --no-deps \
            --no-binary :all: -d "$FW/sdist" "$1==$2" >&2
    fi
    if [ ! -d "$FW/src/$1-$2" ]; then
        tar -xzf "$f" -C "$FW/src"
    fi
    echo "$FW/src/$1-$2"
}

venv() {
    local v=$FW/venv-$1
    [ -x "$v/bin/python" ] || "$PYTHON" -m venv "$v"
    echo "$v"
}

pipin() {
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check "${@:2}"
}

for name in "${NAMES[@]}"; do
    echo "== $name" >&2
    case "$name" in
    uvicorn)
        src=$(sdist uvicorn "$UVICORN_VERSION")
        v=$(venv uvicorn)
        # The test dependencies of uvicorn's dev group (pyproject.toml),
        # without its linters, type checkers and coverage tools.
        pipin "$v" "$src[standard]" pytest==9.2.0 pytest-mock==3.17.0 trustme==1.2.1 \
            cryptography==50.0.2 httpx2==2.16.2 a2wsgi==1.10.10 wsproto==1.3.2 zttp==0.0.35 \
            pytest-timeout==2.4.0
        ;;
    aiohttp)
        src=$(sdist aiohttp "$AIOHTTP_VERSION")
        v=$(venv aiohttp)
        # requirements/test.txt as pinned by aiohttp, less mypy and
        # python-on-whales (type checking and docker-driven autobahn runs,
        # neither of which the loop affects).
        grep -vE '^(mypy|python-on-whales|librt|ast-serialize)==' "$src/requirements/test.txt" > "$FW/aiohttp-test-reqs.txt"
        pipin "$v" -r "$FW/aiohttp-test-reqs.txt"
        pipin "$v" --no-deps "$src"
        ;;
    websockets)
        src=$FW/src/websockets-$WEBSOCKETS_VERSION
        if [ ! -d "$src" ]; then
            git clone --quiet --depth 1 --branch "$WEBSOCKETS_VERSION" "$WEBSOCKETS_GIT" "$src.tmp"
            mv "$src.tmp" "$src"
        fi
        v=$(venv websockets)
        # tests/requirements.txt, less mitmproxy (its proxy tests fail alike
        # on every loop without it), plus pytest to run the unittest suite
        # with per-test reports.
        pipin "$v" "websockets==$WEBSOCKETS_VERSION" "python-socks[asyncio]==3.2.1" trio==0.35.0 \
            werkzeug==3.1.9 pytest==9.2.0 pytest-timeout==2.4.0
        ;;
    esac
    VENV=$v "${LOOPS_SETUP[@]}" >&2
done
