//! DeleteTopics (API key 20, v1–v6): by name, and from v6 by topic id.

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use strom_codec::kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use strom_codec::ErrorCode;
use uuid::Uuid;

use crate::api::text::{str_bytes, topic_name};
use crate::context::RequestContext;
use crate::error::topic_error_code;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 1..=6;

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
    let state = Arc::clone(ctx.state);
    let results = tokio::task::spawn_blocking(move || {
        wanted
            .into_iter()
            .map(|(name, id)| {
                let result = DeletableTopicResult::default()
                    .with_name(name.clone().map(topic_name))
                    .with_topic_id(id);
                if !state.config.delete_topic_enable {
                    return result
                        .with_error_code(ErrorCode::TopicDeletionDisabled.code())
                        .with_error_message(Some(str_bytes("delete.topic.enable is false")));
                }
                let name = match name {
                    Some(n) => n,
                    None => match state.topics.get_by_id(&id) {
                        Some(t) => t.name.clone(),
                        None => return result.with_error_code(ErrorCode::UnknownTopicId.code()),
                    },
                };
                if state.topics.get(&name).is_some_and(|t| t.internal) {
                    return result
                        .with_name(Some(topic_name(name)))
                        .with_error_code(ErrorCode::InvalidTopicException.code())
                        .with_error_message(Some(str_bytes("internal topics cannot be deleted")));
                }
                match state.topics.delete(&name) {
                    Ok(id) => {
                        state.metrics.forget_topic(&name);
                        result.with_name(Some(topic_name(name))).with_topic_id(id)
                    }
                    Err(e) => result
                        .with_name(Some(topic_name(name)))
                        .with_error_code(topic_error_code(&e).code())
                        .with_error_message(Some(str_bytes(e.to_string()))),
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    DeleteTopicsResponse::default().with_responses(results)
}
