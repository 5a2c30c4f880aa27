#!/usr/bin/env bash
# Whole-broker benchmark: builds the release binary, starts it on a temporary data dir and
# drives it with librdkafka's own load generator, rdkafka_performance (built from the
# librdkafka sources inside the crates.io package rdkafka-sys, which the tests already use).
# Prints `metric value unit` lines; numbers are rdkafka_performance's own figures, plus the
# broker's CPU seconds and RSS from /proc and its start-up time.
#
#   scripts/bench.sh                      # defaults below
#   COUNT=2000000 SIZE=1024 scripts/bench.sh
#   STROM_BIN=/path/to/other/strom scripts/bench.sh   # another build, for before/after runs
#   AGAINST=kafka KAFKA_VERSION=4.4.0 REPS=3 scripts/bench.sh
#
# AGAINST=kafka runs the same loads against Apache Kafka as well (scripts/kafka-reference.sh: one
# KRaft node, Kafka's shipped server.properties settings, the JVM options of Kafka's own start
# script unless KAFKA_HEAP_OPTS / KAFKA_JVM_PERFORMANCE_OPTS say otherwise), on KAFKA_PORT (and
# KAFKA_PORT + 1 for its controller). Each of the REPS rounds starts a fresh Strom, loads it,
# stops it, then does the same with a fresh Kafka. Every result line then carries broker= and
# run=; at the end come `metric strom=S kafka=K unit strom/kafka=R better=higher|lower` lines
# (medians when REPS > 1) and the same as a markdown table. With REPS > 1 and Strom alone, the
# end has `metric median unit median_of=N range=min..max`.
#
# One run, on a fresh broker:
#   startup_to_metadata_ms   spawn of the broker process (Kafka: its java process, after the
#                            data directory is formatted) to its first Metadata answer listing a
#                            broker; a raw Metadata v4 request from bash, retried every 2 ms
#   broker_rss_idle          VmRSS IDLE_S seconds after that
#   (WARMUP messages, then, are produced and consumed on another topic, untimed, so that the
#   timed loads meet a JVM that has compiled its hot paths; by default COUNT with AGAINST=kafka,
#   for both brokers, and 0 for Strom alone)
#   produce_<SIZE>B_acksall  COUNT messages of SIZE bytes to one partition, acks=all (the topic is
#                            auto-created by one message first, so creation is not timed)
#   produce_broker_cpu_s_per_GB, consume_1partition, consume_broker_cpu_s_per_GB
#   produce_<rate>_latency_p50/_p99  produce() to delivery report, acks=all, linger 0, for LAT_S
#                            seconds at each rate of LAT_RATES msg/s (rdkafka_performance -l; its
#                            rate limiter busy-polls a core at 10 k/s); the first 0.1 s (connection
#                            set-up) is left out; after an unthrottled 10 k message warm-up. With
#                            linger 0 each message is about one request: a broker that cannot answer
#                            that many requests a second queues them, and its latency is then the
#                            queue's (see _achieved)
#   produce_<rate>_msgs_per_s_achieved, broker_rss_after_load
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${PORT:-19092}
SIZE=${SIZE:-1024}
COUNT=${COUNT:-1000000}
MAX_S=${MAX_S:-60}
AGAINST=${AGAINST:-}
KAFKA_PORT=${KAFKA_PORT:-$((PORT + 1))}
REPS=${REPS:-1}
IDLE_S=${IDLE_S:-5}
LAT_RATES=${LAT_RATES:-1000 10000}
LAT_S=${LAT_S:-5}
STARTUP_MAX_S=${STARTUP_MAX_S:-120}
if [ "$AGAINST" = kafka ]; then WARMUP=${WARMUP:-$COUNT}; else WARMUP=${WARMUP:-0}; fi
# kafka-server-start.sh's heap and kafka-run-class.sh's performance options.
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}

case $AGAINST in
    "" | strom) BROKERS=strom ;;
    kafka) BROKERS="strom kafka" ;;
    *) echo "bench: AGAINST is empty or kafka, not '$AGAINST'" >&2; exit 2 ;;
