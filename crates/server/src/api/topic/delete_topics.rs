//! DeleteTopics (API key 20, v0–v6): by name, and from v6 by topic id; decided by the
//! controller (internal topics are never deleted).

use std::ops::RangeInclusive;

use strom_cluster::controller::{ApiError, Reply, Request, TopicRef};
use strom_cluster::records::TopicId;
use strom_codec::kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use strom_codec::kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use strom_codec::ErrorCode;
use uuid::Uuid;

use crate::api::text::{str_bytes, topic_name};
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=6;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let version = ctx.version;
    let wanted: Vec<(Option<String>, Uuid)> = if version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name.map(|n| n.0.as_str().to_string()), t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n.0.as_str().to_string()), Uuid::nil()))
            .collect()
    };
    let state = ctx.state;
    if !state.config.delete_topic_enable {
        let results = wanted
            .into_iter()
            .map(|(name, id)| {
                DeletableTopicResult::default()
                    .with_name(name.map(topic_name))
                    .with_topic_id(id)
                    .with_error_code(ErrorCode::TopicDeletionDisabled.code())
                    .with_error_message(Some(str_bytes("delete.topic.enable is false")))
            })
            .collect();
        return DeleteTopicsResponse::default().with_responses(results);
    }
    let refs = wanted
        .iter()
        .map(|(name, id)| match name {
            Some(n) => TopicRef::Name(n.clone()),
            None => TopicRef::Id(TopicId(*id.as_bytes())),
        })
        .collect();
    let outcomes = match state
        .metadata
        .submit(Request::DeleteTopics { topics: refs })
        .await
    {
        Ok(Reply::DeleteTopics(outcomes)) => outcomes,
        Ok(other) => vec![
            Err(ApiError::new(
                ErrorCode::UnknownServerError,
                format!("unexpected controller reply {other:?}")
            ));
            wanted.len()
        ],
        Err(e) => vec![Err(e.to_api_error()); wanted.len()],
    };
    let results = wanted
        .into_iter()
        .zip(outcomes)
        .map(|((name, id), outcome)| {
            let result = DeletableTopicResult::default()
                .with_name(name.map(topic_name))
                .with_topic_id(id);
            match outcome {
                Ok((name, topic_id)) => {
                    state.metrics.forget_topic(&name);
                    result
                        .with_name(Some(topic_name(name)))
                        .with_topic_id(Uuid::from_bytes(topic_id.0))
                }
                Err(e) => result
                    .with_error_code(e.code.code())
                    .with_error_message(Some(str_bytes(e.message))),
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(results)
}
