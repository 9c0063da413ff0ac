#!/usr/bin/env bash
# Builds every wheel of ioready (the Python package), and its sdist, into dist/ (next to this script), on a
# fresh machine: all it needs besides a Rust toolchain and a CPython is
# installed from PyPI, at pinned versions, into a virtualenv of its own
# (.venv-build, next to this script).
#
#   crates/ioready-python/build-wheels.sh
#   PYTHONS="python3.11 python3.12" crates/ioready-python/build-wheels.sh
#
# Wheels (all stripped, release profile, linked by maturin through zig against
# glibc 2.17, so tagged manylinux2014 / manylinux_2_17 and checked with
# `auditwheel show`):
#   * ...-cp39-abi3-manylinux2014_x86_64...whl: stable ABI (cargo feature
#     `abi3`, limited API of 3.9: METH_VARARGS entry points), for CPython 3.9;
#   * ...-cp310-abi3-manylinux2014_x86_64...whl: stable ABI (`abi3-py310`,
#     limited API of 3.10, which has METH_FASTCALL), for every CPython >= 3.10;
#   * ...-cpXY-cpXY-manylinux2014_x86_64...whl: one per interpreter in
#     $PYTHONS (default: python3.11), full C API (list/tuple macros, and
#     PyO3's fastest method calls).
# pip picks, for each interpreter, its version-specific wheel if there is
# one, else the abi3 wheel with the highest version it satisfies.
#
# Exit status non-zero if a build fails or a wheel is not manylinux2014.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
PYTHONS=${PYTHONS:-$PYTHON}
VENV=${BUILD_VENV:-$HERE/.venv-build}
MATURIN_VERSION=1.16.0
ZIGLANG_VERSION=0.13.0
AUDITWHEEL_VERSION=6.4.2
PLATFORM=manylinux2014
DIST=$HERE/dist

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin==$MATURIN_VERSION" "ziglang==$ZIGLANG_VERSION" "auditwheel==$AUDITWHEEL_VERSION"
# maturin finds zig as `python -m ziglang` of the interpreter on PATH first.
export PATH="$VENV/bin:$PATH"

rm -rf "$DIST"
mkdir -p "$DIST"
# An extension built in place by `maturin develop` would be packed too.
rm -f "$HERE"/python/ioready/*.so
build() {
    "$VENV/bin/maturin" build --release --strip --zig --compatibility "$PLATFORM" \
        --out "$DIST" "$@"
}
echo "== build-wheels: cp39-abi3 (CPython >= 3.9, limited API)"
build --interpreter "$PYTHON" --features extension-module,abi3
echo "== build-wheels: cp310-abi3 (CPython >= 3.10, limited API)"
build --interpreter "$PYTHON" --features extension-module,abi3-py310
for py in $PYTHONS; do
    echo "== build-wheels: $("$py" --version) (full API)"
    build --interpreter "$(command -v "$py")"
done

echo "== build-wheels: source distribution"
"$VENV/bin/maturin" sdist --out "$DIST"

status=0
for whl in "$DIST"/*.whl; do
    echo "== auditwheel show $(basename "$whl")"
    report=$("$VENV/bin/auditwheel" show "$whl")
    echo "$report"
    # auditwheel names the most compatible policy the wheel satisfies (its
    # report is wrapped: the lines are joined before matching).
    if ! tr -s ' \n' ' ' <<<"$report" | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"'; then
        echo "build-wheels: $(basename "$whl") is not manylinux_2_17 (manylinux2014)" >&2
        status=1
    fi
done
# has PATTERN: whether a line of stdin matches the glob PATTERN.
has() {
    local name
    while read -r name; do
        # shellcheck disable=SC2053  # a glob match, on purpose
        [[ $name == $1 ]] && return 0
    done
    return 1
}

# What every wheel must carry: one extension module, the stubs and py.typed
# (PEP 561), and both license texts (the crate's LICENSE-* are symlinks to
# the repository root's, as PEP 639 forbids `..` in license-files; maturin
# would silently skip a dangling one).
want=(ioready/py.typed ioready/__init__.pyi ioready/_ioready.pyi ioready/select.pyi ioready/_loop.pyi
      ioready/_transport.pyi ioready/_glue.pyi ioready/_runner.pyi ioready/_transport.py ioready/_glue.py
      ioready/_uring.py ioready/_uring.pyi
      "ioready-*.dist-info/licenses/LICENSE-MIT"
      "ioready-*.dist-info/licenses/LICENSE-APACHE")
for whl in "$DIST"/*.whl; do
    names=$("$VENV/bin/python" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$whl")
    for pattern in "${want[@]}"; do
        if ! has "$pattern" <<<"$names"; then
            echo "build-wheels: $(basename "$whl") lacks $pattern" >&2
            status=1
        fi
    done
    if [ "$(grep -c '\.so$' <<<"$names")" -ne 1 ]; then
        echo "build-wheels: $(basename "$whl") does not hold exactly one extension module" >&2
        status=1
    fi
done
# The sdist: the package metadata names both license files and carries them,
# and the library crate it depends on by path is inside.
sdist=$(ls "$DIST"/ioready-*.tar.gz)
names=$(tar -tzf "$sdist")
for pattern in "*/PKG-INFO" "*/LICENSE-MIT" "*/LICENSE-APACHE" "*/pyproject.toml" \
    "*/ioready/Cargo.toml" "*/ioready/src/lib.rs" "*/src/lib.rs" "*/python/ioready/py.typed"; do
    if ! has "$pattern" <<<"$names"; then
        echo "build-wheels: $(basename "$sdist") lacks $pattern" >&2
        status=1
    fi
done
ls -l "$DIST"
exit $status
