#!/usr/bin/env bash
# The differential harness: Apache Kafka (scripts/kafka-reference.sh, fresh data directory,
# an authorizer so that the ACL APIs answer) and Strom (in process, fresh data directory)
# get the same conversation; their answers are compared field by field and every difference
# is checked against integration-tests/differential-known.txt (each entry explained in
# docs/compatibility.md). Exits non-zero on a difference not on that list.
#
#   scripts/differential.sh                  # report in target/differential.md
#   KAFKA_VERSION=4.1.1 scripts/differential.sh
#   STROM_DIFF_BIN=path/to/strom-differential   # a built harness (the test passes its own)
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${DIFF_KAFKA_PORT:-19492}
export KAFKA_VERSION=${KAFKA_VERSION:-4.4.0}
export KAFKA_SET="authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer super.users=User:ANONYMOUS"
REPORT=${DIFF_REPORT:-target/differential.md}
BIN=${STROM_DIFF_BIN:-}
if [ -z "$BIN" ]; then
    cargo build -q -p strom-integration-tests --bin strom-differential
    BIN=target/debug/strom-differential
fi
LOG=$(mktemp -t kafka-reference-XXXX.log)
scripts/kafka-reference.sh "$PORT" >"$LOG" 2>&1 &
KAFKA=$!
stop() {
    kill -TERM "$KAFKA" 2>/dev/null || true
    wait "$KAFKA" 2>/dev/null || true
    rm -f "$LOG"
}
trap stop EXIT
# Kafka's first start fetches its jars with Maven: allow it 10 minutes, then 2 for the JVM.
for _ in $(seq 1 720); do
    if grep -q "Kafka Server started\|kafka-reference: Kafka" "$LOG" && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        break
    fi
    if ! kill -0 "$KAFKA" 2>/dev/null; then
        cat "$LOG" >&2
        echo "differential: Kafka did not start" >&2
        exit 2
    fi
    sleep 1
done
mkdir -p "$(dirname "$REPORT")"
status=0
"$BIN" --kafka "127.0.0.1:$PORT" \
    --known integration-tests/differential-known.txt --report "$REPORT" >/dev/null || status=$?
head -3 "$REPORT" | tail -1
echo "differential: report in $REPORT"
exit $status
