//! DescribeAcls (API key 29, v0–v3; v0 filters LITERAL patterns only): the stored bindings a filter matches, by Kafka's
//! matching rules (see [`strom_cluster::acl`]).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use strom_cluster::records::AclBinding;
use strom_codec::kafka_protocol::messages::describe_acls_response::{
    AclDescription, DescribeAclsResource,
};
use strom_codec::kafka_protocol::messages::{DescribeAclsRequest, DescribeAclsResponse};
use strom_codec::ErrorCode;

use crate::api::text;
use crate::api::text::str_bytes;
use crate::context::RequestContext;
use strom_cluster::acl::AclFilter;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=3;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeAclsRequest,
) -> DescribeAclsResponse {
    let filter = AclFilter {
        resource_type: request.resource_type_filter,
        resource_name: request.resource_name_filter.as_ref().map(text::owned),
        pattern_type: request.pattern_type_filter,
        principal: request.principal_filter.as_ref().map(text::owned),
        host: request.host_filter.as_ref().map(text::owned),
        operation: request.operation,
        permission_type: request.permission_type,
    };
    if let Err(message) = filter.validate() {
        return DescribeAclsResponse::default()
            .with_error_code(ErrorCode::InvalidRequest.code())
            .with_error_message(Some(str_bytes(message)));
    }
    let image = ctx.state.metadata.image();
    let matching: Vec<AclBinding> = image
        .acls
        .iter()
        .filter(|b| filter.matches(b))
        .cloned()
        .collect();
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
