//! Operability: counters updated on the request path and a small HTTP endpoint serving them
//! in Prometheus' text format (`GET /metrics`) plus readiness (`GET /health`), on its own
//! listener (`strom.metrics.listen`, default `0.0.0.0:9644`; empty disables it).
//!
//! Exposed: requests per API and error code, request latency histograms per API, bytes and
//! records in and out per topic, partition sizes and log start/end offsets, consumer-group
//! lag per partition, open connections. Counters are lock-free atomics; per-topic and
//! per-(API, error) series live in maps whose size is bounded by the topics and error codes
//! that exist.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use strom_codec::kafka_protocol::messages::{ApiKey, ResponseKind};
use strom_codec::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::state::BrokerState;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// API keys are below this (Kafka 4.1's largest is 92).
const API_KEYS: usize = 128;
/// Concurrent scrapes served; more wait.
const HTTP_CONNECTIONS_MAX: usize = 8;
/// Request head bytes read before answering 431.
const HTTP_HEAD_BYTES_MAX: usize = 8 * 1024;
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

#[derive(Debug, Default)]
struct TopicCounters {
    bytes_in: AtomicU64,
    records_in: AtomicU64,
    bytes_out: AtomicU64,
}

/// The broker's counters.
#[derive(Debug)]
pub struct Metrics {
    requests: DashMap<(i16, i16), AtomicU64>,
    latency: Vec<Histogram>,
    topics: DashMap<String, TopicCounters>,
    connections_open: AtomicI64,
    connections_accepted: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: DashMap::new(),
            latency: (0..API_KEYS).map(|_| Histogram::default()).collect(),
            topics: DashMap::new(),
            connections_open: AtomicI64::new(0),
            connections_accepted: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// One request served: its API, the first error code in its response (0 when none) and
    /// how long it took.
    pub fn record_request(&self, api_key: i16, error: i16, elapsed: Duration) {
        self.requests
            .entry((api_key, error))
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
        let Some(h) = usize::try_from(api_key)
            .ok()
            .and_then(|k| self.latency.get(k))
        else {
            return;
        };
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    pub fn produced(&self, topic: &str, bytes: u64, records: u64) {
        let c = self.topic(topic);
        c.bytes_in.fetch_add(bytes, Ordering::Relaxed);
        c.records_in.fetch_add(records, Ordering::Relaxed);
    }

    pub fn fetched(&self, topic: &str, bytes: u64) {
        self.topic(topic)
            .bytes_out
            .fetch_add(bytes, Ordering::Relaxed);
    }

    fn topic(&self, topic: &str) -> dashmap::mapref::one::Ref<'_, String, TopicCounters> {
        if let Some(c) = self.topics.get(topic) {
            return c;
        }
        self.topics
            .entry(topic.to_string())
            .or_default()
            .downgrade()
    }

