#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and fails loudly if it cannot:
#   - cargo-nextest (the test runner),
#   - moto[server] from PyPI: the real AWS-protocol server the S3 and CloudWatch Logs tests
#     start on a loopback port (they fail, never skip, without it),
#   - pyarrow and duckdb from PyPI: independent readers the Parquet tests check files with.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

need=()
command -v moto_server >/dev/null 2>&1 || need+=("moto[server]")
"$PYTHON" -c "import pyarrow" 2>/dev/null || need+=("pyarrow")
"$PYTHON" -c "import duckdb" 2>/dev/null || need+=("duckdb")
if ((${#need[@]})); then
  echo "==> pip install ${need[*]}"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "${need[@]}"
fi
command -v moto_server >/dev/null 2>&1 || {
  echo "moto_server is still not on PATH after installing moto[server]" >&2
  exit 1
}
