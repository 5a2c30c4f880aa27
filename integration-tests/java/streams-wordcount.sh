#!/usr/bin/env bash
# Kafka Streams word count with exactly_once_v2, killed with SIGKILL mid-stream and restarted
# (the second time with its local state wiped, so it restores from the changelog), whose
# output must be exactly right: the last count of each word equals its count in the input.
#
#   integration-tests/java/streams-wordcount.sh BOOTSTRAP CLASSPATH
#
# CLASSPATH holds kafka-streams and its dependencies (streams-pom.xml resolves them).
set -euo pipefail
B=$1
CP=$2
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
APP=""
cleanup() {
    [ -n "$APP" ] && kill -9 "$APP" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

javac -d "$WORK/classes" -cp "$CP" "$HERE/src/WordCount.java"
run() {
    timeout 180 java -Xmx256m -cp "$WORK/classes:$CP" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        WordCount "$@"
}
start_app() {
    java -Xmx384m -cp "$WORK/classes:$CP" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        WordCount app "$B" "$WORK/state-$1" >"$WORK/app-$1.log" 2>&1 &
    APP=$!
}
# wait_running N: the application's log says RUNNING (at most 90 s).
wait_running() {
    for _ in $(seq 1 450); do
        grep -q "^state RUNNING" "$WORK/app-$1.log" && return 0
        kill -0 "$APP" 2>/dev/null || break
        sleep 0.2
    done
    echo "FAIL: the application (run $1) did not reach RUNNING" >&2
    cat "$WORK/app-$1.log" >&2
    exit 1
}

run produce "$B" 0 1000
start_app 1
wait_running 1
# Input keeps arriving while the application is killed in the middle of it.
run produce "$B" 1000 3000 &
PRODUCER=$!
sleep 1.5
kill -9 "$APP"
wait "$APP" 2>/dev/null || true
echo "killed the application mid-stream"
wait "$PRODUCER"

# Restarted with its state directory wiped: it restores the counts from the changelog.
start_app 2
wait_running 2
run produce "$B" 3000 4000
if ! run verify "$B" 4000 >"$WORK/verify" 2>&1; then
    cat "$WORK/verify" "$WORK/app-2.log" >&2
    exit 1
fi
cat "$WORK/verify"
kill -9 "$APP"
wait "$APP" 2>/dev/null || true
APP=""
echo "streams wordcount ok"
