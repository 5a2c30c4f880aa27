//! DeleteAcls (API key 31, v1–v3): removes every stored binding each filter matches, durably,
//! and reports them.

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use strom_codec::kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use strom_codec::ErrorCode;
use strom_storage::meta::{AclBinding, MetaRecord};

use crate::acl::AclFilter;
use crate::api::text;
use crate::api::text::str_bytes;
use crate::context::RequestContext;
use crate::error::topic_error_code;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 1..=3;

pub async fn handle(ctx: &RequestContext<'_>, request: DeleteAclsRequest) -> DeleteAclsResponse {
    let state = Arc::clone(ctx.state);
    let filters: Vec<AclFilter> = request
        .filters
        .iter()
        .map(|f| AclFilter {
            resource_type: f.resource_type_filter,
            resource_name: f.resource_name_filter.as_ref().map(text::owned),
            pattern_type: f.pattern_type_filter,
            principal: f.principal_filter.as_ref().map(text::owned),
            host: f.host_filter.as_ref().map(text::owned),
            operation: f.operation,
            permission_type: f.permission_type,
        })
        .collect();
    let results = tokio::task::spawn_blocking(move || {
        let outcome = state.topics.commit_meta(|meta| {
            let mut doomed: Vec<AclBinding> = Vec::new();
            let per_filter: Vec<Result<Vec<AclBinding>, String>> = filters
                .iter()
                .map(|f| {
                    f.validate()?;
                    let hits: Vec<AclBinding> =
                        meta.acls.iter().filter(|b| f.matches(b)).cloned().collect();
                    for h in &hits {
                        if !doomed.contains(h) {
                            doomed.push(h.clone());
                        }
                    }
                    Ok(hits)
                })
                .collect();
            (
                doomed.into_iter().map(MetaRecord::DeleteAcl).collect(),
                per_filter,
            )
        });
        match outcome {
            Ok(per_filter) => per_filter
                .into_iter()
                .map(|r| match r {
                    Err(message) => DeleteAclsFilterResult::default()
                        .with_error_code(ErrorCode::InvalidRequest.code())
                        .with_error_message(Some(str_bytes(message))),
                    Ok(hits) => DeleteAclsFilterResult::default().with_matching_acls(
                        hits.into_iter()
                            .map(|b| {
                                tracing::info!(acl = ?b, "deleted ACL");
                                DeleteAclsMatchingAcl::default()
                                    .with_resource_type(b.resource_type)
                                    .with_resource_name(str_bytes(b.resource_name))
                                    .with_pattern_type(b.pattern_type)
                                    .with_principal(str_bytes(b.principal))
                                    .with_host(str_bytes(b.host))
                                    .with_operation(b.operation)
                                    .with_permission_type(b.permission_type)
                            })
                            .collect(),
                    ),
                })
                .collect::<Vec<_>>(),
            Err(e) => filters
                .iter()
                .map(|_| {
                    DeleteAclsFilterResult::default()
                        .with_error_code(topic_error_code(&e).code())
                        .with_error_message(Some(str_bytes(e.to_string())))
                })
                .collect(),
        }
    })
    .await
    .unwrap_or_default();
    DeleteAclsResponse::default().with_filter_results(results)
}
