#!/usr/bin/env bash
# Times vpcflow against baselines on one generated file, in one run, on this machine:
#   wc -l, gzip -dc, DuckDB read_csv (1 and 2 threads, plain and .gz), the DuckDB verdict query
#   (benches/duckdb_verdict.py, 1 and 2 threads, its pairs checked against vpcflow's), and
#   vpcflow parse/verdict on the plain and the .gz file with 1 and 2 threads, on the file cut in
#   two (two inputs), and on a realistic mix (`generate --db-share 0.05 --enis 500`: 5% of the
#   records touch a catalogued endpoint, random 10.x addresses and ports). Prints a markdown
#   table of wall times, MB/s, peak RSS and the ratios the targets in docs/performance.md are
#   stated in.
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
MIX="$WORK/mix.log"
if [[ ! -f "$MIX" ]]; then
  "$VPCFLOW" generate --records "$RECORDS" --db-share 0.05 --enis 500 --header \
    --catalogue "$WORK/mix.toml" --out "$MIX"
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

# The DuckDB verdict query: best-of-3 seconds; its pairs must be vpcflow's (else the run fails).
duckverdict() {
  "$VPCFLOW" verdict --threads 2 --endpoints "$2" --output json "$1" > "$WORK/ours.json" 2>/dev/null || true
  local out
  out=$(python3 benches/duckdb_verdict.py "$1" "$2" "$3" "$WORK/ours.json")
  echo "$out" | sed -n 2p >&2
  echo "$out" | head -1
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
T[duckmix1]=$(duck "$MIX" 1)
T[duckmix2]=$(duck "$MIX" 2)
T[parsemix1]=$(best "$VPCFLOW" parse --threads 1 --output summary "$MIX")
T[parsemix2]=$(best "$VPCFLOW" parse --threads 2 --output summary "$MIX")
T[verdictmix1]=$(best "$VPCFLOW" verdict --threads 1 --endpoints "$WORK/mix.toml" --output json "$MIX")
T[verdictmix2]=$(best "$VPCFLOW" verdict --threads 2 --endpoints "$WORK/mix.toml" --output json "$MIX")
T[verdictall1]=$(best "$VPCFLOW" verdict --threads 1 --check-all-lines --endpoints "$WORK/mix.toml" --output json "$MIX")
echo "DuckDB verdict query pairs vs vpcflow's (generated file, then the mix):" >&2
T[duckv1]=$(duckverdict "$LOG" "$WORK/endpoints.toml" 1)
T[duckv2]=$(duckverdict "$LOG" "$WORK/endpoints.toml" 2)
T[duckvmix1]=$(duckverdict "$MIX" "$WORK/mix.toml" 1)
T[duckvmix2]=$(duckverdict "$MIX" "$WORK/mix.toml" 2)
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
    verdictgz2="${T[verdictgz2]}", duckmix1="${T[duckmix1]}", duckmix2="${T[duckmix2]}",
    parsemix1="${T[parsemix1]}", parsemix2="${T[parsemix2]}", verdictmix1="${T[verdictmix1]}",
    verdictmix2="${T[verdictmix2]}", verdictall1="${T[verdictall1]}", duckv1="${T[duckv1]}",
    duckv2="${T[duckv2]}", duckvmix1="${T[duckvmix1]}", duckvmix2="${T[duckvmix2]}").items()}
rows = [
    ("wc -l", "wc"), ("gzip -dc file.gz", "gzip"),
    ("DuckDB read_csv GROUP BY action, 1 thread", "duck1"), ("DuckDB, 2 threads", "duck2"),
    ("DuckDB on the .gz, 1 thread", "duckgz1"), ("DuckDB on the .gz, 2 threads", "duckgz"),
    ("vpcflow parse --output summary, 1 thread", "parse1"), ("vpcflow parse, 2 threads (one file, split)", "parse2"),
    ("vpcflow parse, two files, 1 thread", "halves1"), ("vpcflow parse, two files, 2 threads", "halves2"),
    ("vpcflow parse on the .gz, 1 thread", "parsegz1"), ("vpcflow parse on the .gz, 2 threads (inflate | decode)", "parsegz2"),
    ("vpcflow verdict (20 endpoints), 1 thread", "verdict1"), ("vpcflow verdict, 2 threads (one file, split)", "verdict2"),
    ("vpcflow verdict on the .gz, 1 thread", "verdictgz1"), ("vpcflow verdict on the .gz, 2 threads", "verdictgz2"),
    ("DuckDB verdict query, 1 thread", "duckv1"), ("DuckDB verdict query, 2 threads", "duckv2"),
    ("mix: DuckDB read_csv GROUP BY action, 1 thread", "duckmix1"), ("mix: DuckDB, 2 threads", "duckmix2"),
    ("mix: vpcflow parse --output summary, 1 thread", "parsemix1"), ("mix: vpcflow parse, 2 threads", "parsemix2"),
    ("mix: vpcflow verdict, 1 thread", "verdictmix1"), ("mix: vpcflow verdict, 2 threads", "verdictmix2"),
    ("mix: vpcflow verdict --check-all-lines, 1 thread", "verdictall1"),
    ("mix: DuckDB verdict query, 1 thread", "duckvmix1"), ("mix: DuckDB verdict query, 2 threads", "duckvmix2"),
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
target("mix: parse 1 thread vs DuckDB 1 thread (want >= 3x)", t["duckmix1"] / t["parsemix1"], 3)
target("parse v2 GB/s per core, 1 thread (want >= 1)", mb / t["parse1"] / 1000, 1)
target("parse 2 threads vs DuckDB 2 threads (want >= 3x)", t["duck2"] / t["parse2"], 3)
target("verdict 1 thread vs DuckDB verdict query 1 thread (want >= 4x)", t["duckv1"] / t["verdict1"], 4)
target("verdict 2 threads vs DuckDB verdict query 2 threads (want >= 4x)", t["duckv2"] / t["verdict2"], 4)
target("mix: verdict 1 thread vs DuckDB verdict query 1 thread (want >= 4x)", t["duckvmix1"] / t["verdictmix1"], 4)
target("mix: verdict 2 threads vs DuckDB verdict query 2 threads (want >= 4x)", t["duckvmix2"] / t["verdictmix2"], 4)
# Stated as parse time over verdict time, so that >= 2 means verdict takes <= 0.5x of parse.
target("mix: parse 1 thread / verdict 1 thread (want >= 2x, verdict <= 0.5x)", t["parsemix1"] / t["verdictmix1"], 2)
target("parse .gz 2 threads vs DuckDB on .gz 2 threads (want >= 2.5x)", t["duckgz"] / t["parsegz2"], 2.5)
target("parse .gz 2 threads vs gzip -dc alone (want > 1x)", t["gzip"] / t["parsegz2"], 1.0001)
target("two files: 2 threads vs 1 thread (want >= 1.8x)", t["halves1"] / t["halves2"], 1.8)
target("one file split: 2 threads vs 1 thread (want >= 1.8x)", t["parse1"] / t["parse2"], 1.8)
print()
print(f"Peak RSS, 2 threads: parse {rss_parse:.0f} MiB, verdict {rss_verdict:.0f} MiB (want < 256 MiB)")
PY
