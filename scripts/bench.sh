#!/usr/bin/env bash
# Whole-broker benchmark: builds the release binary, starts it on a temporary data dir and
# drives it with librdkafka's own load generator, rdkafka_performance (built from the
# librdkafka sources inside the crates.io package rdkafka-sys, which the tests already use).
# Prints `metric value unit` lines; numbers are rdkafka_performance's own figures, plus the
# broker's CPU seconds from /proc.
#
#   scripts/bench.sh                      # defaults below
#   COUNT=2000000 SIZE=1024 scripts/bench.sh
#   STROM_BIN=/path/to/other/strom scripts/bench.sh   # another build, for before/after runs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${PORT:-39092}
SIZE=${SIZE:-1024}
COUNT=${COUNT:-1000000}
MAX_S=${MAX_S:-60}

. scripts/bench-lib.sh

if [ -z "${STROM_BIN:-}" ]; then
    cargo build --release -q -p strom-server
    STROM_BIN=$ROOT/target/release/strom
fi
RDKPERF=$(build_rdkperf)
BROKER_LOG=$(mktemp -t strom-bench-XXXX.log)
"$STROM_BIN" --ephemeral --listen "127.0.0.1:$PORT" >"$BROKER_LOG" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q "strom listening" "$BROKER_LOG" && break; sleep 0.05; done
B=127.0.0.1:$PORT
log "broker pid $PID on $B; load: $(uptime)"

echo "broker_rss_idle $(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status) MiB"

# Produce: acks=all, 1 partition.
before=$(cpu_s $PID)
out=$(timeout -s INT "$MAX_S" "$RDKPERF" -P -t bench -p 0 -b "$B" -s "$SIZE" -c "$COUNT" -a -1 "${x[@]}" 2>&1 |
      grep 'messages produced' | tail -1) || true
after=$(cpu_s $PID)
mbps=$(echo "$out" | sed -E 's/.* ([0-9.]+) MB\/s.*/\1/')
msgs=$(echo "$out" | sed -E 's/.* ([0-9]+) msgs\/s.*/\1/')
echo "produce_${SIZE}B_acksall $mbps MB/s"
echo "produce_${SIZE}B_acksall_msgs $msgs msg/s"
echo "produce_broker_cpu_s_per_GB $(per_gb "$before" "$after") s/GB"

# Consume everything from the start.
before=$(cpu_s $PID)
out=$(timeout -s INT "$MAX_S" "$RDKPERF" -C -t bench -p 0 -b "$B" -o beginning -e 2>&1 | grep 'consumed in' | tail -1) || true
after=$(cpu_s $PID)
echo "consume_1partition $(echo "$out" | sed -E 's/.*\(([0-9.]+) MB\/s\).*/\1/') MB/s"
echo "consume_broker_cpu_s_per_GB $(per_gb "$before" "$after") s/GB"

# Produce-to-ack latency at a fixed rate of 10 k msg/s (acks=all, linger 0): the p50/p99 of
# rdkafka_performance's delivery reports. (End-to-end latency through a consumer is
# measured by the neutral harness, ../shared/bench/latency.sh.)
out=$(timeout -s INT 30 "$RDKPERF" -P -t latency -p 0 -b "$B" -s "$SIZE" -r 10000 -c 50000 -a -1 -X linger.ms=0 -v 2>&1 |
      grep 'messages produced' | tail -1) || true
echo "produce_10k_msgs_per_s_achieved $(echo "$out" | sed -E 's/.* ([0-9]+) msgs\/s.*/\1/') msg/s"
echo "broker_rss_after_load $(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$PID/status) MiB"
