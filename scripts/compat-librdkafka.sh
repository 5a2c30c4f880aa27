#!/usr/bin/env bash
# Runs librdkafka's own integration suite (../shared/compat/librdkafka) against a fresh
# Strom broker configured like librdkafka's default test scenario (auto-create on,
# num.partitions=4, Kafka's 3 s initial rebalance delay), with the allow-list scripts/compat/librdkafka.allow.
#
#   scripts/compat-librdkafka.sh              # quick mode (sub-tests marked non-quick skip)
#   QUICK=0 scripts/compat-librdkafka.sh      # full mode: run this before resolving an issue
#   ALLOW=path/to/list scripts/compat-librdkafka.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUITE=${SUITE:-$ROOT/../shared/compat/librdkafka/run.sh}
ALLOW=${ALLOW:-$ROOT/scripts/compat/librdkafka.allow}
PORT=${PORT:-29092}  # override when another run uses it
PROFILE=${PROFILE:-release}

if [ ! -x "$SUITE" ]; then
    echo "compat-librdkafka: $SUITE not found (it lives in the shared/ folder beside the repo)" >&2
    exit 2
fi
if [ "$PROFILE" = release ]; then
    cargo build --release -q -p strom-server
    BIN=$ROOT/target/release/strom
else
    cargo build -q -p strom-server
    BIN=$ROOT/target/debug/strom
fi

LOG=$(mktemp -t strom-compat-XXXX.log)
# librdkafka's test cluster runs Kafka's code defaults: num.partitions=4 in its scenario, and
# group.initial.rebalance.delay.ms=3000 (our shipped default is 0, as Kafka's shipped
# server.properties); several group tests expect consumers started together to land in one
# generation.
"$BIN" --ephemeral --listen "127.0.0.1:$PORT" --set num.partitions=4 \
    --set group.initial.rebalance.delay.ms=3000 >"$LOG" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q "strom listening on" "$LOG" && break
    kill -0 $PID 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    sleep 0.1
done
echo "compat-librdkafka: strom (pid $PID) on 127.0.0.1:$PORT, log $LOG" >&2
BOOTSTRAP="127.0.0.1:$PORT" \
BROKER_RESTART_CMD="echo 'broker died; see $LOG'" \
    "$SUITE" "$ALLOW"