esac
for v in REPS WARMUP IDLE_S LAT_S STARTUP_MAX_S MAX_S COUNT SIZE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "bench: $v must be a whole number" >&2; exit 2; }
done
[ "$REPS" -ge 1 ] || { echo "bench: REPS must be at least 1" >&2; exit 2; }
for r in $LAT_RATES; do
    [[ $r =~ ^[1-9][0-9]*$ ]] || { echo "bench: LAT_RATES are msg/s, whole numbers above 0" >&2; exit 2; }
done
# Per-run lines only, as before, when Strom is measured once; otherwise a summary at the end.
SUMMARY=1
[ "$BROKERS" = strom ] && [ "$REPS" = 1 ] && SUMMARY=0

. scripts/bench-lib.sh

if [ -z "${STROM_BIN:-}" ]; then
    cargo build --release -q -p strom-server
    STROM_BIN=$ROOT/target/release/strom
fi
RDKPERF=$(build_rdkperf)
RESULTS=$WORK/bench-results.txt
: >"$RESULTS"
LOADS=

# The broker being measured: CUR_PID is the process whose CPU and RSS are read (Strom, or
# Kafka's java), CUR_STOP the one to send SIGTERM to (Strom, or kafka-reference.sh, which
# stops its java and removes the data directory).
CUR_PID='' CUR_STOP=''
stop_broker() {
    [ -n "$CUR_STOP" ] || return 0
    kill -TERM "$CUR_STOP" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do # up to 30 s for a clean shutdown
        alive "$CUR_STOP" || { [ -n "$CUR_PID" ] && alive "$CUR_PID"; } || break
        sleep 0.1
    done
    [ -n "$CUR_PID" ] && alive "$CUR_PID" && { log "broker $CUR_PID did not stop; SIGKILL"; kill -KILL "$CUR_PID" 2>/dev/null || true; }
    alive "$CUR_STOP" && kill -KILL "$CUR_STOP" 2>/dev/null
    wait "$CUR_STOP" 2>/dev/null || true
    CUR_PID='' CUR_STOP=''
}
trap stop_broker EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_port_free PORT: bounded wait for a previous broker's listener to go away.
wait_port_free() {
    local i
    for ((i = 0; i < 100; i++)); do port_open "$1" || return 0; sleep 0.1; done
    echo "bench: something listens on 127.0.0.1:$1; stop it or choose another port" >&2
    exit 1
}

startup_failed() {
    echo "bench: $1 did not answer Metadata within $STARTUP_MAX_S s; the end of its log ($BROKER_LOG):" >&2
    tail -20 "$BROKER_LOG" >&2
    exit 1
}

# start_strom / start_kafka: start a fresh broker, wait for its first Metadata answer; set
# CUR_PID, CUR_STOP, ADDR, STARTUP_MS.
start_strom() {
    wait_port_free "$PORT"
    BROKER_LOG=$WORK/bench-strom.log
    cat "$STROM_BIN" >/dev/null # in the page cache, as Kafka's jars are after its format step
    local t0=$EPOCHREALTIME
    "$STROM_BIN" --ephemeral --listen "127.0.0.1:$PORT" >"$BROKER_LOG" 2>&1 &
    CUR_PID=$! CUR_STOP=$!
    wait_metadata "$PORT" "$CUR_PID" "$STARTUP_MAX_S" || startup_failed Strom
    STARTUP_MS=$(ms_between "$t0" "$METADATA_AT")
    ADDR=127.0.0.1:$PORT
}

start_kafka() {
    wait_port_free "$KAFKA_PORT"
    wait_port_free $((KAFKA_PORT + 1))
    BROKER_LOG=$WORK/bench-kafka.log
    local pidfile=$WORK/bench-kafka.pid t0 i t_script=$EPOCHREALTIME
    rm -f "$pidfile"
    KAFKA_PID_FILE=$pidfile KAFKA_HEAP_OPTS=$KAFKA_HEAP_OPTS KAFKA_JVM_PERFORMANCE_OPTS=$KAFKA_JVM_PERFORMANCE_OPTS \
        scripts/kafka-reference.sh "$KAFKA_PORT" >"$BROKER_LOG" 2>&1 &
    CUR_STOP=$!
    # The script formats the data directory (and the first time fetches the jars) first.
    for ((i = 0; i < 60000; i++)); do
        [ -s "$pidfile" ] || ! alive "$CUR_STOP" && break
        nap 0.01
    done
    [ -s "$pidfile" ] || startup_failed "kafka-reference.sh"
    read -r CUR_PID t0 <"$pidfile"
    wait_metadata "$KAFKA_PORT" "$CUR_PID" "$STARTUP_MAX_S" || startup_failed Kafka
    STARTUP_MS=$(ms_between "$t0" "$METADATA_AT")
    log "kafka: $(ms_between "$t_script" "$METADATA_AT") ms from kafka-reference.sh, with the format step"
    ADDR=127.0.0.1:$KAFKA_PORT
}

