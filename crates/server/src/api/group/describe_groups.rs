//! DescribeGroups (API key 15, v0–v6): state, protocol, members with their metadata and
//! assignment (in Stable), authorized operations (v3+). Unknown groups are "Dead", and from
//! v6 (KIP-1043) also GROUP_ID_NOT_FOUND with a message.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::describe_groups_response::{
    DescribedGroup, DescribedGroupMember,
};
use strom_codec::kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, GroupId,
};
use strom_codec::ErrorCode;

use crate::api::metadata::AUTHORIZED_OPERATIONS_OMITTED;
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=6;

/// Group operations allowed without ACLs: READ(3), DELETE(6), DESCRIBE(8), and, as groups
/// have configs (KIP-848), DESCRIBE_CONFIGS(10) and ALTER_CONFIGS(11), as Kafka 4.x.
pub const GROUP_OPERATIONS_ALL: i32 = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let ids: Vec<String> = request
        .groups
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    let ops = if request.include_authorized_operations {
        GROUP_OPERATIONS_ALL
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    let wanted = ids.clone();
    let described = ctx.state.groups.describe(wanted).await;
    let groups = match described {
        Some(list) => list
            .into_iter()
            .map(|d| {
                let unknown = ctx.version >= 6 && d.state == "Dead" && d.members.is_empty();
                let (code, message) = if unknown {
                    let message = if d.is_consumer {
                        format!("Group {} is not a classic group.", d.group_id)
                    } else {
                        format!("Group {} not found.", d.group_id)
                    };
                    (ErrorCode::GroupIdNotFound.code(), Some(str_bytes(message)))
                } else {
                    (0, None)
                };
                DescribedGroup::default()
                    .with_error_code(code)
                    .with_error_message(message)
                    .with_group_id(GroupId(str_bytes(d.group_id)))
                    .with_group_state(str_bytes(d.state))
                    .with_protocol_type(str_bytes(d.protocol_type))
                    .with_protocol_data(str_bytes(d.protocol))
                    // A group that is not found has no operations to tell (as Kafka).
                    .with_authorized_operations(if unknown {
                        AUTHORIZED_OPERATIONS_OMITTED
                    } else {
                        ops
                    })
                    .with_members(
                        d.members
                            .into_iter()
                            .map(|m| {
                                DescribedGroupMember::default()
                                    .with_member_id(str_bytes(m.member_id))
                                    .with_group_instance_id(m.group_instance_id.map(str_bytes))
                                    .with_client_id(str_bytes(m.client_id))
                                    .with_client_host(str_bytes(m.client_host))
                                    .with_member_metadata(m.metadata)
                                    .with_member_assignment(m.assignment)
                            })
                            .collect(),
                    )
            })
            .collect(),
        None => ids
            .into_iter()
            .map(|id| {
                DescribedGroup::default()
                    .with_group_id(GroupId(str_bytes(id)))
                    .with_error_code(ErrorCode::CoordinatorNotAvailable.code())
                    .with_authorized_operations(ops)
            })
            .collect(),
    };
    DescribeGroupsResponse::default().with_groups(groups)
}