    /// Forgets a deleted topic's series.
    pub fn forget_topic(&self, topic: &str) {
        self.topics.remove(topic);
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The first non-zero error code of a response (0 when it reports none), for the
/// per-error request counter. (Produce and Fetch report their own: they have no response
/// struct.)
pub fn first_error(response: &ResponseKind) -> i16 {
    fn first(codes: impl IntoIterator<Item = i16>) -> i16 {
        codes.into_iter().find(|c| *c != 0).unwrap_or(0)
    }
    match response {
        ResponseKind::ListOffsets(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::Metadata(r) => first(r.topics.iter().map(|t| t.error_code)),
        ResponseKind::OffsetCommit(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::OffsetFetch(r) => {
            first(std::iter::once(r.error_code).chain(r.groups.iter().map(|g| g.error_code)))
        }
        ResponseKind::FindCoordinator(r) => {
            first(std::iter::once(r.error_code).chain(r.coordinators.iter().map(|c| c.error_code)))
        }
        ResponseKind::JoinGroup(r) => r.error_code,
        ResponseKind::Heartbeat(r) => r.error_code,
        ResponseKind::LeaveGroup(r) => r.error_code,
        ResponseKind::SyncGroup(r) => r.error_code,
        ResponseKind::DescribeGroups(r) => first(r.groups.iter().map(|g| g.error_code)),
        ResponseKind::ListGroups(r) => r.error_code,
        ResponseKind::ApiVersions(r) => r.error_code,
        ResponseKind::CreateTopics(r) => first(r.topics.iter().map(|t| t.error_code)),
        ResponseKind::DeleteTopics(r) => first(r.responses.iter().map(|t| t.error_code)),
        ResponseKind::InitProducerId(r) => r.error_code,
        ResponseKind::DeleteGroups(r) => first(r.results.iter().map(|g| g.error_code)),
        ResponseKind::DescribeConfigs(r) => first(r.results.iter().map(|c| c.error_code)),
        ResponseKind::IncrementalAlterConfigs(r) => first(r.responses.iter().map(|c| c.error_code)),
        ResponseKind::AlterConfigs(r) => first(r.responses.iter().map(|c| c.error_code)),
        ResponseKind::CreatePartitions(r) => first(r.results.iter().map(|c| c.error_code)),
        ResponseKind::DeleteRecords(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        ResponseKind::DescribeCluster(r) => r.error_code,
        ResponseKind::OffsetDelete(r) => r.error_code,
        ResponseKind::DescribeAcls(r) => r.error_code,
        ResponseKind::CreateAcls(r) => first(r.results.iter().map(|c| c.error_code)),
        ResponseKind::DeleteAcls(r) => first(r.filter_results.iter().map(|c| c.error_code)),
        _ => 0,
    }
}

/// Kafka's name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`).
fn error_name(code: i16) -> String {
    if code == 0 {
        return "NONE".into();
    }
    let Some(e) = ErrorCode::try_from_code(code) else {
        return format!("CODE_{code}");
    };
    let camel = format!("{e:?}");
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map_or_else(|()| format!("Api{key}"), |k| format!("{k:?}"))
}

/// Escapes a label value (topic and group names may hold `"` or `\`).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The whole exposition, computed at scrape time.
pub async fn render(state: &BrokerState) -> String {
    let m = &state.metrics;
    let mut out = String::with_capacity(16 * 1024);
    let _ = writeln!(
        out,
        "# HELP strom_up 1 while the broker serves.\n# TYPE strom_up gauge\nstrom_up 1"
    );
    let _ = writeln!(
        out,
        "# HELP strom_build_info Build of the broker.\n# TYPE strom_build_info gauge\nstrom_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );

    let _ = writeln!(out, "# HELP strom_requests_total Requests served, by API and the first error code in the response.\n# TYPE strom_requests_total counter");
    let mut requests: Vec<((i16, i16), u64)> = m
        .requests
        .iter()
        .map(|e| (*e.key(), e.value().load(Ordering::Relaxed)))
        .collect();
    requests.sort_unstable();
    for ((api, error), n) in requests {
        let _ = writeln!(
            out,
            "strom_requests_total{{api=\"{}\",error=\"{}\"}} {n}",
            api_name(api),
            error_name(error)
        );
    }

    let _ = writeln!(out, "# HELP strom_request_duration_seconds Time from a request's arrival to its response, by API.\n# TYPE strom_request_duration_seconds histogram");
    for (key, h) in m.latency.iter().enumerate() {
        let count = h.count.load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        let api = api_name(i16::try_from(key).unwrap_or(-1));
        for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
            let _ = writeln!(
                out,
                "strom_request_duration_seconds_bucket{{api=\"{api}\",le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "strom_request_duration_seconds_bucket{{api=\"{api}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "strom_request_duration_seconds_sum{{api=\"{api}\"}} {}",
            h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "strom_request_duration_seconds_count{{api=\"{api}\"}} {count}"
        );
    }

    let _ = writeln!(out, "# HELP strom_connections Open client connections.\n# TYPE strom_connections gauge\nstrom_connections {}", m.connections_open.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP strom_connections_accepted_total Client connections accepted.\n# TYPE strom_connections_accepted_total counter\nstrom_connections_accepted_total {}", m.connections_accepted.load(Ordering::Relaxed));

    let mut topics: Vec<(String, u64, u64, u64)> = m
        .topics
        .iter()
        .map(|e| {
            let c = e.value();
            (
                e.key().clone(),
                c.bytes_in.load(Ordering::Relaxed),
                c.records_in.load(Ordering::Relaxed),
                c.bytes_out.load(Ordering::Relaxed),
            )
        })
        .collect();
    topics.sort();
    let _ = writeln!(out, "# HELP strom_topic_bytes_in_total Record-batch bytes appended, by topic.\n# TYPE strom_topic_bytes_in_total counter");
    for (t, b, _, _) in &topics {
        let _ = writeln!(
            out,
            "strom_topic_bytes_in_total{{topic=\"{}\"}} {b}",
            label(t)
        );
    }
    let _ = writeln!(out, "# HELP strom_topic_records_in_total Records appended, by topic.\n# TYPE strom_topic_records_in_total counter");
    for (t, _, r, _) in &topics {
        let _ = writeln!(
            out,
            "strom_topic_records_in_total{{topic=\"{}\"}} {r}",
            label(t)
        );
    }
    let _ = writeln!(out, "# HELP strom_topic_bytes_out_total Record-batch bytes sent to fetchers, by topic.\n# TYPE strom_topic_bytes_out_total counter");
    for (t, _, _, b) in &topics {
        let _ = writeln!(
            out,
            "strom_topic_bytes_out_total{{topic=\"{}\"}} {b}",
            label(t)
        );
    }

    // Partition sizes and offsets, read now.
    let mut ends = std::collections::HashMap::new();
    let mut size = String::new();
    let mut end = String::new();
    let mut start = String::new();
    for topic in state.topics.all() {
        for p in &topic.partitions {
            let (bytes, log_start, log_end) = {
                let state = p.read_state();
                (
                    state.size_bytes(),
                    state.log_start_offset,
                    state.high_watermark,
                )
            };
            ends.insert((topic.name.clone(), p.index), log_end);
            let l = format!("topic=\"{}\",partition=\"{}\"", label(&topic.name), p.index);
            let _ = writeln!(size, "strom_partition_size_bytes{{{l}}} {bytes}");
            let _ = writeln!(end, "strom_partition_log_end_offset{{{l}}} {log_end}");
            let _ = writeln!(start, "strom_partition_log_start_offset{{{l}}} {log_start}");
        }
    }
    let _ = write!(out, "# HELP strom_partition_size_bytes Bytes on disk, by partition.\n# TYPE strom_partition_size_bytes gauge\n{size}");
    let _ = write!(out, "# HELP strom_partition_log_end_offset Next offset to be written, by partition.\n# TYPE strom_partition_log_end_offset gauge\n{end}");
    let _ = write!(out, "# HELP strom_partition_log_start_offset First readable offset, by partition.\n# TYPE strom_partition_log_start_offset gauge\n{start}");

    // Consumer-group lag: log end minus committed offset, for every committed partition.
    let committed = state.groups.all_offsets().await.unwrap_or_default();
    let _ = writeln!(out, "# HELP strom_consumer_group_lag Log end offset minus the group's committed offset.\n# TYPE strom_consumer_group_lag gauge");
    for (group, offsets) in committed {
        for c in offsets {
            let (topic, partition, offset) = (c.topic, c.partition, c.offset);
            if let Some(log_end) = ends.get(&(topic.clone(), partition)) {
                let _ = writeln!(
                    out,
                    "strom_consumer_group_lag{{group=\"{}\",topic=\"{}\",partition=\"{partition}\"}} {}",
                    label(&group),
                    label(&topic),
                    (log_end - offset).max(0)
                );
            }
        }
    }
    out
}

/// Serves `/metrics` and `/health` until shutdown.
pub async fn serve(listener: TcpListener, state: Arc<BrokerState>) {
    let permits = Arc::new(Semaphore::new(HTTP_CONNECTIONS_MAX));
    loop {
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            if tokio::time::timeout(HTTP_TIMEOUT, answer(stream, &state))
                .await
                .is_err()
            {
                tracing::debug!("metrics request timed out");
            }
            drop(permit);
        });
    }
}

async fn answer(mut stream: TcpStream, state: &BrokerState) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > HTTP_HEAD_BYTES_MAX {
            let _ = stream
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
            // Read (a bounded amount of) what the client still sends, so closing does not
            // reset the connection before it reads the answer.
            let mut drained = 0;
            while drained < 4 * HTTP_HEAD_BYTES_MAX {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
            return;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(state).await,
        ),
        ("GET", "/health") => {
            if state.shutdown.is_cancelled() {
                (
                    "503 Service Unavailable",
                    "text/plain",
                    "shutting down\n".into(),
                )
            } else {
                ("200 OK", "text/plain", "ok\n".into())
            }
        }
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "try /metrics or /health\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_kafkas() {
        assert_eq!(error_name(0), "NONE");
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(api_name(0), "Produce");
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.record_request(0, 0, Duration::from_micros(300));
        m.record_request(0, 3, Duration::from_millis(30));
        let h = &m.latency[0];
        assert_eq!(h.buckets[0].load(Ordering::Relaxed), 1); // ≤ 0.5 ms
        assert_eq!(h.buckets[6].load(Ordering::Relaxed), 2); // ≤ 50 ms
        assert_eq!(h.count.load(Ordering::Relaxed), 2);
        assert_eq!(m.requests.len(), 2);
    }
}
