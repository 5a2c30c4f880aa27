//! DeleteAcls (API key 31, v0–v3; v0 filters LITERAL patterns only): removes every stored binding each filter matches, durably
//! (through the controller), and reports them.

use std::ops::RangeInclusive;

use strom_cluster::controller::{ApiError, Reply, Request};
use strom_codec::kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use strom_codec::kafka_protocol::messages::{DeleteAclsRequest, DeleteAclsResponse};
use strom_codec::ErrorCode;

use crate::api::text;
use crate::api::text::str_bytes;
use crate::context::RequestContext;
use strom_cluster::acl::AclFilter;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=3;

pub async fn handle(ctx: &RequestContext<'_>, request: DeleteAclsRequest) -> DeleteAclsResponse {
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
    let count = filters.len();
    let outcomes = match ctx
        .state
        .metadata
        .submit(Request::DeleteAcls { filters })
        .await
    {
        Ok(Reply::DeleteAcls(outcomes)) => outcomes,
        Ok(other) => vec![
            Err(ApiError::new(
                ErrorCode::UnknownServerError,
                format!("unexpected controller reply {other:?}")
            ));
            count
        ],
        Err(e) => vec![Err(e.to_api_error()); count],
    };
    let results = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Err(e) => DeleteAclsFilterResult::default()
                .with_error_code(e.code.code())
                .with_error_message(Some(str_bytes(e.message))),
            Ok(hits) => DeleteAclsFilterResult::default().with_matching_acls(
                hits.into_iter()
                    .map(|b| {
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
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}