# result METRIC VALUE UNIT, for BROKER in round REP.
result() {
    local v=${2:-n/a}
    echo "$BROKER $REP $1 $v $3" >>"$RESULTS"
    if [ "$SUMMARY" = 0 ]; then echo "$1 $v $3"; else echo "$1 $v $3 broker=$BROKER run=$REP"; fi
}

# field TEXT SED_EXPR: what SED_EXPR's \1 captures from TEXT; nothing when it does not match.
field() { echo "$1" | sed -nE "s/$2/\1/p"; }

# run_broker: one fresh broker of kind BROKER, all loads, stopped again.
run_broker() {
    local before after out pid lat rate rl
    "start_$BROKER"
    pid=$CUR_PID
    LOADS="$LOADS $(cut -d' ' -f1 /proc/loadavg)"
    log "$BROKER (round $REP/$REPS): pid $pid on $ADDR; load: $(uptime)"
    result startup_to_metadata_ms "$STARTUP_MS" ms
    sleep "$IDLE_S"
    result broker_rss_idle "$(rss_mib "$pid")" MiB

    if [ "$WARMUP" -gt 0 ]; then
        out=$(timeout -s INT "$MAX_S" "$RDKPERF" -P -t warmup -p 0 -b "$ADDR" -s "$SIZE" -c "$WARMUP" -a -1 "${x[@]}" 2>&1 |
              grep 'messages produced' | tail -1) || true
        log "$BROKER warm-up: $out"
        out=$(timeout -s INT "$MAX_S" "$RDKPERF" -C -t warmup -p 0 -b "$ADDR" -o beginning -e 2>&1 | grep 'consumed in' | tail -1) || true
        log "$BROKER warm-up: $out"
    fi

    # Produce: acks=all, 1 partition. One message first, so that the topic exists (auto-created).
    timeout -s INT 30 "$RDKPERF" -P -t bench -p 0 -b "$ADDR" -s "$SIZE" -c 1 -a -1 >/dev/null 2>&1 || true
    before=$(cpu_s "$pid")
    out=$(timeout -s INT "$MAX_S" "$RDKPERF" -P -t bench -p 0 -b "$ADDR" -s "$SIZE" -c "$COUNT" -a -1 "${x[@]}" 2>&1 |
          grep 'messages produced' | tail -1) || true
    after=$(cpu_s "$pid")
    echo "$out" | grep -q " $COUNT delivered" || log "$BROKER: not everything was delivered: $out"
    result "produce_${SIZE}B_acksall" "$(field "$out" '.* ([0-9.]+) MB\/s.*')" MB/s
    result "produce_${SIZE}B_acksall_msgs" "$(field "$out" '.* ([0-9]+) msgs\/s.*')" msg/s
    result produce_broker_cpu_s_per_GB "$(per_gb "$before" "$after")" s/GB

    # Consume everything from the start.
    before=$(cpu_s "$pid")
    out=$(timeout -s INT "$MAX_S" "$RDKPERF" -C -t bench -p 0 -b "$ADDR" -o beginning -e 2>&1 | grep 'consumed in' | tail -1) || true
    after=$(cpu_s "$pid")
    echo "$out" | grep -q "% $((COUNT + 1)) messages" || log "$BROKER: not everything was consumed: $out"
    result consume_1partition "$(field "$out" '.*\(([0-9.]+) MB\/s\).*')" MB/s
    result consume_broker_cpu_s_per_GB "$(per_gb "$before" "$after")" s/GB

    # Produce-to-ack latency at a fixed rate (acks=all, linger 0): rdkafka_performance -l writes
    # each delivery report's latency (µs) to a file. A warm-up run creates the topic first.
    # (End-to-end latency through a consumer is measured by the neutral harness,
    # ../shared/bench/latency.sh.)
    timeout -s INT 60 "$RDKPERF" -P -t latency -p 0 -b "$ADDR" -s "$SIZE" -c 10000 -a -1 -X linger.ms=0 >/dev/null 2>&1 || true
    for rate in $LAT_RATES; do
        if [ $((rate % 1000)) = 0 ]; then rl=$((rate / 1000))k; else rl=$rate; fi
        lat=$WORK/bench-latency-$BROKER-$rate.txt
        rm -f "$lat"
        out=$(timeout -s INT $((LAT_S * 2 + 30)) "$RDKPERF" -P -t latency -p 0 -b "$ADDR" -s "$SIZE" \
              -r "$rate" -c $((rate * LAT_S)) -a -1 -X linger.ms=0 -l -A "$lat" 2>&1 | grep 'messages produced' | tail -1) || true
        result "produce_${rl}_latency_p50" "$(percentile_ms "$lat" 50 $((rate / 10)))" ms
        result "produce_${rl}_latency_p99" "$(percentile_ms "$lat" 99 $((rate / 10)))" ms
        result "produce_${rl}_msgs_per_s_achieved" "$(field "$out" '.* ([0-9]+) msgs\/s.*')" msg/s
    done
    result broker_rss_after_load "$(rss_mib "$pid")" MiB
    stop_broker
}

