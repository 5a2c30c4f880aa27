#!/usr/bin/env bash
# Kafka's own command-line tools (org.apache.kafka:kafka-tools, the classes behind
# kafka-topics.sh, kafka-console-producer.sh, ...) run as a user runs them against a broker,
# each output checked.
#
#   integration-tests/java/kafka-tools.sh BOOTSTRAP CLASSPATH
#
# CLASSPATH holds kafka-tools and its dependencies (tools-pom.xml resolves them). Every tool
# runs under `timeout`; the first failure stops the script with the tool's output.
set -euo pipefail
B=$1
CP=$2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# kafka-run-class.sh, reduced to what the tools need.
tool() {
    local class=$1
    shift
    timeout 120 java -Xmx256m -cp "$CP" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
        "org.apache.kafka.tools.$class" "$@"
}

# run NAME CLASS ARGS...: runs a tool, keeps its output in $WORK/NAME, fails loudly.
run() {
    local name=$1
    shift
    if ! tool "$@" >"$WORK/$name" 2>"$WORK/$name.err"; then
        echo "FAIL: $name exited non-zero" >&2
        cat "$WORK/$name" "$WORK/$name.err" >&2
        exit 1
    fi
}

# expect NAME PATTERN: the output of NAME matches the extended regex PATTERN.
expect() {
    if ! grep -Eq "$2" "$WORK/$1"; then
        echo "FAIL: $1: no line matches /$2/" >&2
        cat "$WORK/$1" "$WORK/$1.err" >&2
        exit 1
    fi
}

# sum_offsets NAME: the sum of the offsets GetOffsetShell printed (topic:partition:offset).
sum_offsets() {
    awk -F: '{ s += $NF } END { print s + 0 }' "$WORK/$1"
}

T=tools-t
G=tools-g

# kafka-broker-api-versions
run api BrokerApiVersionsCommand --bootstrap-server "$B"
expect api 'Produce\(0\): 0 to [0-9]+'
expect api 'Fetch\(1\): 0 to [0-9]+'

# kafka-topics: create, list, describe, alter
run create TopicCommand --bootstrap-server "$B" --create --topic "$T" --partitions 3 \
    --replication-factor 1 --config retention.ms=3600000
expect create "Created topic $T"
run list TopicCommand --bootstrap-server "$B" --list
expect list "^$T\$"
run alter TopicCommand --bootstrap-server "$B" --alter --topic "$T" --partitions 4
run describe TopicCommand --bootstrap-server "$B" --describe --topic "$T"
expect describe "PartitionCount: 4"
expect describe "retention.ms=3600000"
expect describe "Partition: 3.*Leader: [0-9]+.*Isr: [0-9]+"

# kafka-configs: alter and describe a topic's configs, describe the broker's
run configs_alter ConfigCommand --bootstrap-server "$B" --entity-type topics --entity-name "$T" \
    --alter --add-config "retention.ms=7200000,cleanup.policy=[compact,delete]"
run configs_describe ConfigCommand --bootstrap-server "$B" --entity-type topics --entity-name "$T" \
    --describe
expect configs_describe "retention.ms=7200000"
expect configs_describe "cleanup.policy=compact,delete"
run configs_alter_back ConfigCommand --bootstrap-server "$B" --entity-type topics --entity-name "$T" \
    --alter --delete-config cleanup.policy
run configs_broker ConfigCommand --bootstrap-server "$B" --entity-type brokers --entity-default \
    --describe
expect configs_broker "Default configs for brokers"

# kafka-console-producer: keyed lines
seq 1 20 | sed 's/.*/k&:value-&/' >"$WORK/input"
tool ConsoleProducer --bootstrap-server "$B" --topic "$T" --reader-property parse.key=true \
    --reader-property key.separator=: <"$WORK/input" >"$WORK/produce" 2>&1 || {
    echo "FAIL: console producer" >&2
    cat "$WORK/produce" >&2
    exit 1
}

# kafka-get-offsets: 20 records over the partitions
run offsets GetOffsetShell --bootstrap-server "$B" --topic "$T"
[ "$(sum_offsets offsets)" = 20 ] || { echo "FAIL: offsets sum $(sum_offsets offsets)" >&2; cat "$WORK/offsets" >&2; exit 1; }

# kafka-console-consumer: in a group, every record with its key
run consume consumer.ConsoleConsumer --bootstrap-server "$B" --topic "$T" --group "$G" \
    --from-beginning --max-messages 20 --formatter-property print.key=true --timeout-ms 30000
[ "$(grep -c value- "$WORK/consume")" = 20 ] || { echo "FAIL: consumed $(grep -c value- "$WORK/consume")" >&2; cat "$WORK/consume" >&2; exit 1; }
expect consume "^k7	value-7\$"

# kafka-consumer-groups: list, describe with lag, reset offsets, delete
run groups_list consumer.group.ConsumerGroupCommand --bootstrap-server "$B" --list
expect groups_list "^$G\$"
seq 21 25 | sed 's/.*/k&:value-&/' | tool ConsoleProducer --bootstrap-server "$B" --topic "$T" \
    --reader-property parse.key=true --reader-property key.separator=: >/dev/null 2>&1
run groups_describe consumer.group.ConsumerGroupCommand --bootstrap-server "$B" --describe --group "$G"
lag=$(awk -v t="$T" '$2 == t { s += $6 } END { print s + 0 }' "$WORK/groups_describe")
[ "$lag" = 5 ] || { echo "FAIL: lag $lag, want 5" >&2; cat "$WORK/groups_describe" >&2; exit 1; }
run groups_reset consumer.group.ConsumerGroupCommand --bootstrap-server "$B" --reset-offsets \
    --group "$G" --topic "$T" --to-earliest --execute
