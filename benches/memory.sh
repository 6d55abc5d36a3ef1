#!/usr/bin/env bash
# Peak memory (RSS) of parse and verdict in streaming mode on one large generated file, to show
# it does not grow with the input, and that the verdicts do not depend on threads or on the
# order of the inputs:
#
#   benches/memory.sh [RECORDS] [SPAN_SECS] [CLIENTS]   (default 55,000,000 records over a day: ~6 GB)
#
# The records advance through SPAN_SECS as in a delivered log (640 records/s by default). The
# last verdict row reads the same records as two files, the later half first; every verdict
# row's JSON must be byte-identical to the first's, and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vpcflow-target}"
RECORDS="${1:-55000000}"
SPAN="${2:-86400}"
CLIENTS="${3:-50}"
WORK="${WORK:-$(mktemp -d)}"
if [[ -z "${VPCFLOW:-}" ]]; then
  cargo build --release -q
  VPCFLOW="$CARGO_TARGET_DIR/release/vpcflow"
fi
LOG="$WORK/big-$RECORDS-$SPAN-$CLIENTS.log"
if [[ ! -f "$LOG" ]]; then
  "$VPCFLOW" generate --records "$RECORDS" --span "$SPAN" --clients "$CLIENTS" --header \
    --catalogue "$WORK/endpoints.toml" --force --out "$LOG" > /dev/null
fi
LATE="$WORK/a-late-half.log"
EARLY="$WORK/b-early-half.log"
if [[ ! -f "$LATE" ]]; then
  lines=$(( $(wc -l < "$LOG") - 1 ))
  awk -v half=$(( lines / 2 )) -v early="$EARLY" -v late="$LATE" \
    'NR == 1 { print > early; print > late; next }
     NR - 1 <= half { print > early; next }
     { print > late }' "$LOG"
fi
MB=$(( $(stat -c %s "$LOG") / 1000000 ))
echo "| input | command | wall (s) | peak RSS (MiB) |"
echo "| --- | --- | ---: | ---: |"
run() { # label, output file, command...
  local label="$1" out="$2"
  shift 2
  /usr/bin/time -o "$WORK/time.txt" -f "%e %M" "$@" > "$out" 2> "$WORK/stderr.txt" || true
  read -r wall kb < <(tail -1 "$WORK/time.txt")
  echo "| ${MB} MB, $RECORDS records | $label | $wall | $(( kb / 1024 )) |"
}
for threads in 1 2; do
  run "vpcflow parse --threads $threads" /dev/null \
    "$VPCFLOW" parse --output summary --threads "$threads" "$LOG"
done
verdict=("$VPCFLOW" verdict --output json --endpoints "$WORK/endpoints.toml")
run "vpcflow verdict --threads 1" "$WORK/v1.json" "${verdict[@]}" --threads 1 "$LOG"
run "vpcflow verdict --threads 2" "$WORK/v2.json" "${verdict[@]}" --threads 2 "$LOG"
run "vpcflow verdict --threads 2, the later half first" "$WORK/v3.json" \
  "${verdict[@]}" --threads 2 "$LATE" "$EARLY"
grep -h "spilled" "$WORK/stderr.txt" || true
if cmp -s "$WORK/v1.json" "$WORK/v2.json" && cmp -s "$WORK/v1.json" "$WORK/v3.json"; then
  echo "verdict JSON: byte-identical across the three runs ($(wc -l < "$WORK/v1.json") pairs, $(md5sum < "$WORK/v1.json" | cut -c1-12))"
else
  echo "verdict JSON: DIFFERS between runs"
  exit 1
fi
