#!/usr/bin/env bash
# Times vpcflow against baselines on one generated file, in one run, on this machine:
#   wc -l, gzip -dc, DuckDB read_csv (1 and 2 threads, plain and .gz), and vpcflow
#   parse/verdict on the plain and the .gz file with 1 and 2 threads, and on the file cut in two
#   (two inputs). Prints a markdown table of wall times, MB/s, peak RSS and the ratios the
#   targets in docs/performance.md are stated in.
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
if [[ ! -f "$WORK/halves/a.log" ]]; then
  mkdir -p "$WORK/halves"
  # Two inputs of half the records each (the header line stays with the first).
  split -n l/2 -d "$LOG" "$WORK/halves/part" && mv "$WORK/halves/part00" "$WORK/halves/a.log" \
    && mv "$WORK/halves/part01" "$WORK/halves/b.log"
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

# Peak RSS (KB) of one run.
rss() {
  /usr/bin/time -o "$WORK/rss.txt" -f "%M" "$@" > /dev/null 2>&1 || true
  tail -1 "$WORK/rss.txt"
}

declare -A T
T[wc]=$(best wc -l "$LOG")
T[gzip]=$(best gzip -dc "$LOG.gz")
T[duck1]=$(duck "$LOG" 1)
T[duck2]=$(duck "$LOG" 2)
T[duckgz]=$(duck "$LOG.gz" 2)
T[duckgz1]=$(duck "$LOG.gz" 1)
T[parse1]=$(best "$VPCFLOW" parse --threads 1 --output summary "$LOG")
T[parse2]=$(best "$VPCFLOW" parse --threads 2 --output summary "$LOG")
T[parsegz1]=$(best "$VPCFLOW" parse --threads 1 --output summary "$LOG.gz")
T[parsegz2]=$(best "$VPCFLOW" parse --threads 2 --output summary "$LOG.gz")
T[halves1]=$(best "$VPCFLOW" parse --threads 1 --output summary "$WORK/halves/a.log" "$WORK/halves/b.log")
T[halves2]=$(best "$VPCFLOW" parse --threads 2 --output summary "$WORK/halves/a.log" "$WORK/halves/b.log")
T[verdict1]=$(best "$VPCFLOW" verdict --threads 1 --endpoints "$WORK/endpoints.toml" --output json "$LOG")
T[verdict2]=$(best "$VPCFLOW" verdict --threads 2 --endpoints "$WORK/endpoints.toml" --output json "$LOG")
T[verdictgz1]=$(best "$VPCFLOW" verdict --threads 1 --endpoints "$WORK/endpoints.toml" --output json "$LOG.gz")
T[verdictgz2]=$(best "$VPCFLOW" verdict --threads 2 --endpoints "$WORK/endpoints.toml" --output json "$LOG.gz")
R_PARSE=$(rss "$VPCFLOW" parse --threads 2 --output summary "$LOG")
R_VERDICT=$(rss "$VPCFLOW" verdict --threads 2 --endpoints "$WORK/endpoints.toml" --output json "$LOG")

python3 - "$MB" "$RECORDS" "$R_PARSE" "$R_VERDICT" <<PY
import sys
mb, records = float(sys.argv[1]), int(sys.argv[2])
rss_parse, rss_verdict = int(sys.argv[3]) / 1024, int(sys.argv[4]) / 1024
t = {k: float(v) for k, v in dict(
    wc="${T[wc]}", gzip="${T[gzip]}", duck1="${T[duck1]}", duck2="${T[duck2]}", duckgz="${T[duckgz]}",
    duckgz1="${T[duckgz1]}", parse1="${T[parse1]}", parse2="${T[parse2]}", parsegz1="${T[parsegz1]}",
    parsegz2="${T[parsegz2]}", halves1="${T[halves1]}", halves2="${T[halves2]}",
    verdict1="${T[verdict1]}", verdict2="${T[verdict2]}", verdictgz1="${T[verdictgz1]}",
    verdictgz2="${T[verdictgz2]}").items()}
rows = [
    ("wc -l", "wc"), ("gzip -dc file.gz", "gzip"),
    ("DuckDB read_csv GROUP BY action, 1 thread", "duck1"), ("DuckDB, 2 threads", "duck2"),
    ("DuckDB on the .gz, 1 thread", "duckgz1"), ("DuckDB on the .gz, 2 threads", "duckgz"),
    ("vpcflow parse --output summary, 1 thread", "parse1"), ("vpcflow parse, 2 threads (one file, split)", "parse2"),
    ("vpcflow parse, two files, 1 thread", "halves1"), ("vpcflow parse, two files, 2 threads", "halves2"),
    ("vpcflow parse on the .gz, 1 thread", "parsegz1"), ("vpcflow parse on the .gz, 2 threads (inflate | decode)", "parsegz2"),
    ("vpcflow verdict (20 endpoints), 1 thread", "verdict1"), ("vpcflow verdict, 2 threads (one file, split)", "verdict2"),
    ("vpcflow verdict on the .gz, 1 thread", "verdictgz1"), ("vpcflow verdict on the .gz, 2 threads", "verdictgz2"),
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
target("parse 2 threads vs DuckDB 2 threads (want >= 3x)", t["duck2"] / t["parse2"], 3)
target("verdict 1 thread vs DuckDB 1 thread (want >= 2x)", t["duck1"] / t["verdict1"], 2)
target("verdict 2 threads vs DuckDB 2 threads (want >= 2x)", t["duck2"] / t["verdict2"], 2)
target("parse .gz 2 threads vs DuckDB on .gz 2 threads (want >= 2x)", t["duckgz"] / t["parsegz2"], 2)
target("parse .gz 2 threads vs gzip -dc alone (want > 1x)", t["gzip"] / t["parsegz2"], 1.0001)
target("parse .gz 1 thread vs gzip -dc alone (want > 1x)", t["gzip"] / t["parsegz1"], 1.0001)
target("two files: 2 threads vs 1 thread (want >= 1.8x)", t["halves1"] / t["halves2"], 1.8)
target("one file split: 2 threads vs 1 thread (want >= 1.8x)", t["parse1"] / t["parse2"], 1.8)
target("parse v2 GB/s per core, 1 thread (want >= 1)", mb / t["parse1"] / 1000, 1)
target("parse v2 GB/s per core, 2 threads (want >= 1)", mb / t["parse2"] / 2000, 1)
print()
print(f"Peak RSS, 2 threads: parse {rss_parse:.0f} MiB, verdict {rss_verdict:.0f} MiB (want < 256 MiB)")
PY
