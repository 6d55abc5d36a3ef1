#!/usr/bin/env bash
# Runs every check and test vpcflow has, exactly as CI does. Installs what it needs first.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    tests only (no fmt/clippy/doc/bench build)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vpcflow-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

scripts/install-test-deps.sh

if [[ "${1:-}" != "--quick" ]]; then
  echo "==> cargo fmt --check"
  cargo fmt --all -- --check
  echo "==> cargo clippy"
  cargo clippy --workspace --all-targets --locked -- -D warnings
  echo "==> cargo clippy --features distributed"
  cargo clippy --workspace --all-targets --locked --features distributed -- -D warnings
  echo "==> cargo doc"
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --features distributed
  echo "==> cargo bench --no-run"
  cargo bench -p vpcflow-benches --no-run --locked
fi
# The optional `distributed` feature (DataFusion) is on, so its tests run too; every test of
# the default build runs with it.
echo "==> cargo nextest run --features distributed"
cargo nextest run --workspace --locked --no-fail-fast --features distributed
echo "==> doctests"
cargo test --workspace --doc --locked --features distributed
