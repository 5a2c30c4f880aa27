# Shared by scripts/bench.sh and scripts/ceiling.sh (sourced, from the repository root, after
# COUNT and SIZE are set). Sets WORK (the scratch directory, BENCH_WORK), PRODUCER_PROPS (the
# neutral harness's producer settings unless given), x (those as rdkafka_performance -X
# arguments) and gb (GB of payload in one load of COUNT x SIZE).

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
