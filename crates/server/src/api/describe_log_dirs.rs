//! DescribeLogDirs (API key 35, v0–v5): the one data directory with every (or the asked)
//! partition's size on disk, (v4) the volume's total and usable bytes, and (v5) whether it is
//! cordoned (KIP-1066; Strom never cordons its directory).

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use strom_codec::kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use crate::api::text::{str_bytes, topic_name};
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

/// Kafka's "unknown" for the volume byte counts.
const VOLUME_BYTES_UNKNOWN: i64 = -1;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let topics = &ctx.state.topics;
    let wanted: Option<Vec<(String, Vec<i32>)>> = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.topic.0.as_str().to_string(), t.partitions))
            .collect()
    });
    let mut described = Vec::new();
    for topic in topics.all() {
        let filter = match &wanted {
            None => None,
            Some(w) => match w.iter().find(|(n, _)| *n == topic.name) {
                Some((_, parts)) => Some(parts.clone()),
                None => continue,
            },
        };
        let partitions: Vec<DescribeLogDirsPartition> = topic
            .partitions
            .iter()
            .filter(|p| filter.as_ref().is_none_or(|f| f.contains(&p.index)))
            .map(|p| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(i64::try_from(p.size_bytes()).unwrap_or(i64::MAX))
                    .with_offset_lag(0)
            })
            .collect();
        if !partitions.is_empty() {
            described.push(
                DescribeLogDirsTopic::default()
                    .with_name(topic_name(topic.name.clone()))
                    .with_partitions(partitions),
            );
        }
    }
    let dir = topics.data_dir();
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let (total, usable) = volume_bytes(&dir);
    DescribeLogDirsResponse::default().with_results(vec![DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(dir.display().to_string()))
        .with_topics(described)
        .with_total_bytes(total)
        .with_usable_bytes(usable)])
}

/// The size of the volume holding `dir` and the bytes an unprivileged writer may still use
/// there (v4+, KIP-827, as Kafka's `FileStore` total and usable space); -1 when unknown.
fn volume_bytes(dir: &std::path::Path) -> (i64, i64) {
    match rustix::fs::statvfs(dir) {
        Ok(st) => {
            let bytes =
                |blocks: u64| i64::try_from(blocks.saturating_mul(st.f_frsize)).unwrap_or(i64::MAX);
            (bytes(st.f_blocks), bytes(st.f_bavail))
        }
        Err(_) => (VOLUME_BYTES_UNKNOWN, VOLUME_BYTES_UNKNOWN),
    }
}
