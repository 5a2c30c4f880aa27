//! CreateAcls (API key 30), DescribeAcls (29) and DeleteAcls (31), v1–v3 (v0, LITERAL-only
//! patterns, was removed in Kafka 4). Bindings are validated and stored durably in the
//! metadata log; filters follow Kafka's matching rules (see [`crate::acl`]). Not enforced
//! yet: see the scope note there.

use std::collections::BTreeMap;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::create_acls_response::AclCreationResult;
use strom_codec::kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use strom_codec::kafka_protocol::messages::describe_acls_response::{
    AclDescription, DescribeAclsResource,
};
use strom_codec::kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_codec::ErrorCode;
use strom_storage::meta::{AclBinding, MetaRecord};

use super::str_bytes;
use crate::acl::{validate_binding, AclFilter};
use crate::connection::ConnectionContext;
use crate::error::topic_error_code;

fn string(s: &StrBytes) -> String {
    s.as_str().to_string()
}

pub async fn create(ctx: &ConnectionContext, request: CreateAclsRequest) -> CreateAclsResponse {
    let state = Arc::clone(&ctx.state);
    let bindings: Vec<AclBinding> = request
        .creations
        .iter()
        .map(|c| AclBinding {
            resource_type: c.resource_type,
            resource_name: string(&c.resource_name),
            pattern_type: c.resource_pattern_type,
            principal: string(&c.principal),
            host: string(&c.host),
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

pub fn describe(ctx: &ConnectionContext, request: DescribeAclsRequest) -> DescribeAclsResponse {
    let filter = AclFilter {
        resource_type: request.resource_type_filter,
        resource_name: request.resource_name_filter.as_ref().map(string),
        pattern_type: request.pattern_type_filter,
        principal: request.principal_filter.as_ref().map(string),
        host: request.host_filter.as_ref().map(string),
        operation: request.operation,
        permission_type: request.permission_type,
    };
    if let Err(message) = filter.validate() {
        return DescribeAclsResponse::default()
            .with_error_code(ErrorCode::InvalidRequest.code())
            .with_error_message(Some(str_bytes(message)));
    }
    let matching: Vec<AclBinding> = ctx.state.topics.read_meta(|m| {
        m.acls
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    });
    let mut by_resource: BTreeMap<(i8, String, i8), Vec<AclDescription>> = BTreeMap::new();
    for b in matching {
        by_resource
            .entry((b.resource_type, b.resource_name, b.pattern_type))
            .or_default()
            .push(
                AclDescription::default()
                    .with_principal(str_bytes(b.principal))
                    .with_host(str_bytes(b.host))
                    .with_operation(b.operation)
                    .with_permission_type(b.permission_type),
            );
    }
    let resources = by_resource
        .into_iter()
        .map(|((rt, name, pt), acls)| {
            DescribeAclsResource::default()
                .with_resource_type(rt)
                .with_resource_name(str_bytes(name))
                .with_pattern_type(pt)
                .with_acls(acls)
        })
        .collect();
    DescribeAclsResponse::default().with_resources(resources)
}

pub async fn delete(ctx: &ConnectionContext, request: DeleteAclsRequest) -> DeleteAclsResponse {
    let state = Arc::clone(&ctx.state);
    let filters: Vec<AclFilter> = request
        .filters
        .iter()
        .map(|f| AclFilter {
            resource_type: f.resource_type_filter,
            resource_name: f.resource_name_filter.as_ref().map(string),
            pattern_type: f.pattern_type_filter,
            principal: f.principal_filter.as_ref().map(string),
            host: f.host_filter.as_ref().map(string),
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
