#!/usr/bin/env bash
# Would pipelining pay (handling several requests of one connection at once, responses in
# order)? Its upper bound is the same load spread over N connections, which the broker
# already handles concurrently. One partition, 1 KiB acks=all, linger 5 ms, max.in.flight 5;
# with an fsync per append (a request waits on the disk) and without (it waits on the CPU).
# Prints the aggregate msgs/s of 1, 2 and 4 producers (one connection each).
#
#   STROM_BIN=target/release/strom ROUNDS=2 scripts/pipelining-bound.sh
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-200000}
SIZE=1024
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-39111}
B=127.0.0.1:$PORT
. scripts/bench-lib.sh
if [ -z "${STROM_BIN:-}" ]; then
    cargo build --release -q -p strom-server
    STROM_BIN=$(pwd)/target/release/strom
fi
RDKPERF=$(build_rdkperf)

run() { # FLUSH_MESSAGES PRODUCERS
    local data log pid per t0 t1 producers=()
    data=$(mktemp -d); log=$(mktemp)
    "$STROM_BIN" --data-dir "$data" --listen "$B" --set log.flush.interval.messages="$1" \
        --set strom.metrics.listen= >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do grep -q "strom listening" "$log" && break; sleep 0.05; done
    "$RDKPERF" -P -t pipe -p 0 -b "$B" -s 100 -c 10 -a -1 >/dev/null 2>&1 || true
    per=$((COUNT / $2))
    t0=$(date +%s.%N)
    for _ in $(seq 1 "$2"); do
        timeout 120 "$RDKPERF" -P -t pipe -p 0 -b "$B" -s $SIZE -c $per -a -1 \
            -X linger.ms=5 -X max.in.flight=5 >/dev/null 2>&1 &
        producers+=($!)
    done
    wait "${producers[@]}" || true
    t1=$(date +%s.%N)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$data" "$log"
    awk -v c="$COUNT" -v a="$t0" -v b="$t1" -v f="$1" -v n="$2" \
        'BEGIN { printf "flush.messages=%s producers=%d msgs/s=%.0f\n", f, n, c / (b - a) }'
}
for _ in $(seq 1 "$ROUNDS"); do
    for flush in 1 9223372036854775807; do
        for n in 1 2 4; do run "$flush" "$n"; done
    done
done
