//! CreateAcls (API key 30, v1–v3; v0, LITERAL-only patterns, was removed in Kafka 4): bindings
//! are validated and stored durably in the metadata log. Not enforced yet: see the scope
//! note in [`crate::acl`].

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::create_acls_response::AclCreationResult;
use strom_codec::kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use strom_codec::ErrorCode;
use strom_storage::meta::{AclBinding, MetaRecord};

use crate::acl::validate_binding;
use crate::api::text;
use crate::api::text::str_bytes;
use crate::context::RequestContext;
use crate::error::topic_error_code;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 1..=3;

pub async fn handle(ctx: &RequestContext<'_>, request: CreateAclsRequest) -> CreateAclsResponse {
    let state = Arc::clone(ctx.state);
    let bindings: Vec<AclBinding> = request
        .creations
        .iter()
        .map(|c| AclBinding {
            resource_type: c.resource_type,
            resource_name: text::owned(&c.resource_name),
            pattern_type: c.resource_pattern_type,
            principal: text::owned(&c.principal),
            host: text::owned(&c.host),
            operation: c.operation,
            permission_type: c.permission_type,
        })
        .collect();
    let results = tokio::task::spawn_blocking(move || {
        let checked: Vec<Result<AclBinding, String>> = bindings
            .into_iter()
            .map(|b| validate_binding(&b).map(|()| b))
            .collect();
        let stored = state.topics.commit_meta(|meta| {
            let mut new: Vec<MetaRecord> = Vec::new();
            for b in checked.iter().flatten() {
                let record = MetaRecord::CreateAcl(b.clone());
                if !meta.acls.contains(b) && !new.contains(&record) {
                    new.push(record);
                }
            }
            (new, ())
        });
        checked
            .into_iter()
            .map(|r| {
                let (code, message) = match (&r, &stored) {
                    (Err(m), _) => (ErrorCode::InvalidRequest, m.clone()),
                    (Ok(_), Err(e)) => (topic_error_code(e), e.to_string()),
                    (Ok(b), Ok(())) => {
                        tracing::info!(acl = ?b, "created ACL");
                        return AclCreationResult::default();
                    }
                };
                AclCreationResult::default()
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(message)))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    CreateAclsResponse::default().with_results(results)
}
