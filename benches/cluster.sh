#!/usr/bin/env bash
# Times the distributed verdict on this machine, in one run: a generated tree of RECORDS records
# in OBJECTS files, judged by local `verdict --threads 1`, by a Ballista cluster of one executor
# with one slot, and by one of two executors with one slot each. Each executor, and the local
# run, is pinned to a core of its own with taskset, as on a cluster of one-core nodes: unpinned,
# one executor with one slot already uses more than one core (measured on 2 cores: 5.4 s of CPU
# over three of its threads in a 4.5 s job), which leaves a second executor little to add. The
# client and the scheduler are not pinned. The three take turns for RUNS rounds, both clusters
# up throughout, so that a shared machine whose speed drifts slows all three alike. Checks that
# all three print the same JSON, and prints every time, the medians, records/s and the ratios
# docs/performance.md quotes.
#
#   benches/cluster.sh [RECORDS] [OBJECTS]      (default 10,000,000 records in 100 files)
# PARTITIONS (default 2) is both clusters' --partitions: the slots of the larger cluster, so its
# final stage runs in one wave (docs/distributed.md, "Sizing"); RUNS (default 3) the rounds.
# Needs the release binary with --features distributed (it builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vpcflow-target}"
RECORDS="${1:-10000000}"
OBJECTS="${2:-100}"
RUNS="${RUNS:-3}"
PARTITIONS="${PARTITIONS:-2}"
WORK="${WORK:-$(mktemp -d)}"
cargo build --release -q --locked --features distributed --bin vpcflow
VPCFLOW="$CARGO_TARGET_DIR/release/vpcflow"

TREE="$WORK/tree-$RECORDS-$OBJECTS"
if [[ ! -d "$TREE" ]]; then
  mkdir -p "$TREE"
  "$VPCFLOW" generate --records "$RECORDS" --span 86400 --catalogue "$WORK/endpoints.toml" \
    --out "$WORK/all.log"
  split -n "l/$OBJECTS" -d -a 4 "$WORK/all.log" "$TREE/part-"
  rm "$WORK/all.log"
fi
BYTES=$(du -cb "$TREE"/part-* | tail -1 | cut -f1)

PIDS=()
# Executors keep shuffle files in a work dir of their own under $WORK (a killed executor leaves
# its default temporary one behind: some 80 MB per job here).
stop() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  PIDS=()
  rm -rf "$WORK"/*-work-*
}
trap stop EXIT

# Starts a scheduler named $1 with $2 one-slot executors, executor i pinned to core i-1; prints
# its URL. Both clusters run side by side (idle executors only send heartbeats), so that the
# three commands can take turns and a machine whose speed drifts slows all three alike.
cluster() {
  local name=$1 n=$2
  : > "$WORK/$name-sched.out"
  "$VPCFLOW" cluster scheduler --bind 127.0.0.1:0 > "$WORK/$name-sched.out" 2> "$WORK/$name-sched.err" &
  PIDS+=($!)
  until [[ -s "$WORK/$name-sched.out" ]]; do sleep 0.1; done
  local addr
  addr=$(sed -n 's/^scheduler listening on //p' "$WORK/$name-sched.out")
  for i in $(seq 1 "$n"); do
    : > "$WORK/$name-ex$i.out"
    mkdir -p "$WORK/$name-work-$i"
    taskset -c $(( (i - 1) % $(nproc) )) \
      "$VPCFLOW" cluster executor --scheduler "$addr" --slots 1 --work-dir "$WORK/$name-work-$i" \
      > "$WORK/$name-ex$i.out" 2> "$WORK/$name-ex$i.err" &
    PIDS+=($!)
    until [[ -s "$WORK/$name-ex$i.out" ]]; do sleep 0.1; done
  done
  URL="df://$addr"
}

# The wall seconds of "$@", its JSON kept in $WORK/$1.json.
timed() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$WORK/$name.json" 2> "$WORK/$name.err" || [[ $? == 1 ]]
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }

cluster one 1
URL_ONE=$URL
cluster two 2
URL_TWO=$URL
sleep 2 # registration
VERDICT=(verdict --endpoints "$WORK/endpoints.toml" -o json)
L=() O=() T=()
for _ in $(seq 1 "$RUNS"); do
  L+=("$(timed local taskset -c 0 "$VPCFLOW" "${VERDICT[@]}" --threads 1 "$TREE")")
  O+=("$(timed one "$VPCFLOW" "${VERDICT[@]}" --cluster "$URL_ONE" --partitions "$PARTITIONS" "$TREE")")
  T+=("$(timed two "$VPCFLOW" "${VERDICT[@]}" --cluster "$URL_TWO" --partitions "$PARTITIONS" "$TREE")")
done
stop
echo "runs, in seconds: local ${L[*]}; one executor ${O[*]}; two executors ${T[*]}"
LOCAL=$(median "${L[@]}")
ONE=$(median "${O[@]}")
TWO=$(median "${T[@]}")
cmp "$WORK/local.json" "$WORK/one.json"
cmp "$WORK/local.json" "$WORK/two.json"
echo "identical JSON from all three ($(wc -l < "$WORK/local.json") pairs)"

rate() { echo "scale=2; $RECORDS / $1 / 1000000" | bc; }
echo
echo "$RECORDS records, $OBJECTS files, $((BYTES / 1000000)) MB, --partitions $PARTITIONS; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo
echo "| run | wall s (median of $RUNS) | M records/s |"
echo "| --- | ---: | ---: |"
echo "| local \`verdict --threads 1\` (one core) | $LOCAL | $(rate "$LOCAL") |"
echo "| \`--cluster\`, 1 executor × 1 slot (one core) | $ONE | $(rate "$ONE") |"
echo "| \`--cluster\`, 2 executors × 1 slot (a core each) | $TWO | $(rate "$TWO") |"
echo
echo "2 executors / 1 executor: $(echo "scale=2; $ONE / $TWO" | bc)×"
echo "overhead of --cluster with 1 executor over local: $(echo "scale=2; $ONE / $LOCAL" | bc)×"
