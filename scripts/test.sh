#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine (kcat, kafka-python, confluent-kafka,
# Go and Debian's sarama 1.22, a JDK and Maven, librdkafka's
# build dependencies) and runs every test: unit, integration with stock clients, and
# librdkafka's own suite on the allow-list when ../shared/compat is present.
#
#   scripts/test.sh            # everything
#   SKIP_INSTALL=1 scripts/test.sh
#   SKIP_COMPAT=1 scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    need=""
    command -v kcat >/dev/null || need="$need kcat"
    command -v cc >/dev/null || need="$need build-essential"
    command -v pkg-config >/dev/null || need="$need pkg-config"
    command -v python3 >/dev/null || need="$need python3 python3-pip"
    dpkg-query -W -f='${Status}' zlib1g-dev 2>/dev/null | grep -q "ok installed" || need="$need zlib1g-dev"
    # sarama 1.22 as Debian packages it, for the old-clients test (built in GOPATH mode).
    command -v go >/dev/null || need="$need golang-go"
    [ -d /usr/share/gocode/src/github.com/Shopify/sarama ] || need="$need golang-github-shopify-sarama-dev"
    # The Java client's test resolves kafka-clients from Maven Central.
    command -v javac >/dev/null || need="$need default-jdk-headless"
    command -v mvn >/dev/null || need="$need maven"
    if [ -n "$need" ]; then
        echo "test.sh: installing$need" >&2
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need >/dev/null
    fi
    if ! python3 -c "import kafka" 2>/dev/null; then
        echo "test.sh: installing kafka-python" >&2
        python3 -m pip install -q kafka-python 2>/dev/null \
            || python3 -m pip install -q --break-system-packages kafka-python
    fi
    if ! python3 -c "import confluent_kafka" 2>/dev/null; then
        echo "test.sh: installing confluent-kafka" >&2
        python3 -m pip install -q confluent-kafka 2>/dev/null \
            || python3 -m pip install -q --break-system-packages confluent-kafka
    fi
    command -v cargo-nextest >/dev/null || true
fi

export STROM_REQUIRE_CLIENTS=1
cargo fmt --all -- --check
python3 scripts/check-tree.py
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace -- --test-threads=2

if [ "${SKIP_COMPAT:-0}" != 1 ] && [ -x ../shared/compat/librdkafka/run.sh ]; then
    scripts/compat-librdkafka.sh
fi
