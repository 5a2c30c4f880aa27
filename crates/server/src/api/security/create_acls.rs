//! CreateAcls (API key 30, v0–v3; v0 carries LITERAL patterns only, and Kafka 4 removed it): bindings
//! are validated and stored durably in the metadata log by the controller. Not enforced
//! yet: see the scope note in [`strom_cluster::acl`].

use std::ops::RangeInclusive;

use strom_cluster::controller::{ApiError, Reply, Request};
use strom_cluster::records::AclBinding;
use strom_codec::kafka_protocol::messages::create_acls_response::AclCreationResult;
use strom_codec::kafka_protocol::messages::{CreateAclsRequest, CreateAclsResponse};
use strom_codec::ErrorCode;

use crate::api::text;
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=3;

pub async fn handle(ctx: &RequestContext<'_>, request: CreateAclsRequest) -> CreateAclsResponse {
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
    let count = bindings.len();
    let outcomes = match ctx
        .state
        .metadata
        .submit(Request::CreateAcls { bindings })
        .await
    {
        Ok(Reply::CreateAcls(outcomes)) => outcomes,
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
            Ok(()) => AclCreationResult::default(),
            Err(e) => AclCreationResult::default()
                .with_error_code(e.code.code())
                .with_error_message(Some(str_bytes(e.message))),
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}
