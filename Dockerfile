# Strom broker image: build with the Rust toolchain, run on slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p strom-server --bin strom

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/strom /usr/local/bin/strom
COPY config/strom.toml /etc/strom/strom.toml
VOLUME /var/lib/strom
EXPOSE 9092 9644
ENV STROM_LOG_DIRS=/var/lib/strom
ENTRYPOINT ["/usr/local/bin/strom", "--config", "/etc/strom/strom.toml"]
