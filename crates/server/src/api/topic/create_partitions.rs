//! CreatePartitions (API key 37, v0–v3): grows topics, decided by the controller (new
//! partitions placed as a topic's are, or on the brokers given); `validate_only` checks
//! without changing anything.

use std::ops::RangeInclusive;

use strom_cluster::controller::{ApiError, NewPartitions, Reply, Request};
use strom_codec::kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use strom_codec::kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=3;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut seen = std::collections::HashSet::new();
    let mut results: Vec<CreatePartitionsTopicResult> = Vec::new();
    let mut asked: Vec<usize> = Vec::new();
    let mut topics = Vec::new();
    for t in request.topics {
        let name = t.name.0.as_str().to_string();
        let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        if !seen.insert(name.clone()) {
            results.push(
                result
                    .with_error_code(ErrorCode::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(format!(
                        "topic {name} appears more than once"
                    )))),
            );
            continue;
        }
        asked.push(results.len());
        results.push(result);
        topics.push(NewPartitions {
            name,
            count: t.count,
            assignments: t.assignments.map(|a| {
                a.into_iter()
                    .map(|a| a.broker_ids.into_iter().map(|b| b.0).collect())
                    .collect()
            }),
        });
    }
    if !topics.is_empty() {
        let request = Request::CreatePartitions {
            topics,
            validate_only: request.validate_only,
        };
        let outcomes = match ctx.state.metadata.submit(request).await {
            Ok(Reply::CreatePartitions(outcomes)) => outcomes,
            Ok(other) => vec![
                Err(ApiError::new(
                    ErrorCode::UnknownServerError,
                    format!("unexpected controller reply {other:?}")
                ));
                asked.len()
            ],
            Err(e) => vec![Err(e.to_api_error()); asked.len()],
        };
        for (slot, outcome) in asked.into_iter().zip(outcomes) {
            if let (Some(r), Err(e)) = (results.get_mut(slot), outcome) {
                *r = std::mem::take(r)
                    .with_error_code(e.code.code())
                    .with_error_message(Some(str_bytes(e.message)));
            }
        }
    }
    CreatePartitionsResponse::default().with_results(results)
}
