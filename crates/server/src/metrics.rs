//! Operability: counters updated on the request path, served in Prometheus' text format by
//! [`crate::metrics_endpoint`] (`GET /metrics`, on `strom.metrics.listen`, default
//! `0.0.0.0:9644`; empty disables it).
//!
//! Exposed: requests per API and error code, request latency histograms per API, bytes and
//! records in and out per topic, partition sizes and log start/end offsets, consumer-group
//! lag per partition, open connections. Counters are lock-free atomics; per-topic and
//! per-(API, error) series live in maps whose size is bounded by the topics and error codes
//! that exist.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use strom_codec::kafka_protocol::messages::{ApiKey, ResponseKind};
use strom_codec::ErrorCode;

/// Upper bounds (seconds) of the latency histogram buckets.
pub(crate) const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// API keys are below this (Kafka 4.1's largest is 92).
const API_KEYS: usize = 128;

#[derive(Debug)]
pub(crate) struct Histogram {
    pub(crate) buckets: [AtomicU64; BUCKETS.len()],
    pub(crate) count: AtomicU64,
    pub(crate) sum_micros: AtomicU64,
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
pub(crate) struct TopicCounters {
    pub(crate) bytes_in: AtomicU64,
    pub(crate) records_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
}

/// The broker's counters.
#[derive(Debug)]
pub struct Metrics {
    pub(crate) requests: DashMap<(i16, i16), AtomicU64>,
    pub(crate) latency: Vec<Histogram>,
    pub(crate) topics: DashMap<String, TopicCounters>,
    pub(crate) connections_open: AtomicI64,
    pub(crate) connections_accepted: AtomicU64,
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
        ResponseKind::UpdateFeatures(r) => r.error_code,
        ResponseKind::ConsumerGroupHeartbeat(r) => r.error_code,
        ResponseKind::ConsumerGroupDescribe(r) => first(r.groups.iter().map(|g| g.error_code)),
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
pub(crate) fn error_name(code: i16) -> String {
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

pub(crate) fn api_name(key: i16) -> String {
    ApiKey::try_from(key).map_or_else(|()| format!("Api{key}"), |k| format!("{k:?}"))
}

/// Escapes a label value (topic and group names may hold `"` or `\`).
pub(crate) fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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
