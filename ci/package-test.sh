#!/usr/bin/env bash
# Packs every published crate, then builds and tests each from its unpacked
# archive, outside the workspace (as a user of the published crate would),
# with the workspace siblings patched in from their unpacked archives.
# (`--no-verify`: the tests below build each package from its archive.)
# Usage: bash ci/package-test.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
crates=(ioready ioready-server ioready-loadgen ioready-cli)
cargo package --no-verify --allow-dirty $(printf -- '-p %s ' "${crates[@]}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
patch=()
for c in "${crates[@]}"; do
    # The archive itself (the unpacked directory beside it is made only by
    # a verifying `cargo package`, and may be stale).
    tar -xzf "target/package/$c-0.1.0.crate" -C "$out"
    patch+=(--config "patch.crates-io.$c.path=\"$out/$c-0.1.0\"")
done
export CARGO_TARGET_DIR="$PWD/target/package-test"
for c in "${crates[@]}"; do
    features=()
    case $c in ioready | ioready-server) features=(--features uring) ;; esac
    echo "== $c, from its package"
    (cd "$out/$c-0.1.0" && cargo test "${patch[@]}" "${features[@]}")
done
