#!/usr/bin/env bash
# Does a consumer wait for producers or for the disk? Runs an acks=all 1 KiB produce load
# (rdkafka_performance, the neutral harness's producer settings) into one partition of a
# broker that fsyncs every append (log.flush.interval.messages=1), and beside it
# tools/bench's fetch_probe: a consumer at that partition's log end sending one Fetch
# (max_wait_ms 0) every millisecond. Prints the fetch round trips' percentiles and the produce
# rate, per broker binary and round, alternating the binaries so that all see the same machine.
#
#   scripts/fetch-latency.sh                          # this tree's release build
#   BINS="/path/to/old/strom target/release/strom" ROUNDS=3 SECONDS_PER_RUN=20 scripts/fetch-latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${PORT:-39094}
SIZE=${SIZE:-1024}
COUNT=${COUNT:-100000000}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-20}
FLUSH_MESSAGES=${FLUSH_MESSAGES:-1}  # log.flush.interval.messages; 1: an fsync per append

. scripts/bench-lib.sh

cargo build --release -q -p strom-server --bin strom -p strom-bench-tools --bin fetch_probe
BINS=${BINS:-$ROOT/target/release/strom}
PROBE=$ROOT/target/release/fetch_probe
RDKPERF=$(build_rdkperf)
B=127.0.0.1:$PORT

run() {
    local bin=$1 data="$WORK/fetch-latency-data" log
    rm -rf "$data"
    log=$(mktemp -t strom-fetch-latency-XXXX.log)
    "$bin" --data-dir "$data" --listen "$B" --set log.flush.interval.messages="$FLUSH_MESSAGES" \
        --set strom.metrics.listen= >"$log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 100); do grep -q "strom listening" "$log" && break; sleep 0.05; done
    "$RDKPERF" -P -t probe -p 0 -b "$B" -s 1 -c 1 -a -1 >/dev/null 2>&1 # creates the topic
    timeout -s INT "$SECONDS_PER_RUN" "$RDKPERF" -P -t probe -p 0 -b "$B" -s "$SIZE" -c "$COUNT" \
        -a -1 "${x[@]}" >"$log.produce" 2>&1 &
    local producer=$!
    sleep 1
    "$PROBE" "$B" probe $((SECONDS_PER_RUN - 2)) >"$log.probe"
    wait $producer || true
    kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true
    local mbps
    mbps=$(grep 'messages produced' "$log.produce" | tail -1 | sed -E 's/.* ([0-9.]+) MB\/s.*/\1/')
    printf '%s produce_MBps=%s %s\n' "$(basename "$(dirname "$(dirname "$bin")")")/$(basename "$bin")" "$mbps" \
        "$(awk '{printf "%s=%s ", $1, $2}' "$log.probe")"
    rm -rf "$data" "$log" "$log.produce" "$log.probe"
}

log "load: $(uptime)"
for round in $(seq 1 "$ROUNDS"); do
    for bin in $BINS; do
        echo -n "round $round "
        run "$bin"
    done
done
