//! Times Fetch requests against a broker while something else loads it: a consumer that keeps
//! up with one partition's log end, one Fetch (v11, `max_wait_ms` 0, so the broker answers at
//! once with whatever is there) every `--interval-us`, each starting where the last one's high
//! watermark was. Prints the round trips' percentiles in microseconds, as `metric value unit`
//! lines. Used by `scripts/fetch-latency.sh` to show whether a consumer waits for producers or
//! for the disk.
//!
//! ```text
//! fetch_probe BOOTSTRAP TOPIC SECONDS [--partition N] [--interval-us N]
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use strom_codec::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_codec::kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, RequestHeader, ResponseHeader, TopicName,
};
use strom_codec::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

const FETCH_VERSION: i16 = 11;
/// Largest response this probe reads (a consumer's `fetch.max.bytes` default is 50 MiB).
const RESPONSE_BYTES_MAX: usize = 64 << 20;

struct Args {
    bootstrap: String,
    topic: String,
    seconds: u64,
    partition: i32,
    interval: Duration,
}

fn args() -> Result<Args> {
    let mut it = std::env::args().skip(1);
    let usage = "usage: fetch_probe BOOTSTRAP TOPIC SECONDS [--partition N] [--interval-us N]";
    let bootstrap = it.next().context(usage)?;
    let topic = it.next().context(usage)?;
    let seconds = it.next().context(usage)?.parse().context("SECONDS")?;
    let mut a = Args {
        bootstrap,
        topic,
        seconds,
        partition: 0,
        interval: Duration::from_micros(1000),
    };
    while let Some(flag) = it.next() {
        let value = it.next().context(usage)?;
        match flag.as_str() {
            "--partition" => a.partition = value.parse()?,
            "--interval-us" => a.interval = Duration::from_micros(value.parse()?),
            _ => bail!("{usage}"),
        }
    }
    Ok(a)
}

fn request(topic: &str, partition: i32, offset: i64, correlation_id: i32) -> Result<Vec<u8>> {
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Fetch as i16)
        .with_request_api_version(FETCH_VERSION)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("fetch_probe")));
    let body = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(0)
        .with_max_bytes(50 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header.encode(
        &mut buf,
        ApiKey::Fetch.request_header_version(FETCH_VERSION),
    )?;
    body.encode(&mut buf, FETCH_VERSION)?;
    let len = i32::try_from(buf.len() - 4)?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.to_vec())
}

fn read_response(stream: &mut TcpStream) -> Result<Bytes> {
    let mut prefix = [0u8; 4];
    stream.read_exact(&mut prefix)?;
    let len = usize::try_from(i32::from_be_bytes(prefix))?;
    if len > RESPONSE_BYTES_MAX {
        bail!("response of {len} bytes");
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Bytes::from(body))
}

/// The high watermark the response reports for the one partition asked for.
fn high_watermark(mut response: Bytes) -> Result<i64> {
    ResponseHeader::decode(
        &mut response,
        ApiKey::Fetch.response_header_version(FETCH_VERSION),
    )?;
    let body = FetchResponse::decode(&mut response, FETCH_VERSION)?;
    if body.error_code != 0 {
        bail!("fetch error {}", body.error_code);
    }
    let p = body
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .context("no partition in the response")?;
    if p.error_code != 0 {
        bail!("partition error {}", p.error_code);
    }
    Ok(p.high_watermark)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> Result<()> {
    let a = args()?;
    let mut stream =
        TcpStream::connect(&a.bootstrap).with_context(|| format!("connect to {}", a.bootstrap))?;
    stream.set_nodelay(true)?;
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut offset = 0i64;
    let mut samples_us = Vec::new();
    let mut next = Instant::now();
    let mut correlation_id = 0i32;
    while Instant::now() < deadline {
        correlation_id = correlation_id.wrapping_add(1);
        let bytes = request(&a.topic, a.partition, offset, correlation_id)?;
        let started = Instant::now();
        stream.write_all(&bytes)?;
        let response = read_response(&mut stream)?;
        samples_us.push(u64::try_from(started.elapsed().as_micros())?);
        let mut peek = response.clone();
        if peek.remaining() >= 4 && peek.get_i32() != correlation_id {
            bail!("correlation id mismatch");
        }
        offset = high_watermark(response)?.max(offset);
        next += a.interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    samples_us.sort_unstable();
    println!("fetch_count {} requests", samples_us.len());
    for (name, p) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99_9", 99.9)] {
        println!("fetch_{name} {} us", percentile(&samples_us, p));
    }
    println!("fetch_max {} us", samples_us.last().copied().unwrap_or(0));
    println!("fetch_last_offset {offset} offset");
    Ok(())
}
