#!/usr/bin/env bash
# Apache Kafka itself as a reference broker, from Maven Central (no download site is needed):
# one KRaft node (broker and controller) on 127.0.0.1:PORT with Kafka's shipped
# server.properties settings, a fresh data directory, in the foreground until killed.
#
#   scripts/kafka-reference.sh                 # port 19392, Kafka 4.4.0
#   KAFKA_VERSION=3.9.1 scripts/kafka-reference.sh 39500
#
# Jars are fetched once with Maven into KAFKA_REF_CACHE (default ~/.cache/strom/kafka-VERSION).
# Extra broker settings: KAFKA_SET="key=value key=value".
# JVM options: KAFKA_HEAP_OPTS (default -Xmx1g) and KAFKA_JVM_PERFORMANCE_OPTS (default none), as
# Kafka's own start scripts name them (kafka-server-start.sh sets -Xmx1G -Xms1G, and
# kafka-run-class.sh G1 settings; scripts/bench.sh passes those).
# KAFKA_PID_FILE: when set, the broker's java process is recorded there as soon as it is spawned,
# as one line `PID SPAWN_TIME` (the time in seconds since the epoch, bash's EPOCHREALTIME).
set -euo pipefail
PORT=${1:-19392}
CONTROLLER_PORT=$((PORT + 1))
VERSION=${KAFKA_VERSION:-4.4.0}
CACHE=${KAFKA_REF_CACHE:-$HOME/.cache/strom/kafka-$VERSION}
if [ ! -f "$CACHE/libs/kafka_2.13-$VERSION.jar" ]; then
    command -v mvn >/dev/null || { apt-get update -qq && apt-get install -y -qq maven default-jre-headless >/dev/null; }
    mkdir -p "$CACHE"
    cat >"$CACHE/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>strom</groupId><artifactId>kafka-reference</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
    (cd "$CACHE" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$CACHE/libs") >&2
fi
DATA=$(mktemp -d -t kafka-reference-XXXX)
JAVA_PID=
cleanup() {
    if [ -n "$JAVA_PID" ]; then
        kill "$JAVA_PID" 2>/dev/null || true
        wait "$JAVA_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
cat >"$DATA/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA/logs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
for kv in ${KAFKA_SET:-}; do echo "$kv" >>"$DATA/server.properties"; done
CP="$CACHE/libs/*"
CLUSTER_ID=$(java -cp "$CP" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
java -cp "$CP" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$DATA/server.properties" >&2 2>/dev/null
echo "kafka-reference: Kafka $VERSION on 127.0.0.1:$PORT, data $DATA" >&2
SPAWNED=$EPOCHREALTIME
# shellcheck disable=SC2086 # the option lists are split into words, as Kafka's scripts do
java ${KAFKA_HEAP_OPTS:--Xmx1g} ${KAFKA_JVM_PERFORMANCE_OPTS:-} -cp "$CP" kafka.Kafka "$DATA/server.properties" &
JAVA_PID=$!
if [ -n "${KAFKA_PID_FILE:-}" ]; then
    echo "$JAVA_PID $SPAWNED" >"$KAFKA_PID_FILE.tmp" && mv "$KAFKA_PID_FILE.tmp" "$KAFKA_PID_FILE"
fi
wait "$JAVA_PID"
