# Shared by compare.sh and counts.sh (sourced, from the repository root):
# builds the servers and the load generator in release mode unless BUILD=0,
# compiles the C reference loop, and sets HAVE_CLI=1 when the `ioready`
# command with its echo-server is there.
HAVE_CLI=0
if [ "$BUILD" = 1 ]; then
    echo "== building (release)" >&2
    cargo build --release -q -p ioready-bench --bins --features uring
    cargo build --release -q -p ioready-loadgen --example loadgen
    cargo build --release -q -p ioready-cli || echo "warning: ioready-cli did not build; using target/release/ioready as it is" >&2
fi
if target/release/ioready echo-server --help >/dev/null 2>&1; then
    HAVE_CLI=1
fi
"${CC:-cc}" -O2 -o target/release/epoll_echo bench/c/epoll_echo.c
