#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, and fails loudly if it cannot:
#   - cargo-nextest (the test runner),
#   - moto[server] from PyPI, pinned to $MOTO_VERSION: the real AWS-protocol server the S3,
#     CloudWatch Logs, EC2 and RDS tests start on a loopback port (they fail, never skip,
#     without it). 5.2.5 is the first version whose StartLiveTail the live-tail test can use
#     (moto implements it from 5.2.2; 5.2.5 is the version the tests were written against);
#     its S3 sends ObjectCreated notifications to its SQS (tests/sqs.rs), and boto3, which it
#     brings, sets the server up in that test,
#   - pyarrow and duckdb from PyPI: independent readers the Parquet tests check files with,
#   - jsonschema from PyPI: validates OCSF events against testdata/ocsf/schema,
#   - sqlglot from PyPI, pinned: parses the Athena DDL `convert --athena-ddl` prints (Athena
#     dialect),
#   - Chromium from Debian's packages: the real browser the HTML report is checked in (headless;
#     nothing is downloaded at test time).
set -euo pipefail

PYTHON="${PYTHON:-python3}"
MOTO_VERSION="5.2.5"
SQLGLOT_VERSION="30.31.0"

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "==> installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

need=()
have_moto="$("$PYTHON" -c 'import moto; print(moto.__version__)' 2>/dev/null || true)"
if [[ "$have_moto" != "$MOTO_VERSION" ]] || ! command -v moto_server >/dev/null 2>&1; then
  need+=("moto[server]==$MOTO_VERSION")
fi
"$PYTHON" -c "import pyarrow" 2>/dev/null || need+=("pyarrow")
"$PYTHON" -c "import duckdb" 2>/dev/null || need+=("duckdb")
"$PYTHON" -c "import jsonschema" 2>/dev/null || need+=("jsonschema")
[[ "$("$PYTHON" -c 'import sqlglot; print(sqlglot.__version__)' 2>/dev/null || true)" == "$SQLGLOT_VERSION" ]] ||
  need+=("sqlglot==$SQLGLOT_VERSION")
if ((${#need[@]})); then
  echo "==> pip install ${need[*]}"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "${need[@]}"
fi
command -v moto_server >/dev/null 2>&1 || {
  echo "moto_server is still not on PATH after installing moto[server]==$MOTO_VERSION" >&2
  exit 1
}
have_moto="$("$PYTHON" -c 'import moto; print(moto.__version__)')"
[[ "$have_moto" == "$MOTO_VERSION" ]] || {
  echo "moto is $have_moto after installing moto[server]==$MOTO_VERSION" >&2
  exit 1
}

if ! command -v chromium >/dev/null 2>&1; then
  echo "==> apt-get install chromium"
  sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
command -v chromium >/dev/null 2>&1 || {
  echo "chromium is still not on PATH after apt-get install chromium" >&2
  exit 1
}
