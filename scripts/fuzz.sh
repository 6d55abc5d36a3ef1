#!/usr/bin/env bash
# Runs a fuzz target (fuzz/fuzz_targets/TARGET.rs) for SECONDS on the stable toolchain:
# libFuzzer with LLVM's sanitizer coverage switched on by rustc flags, which is what
# `cargo +nightly fuzz run` does, minus the address sanitizer (nightly-only).
#   scripts/fuzz.sh decode 300      (targets: decode, scan, inflate, parquet)
# The corpus grows under fuzz/corpus/TARGET (not committed); a crash is written to
# fuzz/artifacts/TARGET and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
TARGET="${1:?target: decode, scan, inflate or parquet}"
SECONDS_="${2:-60}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/vpcflow-fuzz-target}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
# --target keeps the flags off build scripts, which would not link with them.
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=3 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions" \
  cargo build --release --target "$TRIPLE" --bin "$TARGET"
mkdir -p "corpus/$TARGET" "artifacts/$TARGET"
"$CARGO_TARGET_DIR/$TRIPLE/release/$TARGET" -max_total_time="$SECONDS_" -max_len=4096 \
  -artifact_prefix="artifacts/$TARGET/" "corpus/$TARGET"
