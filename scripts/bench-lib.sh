# shellcheck shell=bash
# Shared by scripts/bench.sh and scripts/ceiling.sh (sourced, from the repository root, after
# COUNT and SIZE are set). Sets WORK (the scratch directory, BENCH_WORK), PRODUCER_PROPS (the
# neutral harness's producer settings unless given), x (those as rdkafka_performance -X
# arguments) and gb (GB of payload in one load of COUNT x SIZE); opens SLEEP_FD (for nap).
# Helpers below: process CPU and RSS, a broker's start-up probe (a raw Metadata request from
# bash, no client library), percentiles.

WORK=${BENCH_WORK:-${TMPDIR:-/tmp}/strom-bench}
PRODUCER_PROPS=${PRODUCER_PROPS:-"linger.ms=5 batch.size=1048576 message.max.bytes=2000000 batch.num.messages=100000"}
mkdir -p "$WORK"
x=(); for p in $PRODUCER_PROPS; do x+=(-X "$p"); done
gb=$(awk -v c="$COUNT" -v s="$SIZE" 'BEGIN { printf "%.3f", c * s / 1e9 }')

log() { echo "# $*" >&2; }

# Prints the path of rdkafka_performance, librdkafka's own load generator, built once from the
# librdkafka sources inside the crates.io package rdkafka-sys (which the tests already use).
build_rdkperf() {
    local bin="$WORK/rdkafka_performance"
    [ -x "$bin" ] && { echo "$bin"; return; }
    command -v make >/dev/null || { apt-get update -qq && apt-get install -y -qq build-essential >/dev/null; }
    cargo fetch -q
    local src
    # shellcheck disable=SC2012 # the last match in sort order; these paths have no odd characters
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rdkafka-sys-*/librdkafka 2>/dev/null | sort | tail -1)
    [ -n "$src" ] || { echo "bench: rdkafka-sys sources not found after cargo fetch" >&2; exit 2; }
    log "building rdkafka_performance from $src (once)"
    rm -rf "$WORK/librdkafka" && cp -r "$src" "$WORK/librdkafka"
    (cd "$WORK/librdkafka" && ./configure --disable-curl --disable-gssapi --disable-ssl --disable-sasl >/dev/null &&
        make -j"$(nproc)" libs >/dev/null && make -C examples rdkafka_performance >/dev/null) >&2
    cp "$WORK/librdkafka/examples/rdkafka_performance" "$bin"
    echo "$bin"
}

# CPU seconds (user + system) a process has used so far.
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

# per_gb BEFORE AFTER: CPU seconds spent between two cpu_s readings, per GB of one load.
per_gb() { awk -v a="$1" -v b="$2" -v g="$gb" 'BEGIN { printf "%.3f", (b - a) / g }'; }

# Resident memory of a process, MiB.
rss_mib() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# alive PID: the process exists and is not a zombie.
alive() {
    local state
    state=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    local fd
    { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    exec {fd}>&-
}

# A file descriptor that never has data, so that `read -t` sleeps without spawning a process.
exec {SLEEP_FD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

# metadata_ok PORT TIMEOUT_S: one Metadata v4 request (no topics) to 127.0.0.1:PORT, on a new
# connection; succeeds when the answer, within TIMEOUT_S, carries our correlation id and lists at
# least one broker. (v4 is the oldest version Kafka 4 serves.) Frame: size 20, api key 3,
# version 4, correlation id 1, client id "probe", 0 topics, allow_auto_topic_creation false.
# The answer starts with: size, correlation id, throttle time, broker count (int32 each).
metadata_ok() {
    local fd bytes
    { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
    # In a subshell: a write to a connection the peer has reset would end this shell (SIGPIPE).
    if ! (printf '\0\0\0\x14\0\x03\0\x04\0\0\0\x01\0\x05probe\0\0\0\0\0') 2>/dev/null 1>&"$fd"; then
        exec {fd}>&-
        return 1
    fi
    bytes=$(timeout "$2" head -c 16 <&"$fd" | od -An -tu1) || true
    exec {fd}>&-
    # shellcheck disable=SC2086 # one word per byte
    set -- $bytes
    [ $# -eq 16 ] && [ "$5$6$7$8" = 0001 ] && [ $((${13} << 24 | ${14} << 16 | ${15} << 8 | ${16})) -ge 1 ]
}

# wait_metadata PORT PID MAX_S: retries metadata_ok every 2 ms until it succeeds (then sets
# METADATA_AT to the time, as EPOCHREALTIME), PID is gone, or MAX_S seconds have passed.
wait_metadata() {
    local end=$((${EPOCHREALTIME%.*} + $3)) left i
    for ((i = 0; i < $3 * 500; i++)); do
        left=$((end - ${EPOCHREALTIME%.*}))
        [ "$left" -gt 0 ] || return 1
        if metadata_ok "$1" "$left"; then
            # shellcheck disable=SC2034 # for the caller
            METADATA_AT=$EPOCHREALTIME
            return 0
        fi
        alive "$2" || return 1
        nap 0.002
    done
    return 1
}

# ms_between T0 T1: milliseconds between two EPOCHREALTIME readings.
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# percentile_ms FILE P SKIP: the P-th percentile (nearest rank) of the microsecond figures in
# FILE, one a line, after its first SKIP lines, in ms; nothing when there are none.
percentile_ms() {
    tail -n +"$(($3 + 1))" "$1" 2>/dev/null | sort -n | awk -v p="$2" '
        { v[NR] = $1 }
        END { if (NR) { i = int(NR * p / 100); if (i < NR * p / 100) i++; if (i < 1) i = 1; printf "%.3f", v[i] / 1000 } }'
}
