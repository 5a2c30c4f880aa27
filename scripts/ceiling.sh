#!/usr/bin/env bash
# Ceilings: how far the load generator gets on this machine whatever the broker does.
#
# rdkafka_performance (built as in bench.sh) runs the same produce and consume loads as the
# neutral harness (../shared/bench: 2 GB of 1 KiB messages, acks=all, linger 5 ms, batch 1 MiB;
# consume from the start with librdkafka's defaults) against Strom and against
# tools/bench/src/ceiling_broker.rs, a broker that does the least work a broker can:
# `store` keeps batches unchecked in an in-memory file and answers a fetch with its fields
# and then sendfile from that file, `discard` only counts what is produced. Runs alternate
# between the brokers so that all see the same machine state. A figure that even the ceiling broker cannot reach is out of reach
# for any broker here with this generator.
#
# Prints `metric value unit` per run, then `metric median unit min..max` per metric.
#   scripts/ceiling.sh                    # ROUNDS=3 COUNT=2000000
# Memory: the store broker keeps everything produced to it, (ROUNDS + 1) x COUNT x 1 KiB.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${PORT:-39192}
ROUNDS=${ROUNDS:-3}
COUNT=${COUNT:-2000000}
SIZE=1024
MAX_S=${MAX_S:-60}

. scripts/bench-lib.sh

cargo build --release -q -p strom-server --bin strom -p strom-bench-tools --bin ceiling_broker
RDKPERF=$(build_rdkperf)
CEILING=$ROOT/target/release/ceiling_broker
STROM=127.0.0.1:$PORT
STORE=127.0.0.1:$((PORT + 1))
DISCARD=127.0.0.1:$((PORT + 2))
"$ROOT/target/release/strom" --ephemeral --listen "$STROM" >"$WORK/ceiling-strom.log" 2>&1 &
STROM_PID=$!
"$CEILING" "$STORE" >"$WORK/ceiling-store.log" 2>&1 &
STORE_PID=$!
"$CEILING" "$DISCARD" --discard >"$WORK/ceiling-discard.log" 2>&1 &
DISCARD_PID=$!
trap 'kill -TERM $STROM_PID $STORE_PID $DISCARD_PID 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q "strom listening" "$WORK/ceiling-strom.log" && grep -q listening "$WORK/ceiling-store.log" &&
        grep -q listening "$WORK/ceiling-discard.log" && break
    sleep 0.05
done
RESULTS=$(mktemp -t strom-ceiling-XXXX.txt)
result() { echo "$1 $2 $3" | tee -a "$RESULTS"; }
log "load: $(uptime)"

# produce NAME ADDRESS PID TOPIC [ACKS]: one acks=all run of COUNT messages
produce() {
    local before after out
    before=$(cpu_s "$3")
    out=$(timeout -s INT "$MAX_S" "$RDKPERF" -P -t "$4" -p 0 -b "$2" -s "$SIZE" -c "$COUNT" -a "${5:--1}" "${x[@]}" 2>&1 |
          grep 'messages produced' | tail -1) || true
    after=$(cpu_s "$3")
    echo "$out" | grep -q " $COUNT delivered" || log "$1: not everything was delivered: $out"
    result "produce_$1" "$(echo "$out" | sed -E 's/.* ([0-9.]+) MB\/s.*/\1/')" MB/s
    result "produce_broker_cpu_$1" "$(per_gb "$before" "$after")" s/GB
}

# consume NAME ADDRESS PID TOPIC: read TOPIC from the start to its end
consume() {
    local before after out
    before=$(cpu_s "$3")
    out=$(timeout -s INT "$MAX_S" "$RDKPERF" -C -t "$4" -p 0 -b "$2" -o beginning -e 2>&1 | grep 'consumed in' | tail -1) || true
    after=$(cpu_s "$3")
    echo "$out" | grep -q "% $COUNT messages" || log "$1: not everything was consumed: $out"
    result "consume_$1" "$(echo "$out" | sed -E 's/.*\(([0-9.]+) MB\/s\).*/\1/')" MB/s
    result "consume_broker_cpu_$1" "$(per_gb "$before" "$after")" s/GB
}

for r in $(seq "$ROUNDS"); do
    produce discard "$DISCARD" $DISCARD_PID "produce-$r"
    produce store "$STORE" $STORE_PID "produce-$r"
    "$ROOT/target/release/strom" topics -b "$STROM" create --topic "produce-$r" --partitions 1 >/dev/null
    produce strom "$STROM" $STROM_PID "produce-$r"
    # As the neutral harness does, so that the page cache is recycled between runs.
    "$ROOT/target/release/strom" topics -b "$STROM" delete --topic "produce-$r" >/dev/null
done

# Fill the topic to read (acks=1, as the harness's consume.sh does), then read it alternately.
"$ROOT/target/release/strom" topics -b "$STROM" create --topic consume --partitions 1 >/dev/null
produce prefill_store "$STORE" $STORE_PID consume 1 >/dev/null
produce prefill_strom "$STROM" $STROM_PID consume 1 >/dev/null
for _ in $(seq "$ROUNDS"); do
    consume store "$STORE" $STORE_PID consume
    consume strom "$STROM" $STROM_PID consume
done

# Start-up to the first metadata answer, timed by the neutral harness's startup.sh (its
# librdkafka client), when the harness is beside the repository.
HARNESS=${HARNESS:-$ROOT/../shared/bench}
if [ -x "$HARNESS/startup.sh" ]; then
    B=127.0.0.1:$((PORT + 3))
    for _ in $(seq "$ROUNDS"); do
        for broker in "ceiling $CEILING $B" "strom $ROOT/target/release/strom --ephemeral --listen $B"; do
            ms=$(BOOTSTRAP=$B BROKER_CMD="${broker#* }" REPS=1 IDLE_S=1 "$HARNESS/startup.sh" 2>/dev/null |
                 awk '$1 == "broker_startup_to_metadata_ms" { print $2 }')
            result "startup_to_metadata_${broker%% *}" "${ms:-nan}" ms
        done
    done
else
    log "no $HARNESS/startup.sh: start-up not compared"
fi
log "load: $(uptime)"

echo "# medians"
for m in $(cut -d' ' -f1 "$RESULTS" | sort -u); do
    mapfile -t v < <(awk -v m="$m" '$1 == m { print $2 }' "$RESULTS" | sort -g)
    echo "$m ${v[$(( (${#v[@]} - 1) / 2 ))]} $(awk -v m="$m" '$1 == m { print $3; exit }' "$RESULTS") ${v[0]}..${v[-1]}"
done
rm -f "$RESULTS"