for ((REP = 1; REP <= REPS; REP++)); do
    for BROKER in $BROKERS; do run_broker; done
done
[ "$SUMMARY" = 1 ] || exit 0

# Summary: per metric (in the order measured) and broker, the median of the runs and their range.
KAFKA_DESC=$(sed -nE 's/^kafka-reference: (Kafka [^ ]+) on.*/\1/p' "$WORK/bench-kafka.log" 2>/dev/null | tail -1)
STROM_DESC=$("$STROM_BIN" --version 2>/dev/null | head -1)
echo
echo "# $STROM_DESC${KAFKA_DESC:+ vs Apache $KAFKA_DESC}; $COUNT x $SIZE B, acks=all, warm-up $WARMUP messages; ${REPS} round(s), medians; load1 at broker starts:$LOADS"
awk -v against="${AGAINST:-strom}" -v reps="$REPS" '
    function better(m) { return (m ~ /_cpu_s_per_GB$|latency|rss|startup/) ? "lower" : "higher" }
    function median(s,   a, n, i, j, t) {
        n = split(s, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        if (!n) return "n/a"
        lo[0] = a[1]; hi[0] = a[n]
        return (n % 2) ? a[(n + 1) / 2] : sprintf("%.3f", (a[n / 2] + a[n / 2 + 1]) / 2) + 0
    }
    # cell(broker, metric): median, and with several runs its range
    function cell(b, m,   v) {
        v = median(vals[b, m]); cnt = split(vals[b, m], tmp, " ")
        med[b] = v
        return (reps > 1 && cnt > 0) ? v " (" lo[0] ".." hi[0] ")" : v
    }
    !seen[$3]++ { order[++nm] = $3; unit[$3] = $5 }
    $4 != "n/a" { vals[$1, $3] = vals[$1, $3] " " $4 }
    END {
        if (against != "kafka") {
            for (i = 1; i <= nm; i++) {
                m = order[i]; v = median(vals["strom", m]); n = split(vals["strom", m], tmp, " ")
                printf "%s %s %s median_of=%d range=%s..%s\n", m, v, unit[m], n, (n ? lo[0] : "n/a"), (n ? hi[0] : "n/a")
            }
            exit
        }
        for (i = 1; i <= nm; i++) {
            m = order[i]
            cs[m] = cell("strom", m); ck[m] = cell("kafka", m)
            ratio[m] = (med["strom"] != "n/a" && med["kafka"] != "n/a" && med["kafka"] + 0 != 0) ? sprintf("%.3g", med["strom"] / med["kafka"]) : "n/a"
            printf "%s strom=%s kafka=%s %s strom/kafka=%s better=%s\n", m, med["strom"], med["kafka"], unit[m], ratio[m], better(m)
        }
        print ""
        print "| metric | Strom | Kafka | Strom/Kafka | better is |"
        print "|---|---|---|---|---|"
        for (i = 1; i <= nm; i++) {
            m = order[i]
            printf "| %s (%s) | %s | %s | %s | %s |\n", m, unit[m], cs[m], ck[m], ratio[m], better(m)
        }
    }' "$RESULTS"
