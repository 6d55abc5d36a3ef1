#!/usr/bin/env bash
# Peak memory (RSS) of parse and verdict in streaming mode on one large generated file, to show
# it does not grow with the input:
#
#   benches/memory.sh [RECORDS] [SPAN_SECS]   (default 55,000,000 records over a day: ~6 GB)
#
# The records advance through SPAN_SECS as in a delivered log (640 records/s by default).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vpcflow-target}"
RECORDS="${1:-55000000}"
SPAN="${2:-86400}"
WORK="${WORK:-$(mktemp -d)}"
cargo build --release -q
VPCFLOW="$CARGO_TARGET_DIR/release/vpcflow"
LOG="$WORK/big-$RECORDS.log"
if [[ ! -f "$LOG" ]]; then
  "$VPCFLOW" generate --records "$RECORDS" --span "$SPAN" --catalogue "$WORK/endpoints.toml" \
    --force --out "$LOG" > /dev/null
fi
MB=$(( $(stat -c %s "$LOG") / 1000000 ))
echo "| input | command | wall (s) | peak RSS (MiB) |"
echo "| --- | --- | ---: | ---: |"
for cmd in "parse --output summary" "verdict --output json --endpoints $WORK/endpoints.toml"; do
  for threads in 1 2; do
    /usr/bin/time -o "$WORK/time.txt" -f "%e %M" "$VPCFLOW" $cmd --threads "$threads" "$LOG" \
      > /dev/null 2>&1 || true
    read -r wall kb < <(tail -1 "$WORK/time.txt")
    echo "| ${MB} MB, $RECORDS records | vpcflow ${cmd%% *} --threads $threads | $wall | $(( kb / 1024 )) |"
  done
done
