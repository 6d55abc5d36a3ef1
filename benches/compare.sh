#!/usr/bin/env bash
# Times vpcflow against baselines on one generated file, in one run, on this machine:
#   wc -l, gzip -dc, DuckDB read_csv (1 and 2 threads), and vpcflow parse/verdict on the plain
#   and the .gz file with 1 and 2 threads. Prints a markdown table of wall times, MB/s and the
#   ratios the targets in docs/performance.md are stated in.
#
#   benches/compare.sh [RECORDS]        (default 5,000,000: about 550 MB)
# Needs: python3 with duckdb (pip install duckdb), gzip, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vpcflow-target}"
RECORDS="${1:-5000000}"
WORK="${WORK:-$(mktemp -d)}"
cargo build --release -q
VPCFLOW="$CARGO_TARGET_DIR/release/vpcflow"
python3 -c "import duckdb" 2>/dev/null || python3 -m pip install --quiet duckdb

LOG="$WORK/flows.log"
if [[ ! -f "$LOG" ]]; then
  "$VPCFLOW" generate --records "$RECORDS" --header --catalogue "$WORK/endpoints.toml" --out "$LOG"
  gzip -1 -c "$LOG" > "$LOG.gz"
fi
BYTES=$(stat -c %s "$LOG")
MB=$(python3 -c "print($BYTES/1e6)")

# Best of 3 wall-clock seconds of a command (file cache warm after the first).
best() {
  local best=""
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N); "$@" > /dev/null 2>&1 || true; e=$(date +%s.%N)
    best=$(python3 -c "b='$best'; t=$e-$s; print(t if b=='' or t<float(b) else b)")
  done
  echo "$best"
}

duck() {
  python3 - "$1" "$2" <<'PY'
import sys, time, duckdb
path, threads = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
best = None
for _ in range(3):
    t = time.perf_counter()
    con.execute(f"SELECT action, count(*), sum(bytes) FROM read_csv('{path}', delim=' ', header=true, nullstr='-') GROUP BY 1").fetchall()
    d = time.perf_counter() - t
    best = d if best is None or d < best else best
print(best)
PY
}

declare -A T
T[wc]=$(best wc -l "$LOG")
T[gzip]=$(best gzip -dc "$LOG.gz")
T[duck1]=$(duck "$LOG" 1)
T[duck2]=$(duck "$LOG" 2)
T[duckgz]=$(duck "$LOG.gz" 2)
T[parse1]=$(best "$VPCFLOW" parse --threads 1 --output summary "$LOG")
T[parse2]=$(best "$VPCFLOW" parse --threads 2 --output summary "$LOG")
T[parsegz1]=$(best "$VPCFLOW" parse --threads 1 --output summary "$LOG.gz")
T[verdict1]=$(best "$VPCFLOW" verdict --threads 1 --endpoints "$WORK/endpoints.toml" --output json "$LOG")
T[verdict2]=$(best "$VPCFLOW" verdict --threads 2 --endpoints "$WORK/endpoints.toml" --output json "$LOG")
T[verdictgz1]=$(best "$VPCFLOW" verdict --threads 1 --endpoints "$WORK/endpoints.toml" --output json "$LOG.gz")

python3 - "$MB" "$RECORDS" <<PY
import sys
mb, records = float(sys.argv[1]), int(sys.argv[2])
t = {k: float(v) for k, v in dict(
    wc="${T[wc]}", gzip="${T[gzip]}", duck1="${T[duck1]}", duck2="${T[duck2]}", duckgz="${T[duckgz]}",
    parse1="${T[parse1]}", parse2="${T[parse2]}", parsegz1="${T[parsegz1]}",
    verdict1="${T[verdict1]}", verdict2="${T[verdict2]}", verdictgz1="${T[verdictgz1]}").items()}
rows = [
    ("wc -l", "wc"), ("gzip -dc file.gz", "gzip"),
    ("DuckDB read_csv GROUP BY action, 1 thread", "duck1"), ("DuckDB, 2 threads", "duck2"),
    ("DuckDB on the .gz, 2 threads", "duckgz"),
    ("vpcflow parse --output summary, 1 thread", "parse1"), ("vpcflow parse, 2 threads (one file)", "parse2"),
    ("vpcflow parse on the .gz, 1 thread", "parsegz1"),
    ("vpcflow verdict (20 endpoints), 1 thread", "verdict1"), ("vpcflow verdict, 2 threads (one file)", "verdict2"),
    ("vpcflow verdict on the .gz, 1 thread", "verdictgz1"),
]
print(f"{records:,} records, {mb:.0f} MB uncompressed\n")
print("| what | wall (s) | MB/s | records/s |")
print("| --- | ---: | ---: | ---: |")
for name, k in rows:
    print(f"| {name} | {t[k]:.2f} | {mb/t[k]:.0f} | {records/t[k]:,.0f} |")
print()
print("| target | ratio | met |")
print("| --- | ---: | :---: |")
def target(name, ratio, want):
    print(f"| {name} | {ratio:.2f}x | {'yes' if ratio >= want else 'no'} |")
target("parse 1 thread vs DuckDB 1 thread (want >= 3x)", t["duck1"] / t["parse1"], 3)
target("verdict vs DuckDB 1 thread (want >= 2x)", t["duck1"] / t["verdict1"], 2)
target("parse .gz vs DuckDB on .gz (want >= 2x)", t["duckgz"] / t["parsegz1"], 2)
target("parse .gz vs gzip -dc alone (want > 1x)", t["gzip"] / t["parsegz1"], 1.0001)
target("parse v2 MB/s per core vs 1 GB/s (want >= 1)", mb / t["parse1"] / 1000, 1)
PY