run groups_describe2 consumer.group.ConsumerGroupCommand --bootstrap-server "$B" --describe --group "$G"
lag=$(awk -v t="$T" '$2 == t { s += $6 } END { print s + 0 }' "$WORK/groups_describe2")
[ "$lag" = 25 ] || { echo "FAIL: lag after reset $lag, want 25" >&2; cat "$WORK/groups_describe2" >&2; exit 1; }
run groups_delete consumer.group.ConsumerGroupCommand --bootstrap-server "$B" --delete --group "$G"
expect groups_delete "Deletion of requested consumer groups \('$G'\) was successful"

# kafka-delete-records: partition 0 emptied up to its end
run end0 GetOffsetShell --bootstrap-server "$B" --topic "$T" --partitions 0 --time -1
end=$(sum_offsets end0)
printf '{"partitions":[{"topic":"%s","partition":0,"offset":%s}],"version":1}\n' "$T" "$end" >"$WORK/delete.json"
run delete_records DeleteRecordsCommand --bootstrap-server "$B" --offset-json-file "$WORK/delete.json"
expect delete_records "partition: $T-0	low_watermark: $end"
run start0 GetOffsetShell --bootstrap-server "$B" --topic "$T" --partitions 0 --time -2
[ "$(sum_offsets start0)" = "$end" ] || { echo "FAIL: earliest of $T-0 is not $end" >&2; cat "$WORK/start0" >&2; exit 1; }

# kafka-log-dirs
run logdirs LogDirsCommand --bootstrap-server "$B" --describe --topic-list "$T"
expect logdirs "\"partition\":\"$T-1\""

# kafka-transactions: the console producer is idempotent, so partition 1 has a producer
run producers TransactionsCommand --bootstrap-server "$B" describe-producers --topic "$T" --partition 1
expect producers "^ProducerId"
expect producers "^[0-9]+[[:space:]]+[0-9]+[[:space:]]+-?[0-9]+"

# kafka-acls
run acl_add AclCommand --bootstrap-server "$B" --add --allow-principal User:alice --operation Read \
    --topic "$T"
run acl_list AclCommand --bootstrap-server "$B" --list --topic "$T"
expect acl_list "principal=User:alice, host=\*, operation=READ, permissionType=ALLOW"

# kafka-producer-perf-test and kafka-consumer-perf-test
run pperf ProducerPerformance --topic tools-perf --num-records 20000 --record-size 100 \
    --throughput -1 --producer-props bootstrap.servers="$B" acks=all \
    --transactional-id tools-perf-txn --transaction-duration-ms 200
expect pperf "^20000 records sent"

# kafka-transactions: the perf test's transactional id, listed and described
run txn_list TransactionsCommand --bootstrap-server "$B" list
expect txn_list "^tools-perf-txn[[:space:]]+[0-9]+[[:space:]]+[0-9]+[[:space:]]+CompleteCommit"
run txn_describe TransactionsCommand --bootstrap-server "$B" describe --transactional-id tools-perf-txn
expect txn_describe "CompleteCommit"
# find-hanging reads every partition's producers (DescribeProducers, with each open
# transaction's start offset) and asks the coordinator about old ones: none hang here.
run hanging TransactionsCommand --bootstrap-server "$B" find-hanging --broker-id 1
expect hanging "^Topic[[:space:]]+Partition[[:space:]]+ProducerId"
[ "$(wc -l <"$WORK/hanging")" = 1 ] || { echo "FAIL: find-hanging lists transactions" >&2; cat "$WORK/hanging" >&2; exit 1; }
run cperf ConsumerPerformance --bootstrap-server "$B" --topic tools-perf --messages 20000 --timeout 30000
expect cperf ", 20000, "

# kafka-e2e-latency
run e2e EndToEndLatency --bootstrap-server "$B" --topic tools-e2e --num-records 200 \
    --producer-acks all --record-size 100
expect e2e "Avg latency"

# kafka-verifiable-producer and kafka-verifiable-consumer
run vproducer VerifiableProducer --bootstrap-server "$B" --topic tools-v --max-messages 100 --acks -1
[ "$(grep -c '"name":"producer_send_success"' "$WORK/vproducer")" = 100 ] || { echo "FAIL: verifiable producer" >&2; tail "$WORK/vproducer" >&2; exit 1; }
run vconsumer VerifiableConsumer --bootstrap-server "$B" --topic tools-v --group-id tools-vg \
    --max-messages 100 --reset-policy earliest --group-protocol classic
expect vconsumer '"name":"offsets_committed".*"success":true'
consumed=$(grep -o '"name":"records_consumed","count":[0-9]*' "$WORK/vconsumer" | awk -F: '{ s += $NF } END { print s + 0 }')
[ "$consumed" = 100 ] || { echo "FAIL: verifiable consumer read $consumed" >&2; tail "$WORK/vconsumer" >&2; exit 1; }

# kafka-topics: delete
run delete TopicCommand --bootstrap-server "$B" --delete --topic "$T"
run list2 TopicCommand --bootstrap-server "$B" --list
if grep -q "^$T\$" "$WORK/list2"; then
    echo "FAIL: $T still listed after deletion" >&2
    exit 1
fi
echo "kafka tools ok"
