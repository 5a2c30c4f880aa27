//! Routes a decoded request to its handler. Only APIs in the codec's versions table reach
//! here (the codec refuses the rest), and every API in that table has an arm below; the
//! `every_supported_api_is_dispatched_at_every_version` test in `server/tests/raw_socket.rs` keeps it so.

use strom_codec::kafka_protocol::messages::{RequestKind, ResponseKind};

use crate::api;
use crate::connection::ConnectionContext;

/// Runs the handler. `None`: no response is sent. Produce and Fetch do not come here: the
/// connection hands them to `api::produce` and `api::fetch`, which write their responses
/// in place.
pub async fn dispatch(
    ctx: &ConnectionContext,
    version: i16,
    client_id: &str,
    body: RequestKind,
) -> Option<ResponseKind> {
    use api::group;
    Some(match body {
        RequestKind::ApiVersions(r) => {
            ResponseKind::ApiVersions(api::api_versions::handle(version, &r))
        }
        RequestKind::Metadata(r) => {
            ResponseKind::Metadata(api::metadata::handle(ctx, version, r).await)
        }
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(api::list_offsets::handle(ctx, version, r))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(api::create_topics::handle(ctx, version, r).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(api::delete_topics::handle(ctx, version, r).await)
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(api::init_producer_id::handle(ctx, r).await)
        }
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            api::incremental_alter_configs::handle(ctx, r).await,
        ),
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(group::find_coordinator::handle(ctx, version, r))
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(group::join_group::handle(ctx, version, client_id, r).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(group::sync_group::handle(ctx, r).await)
        }
        RequestKind::Heartbeat(r) => {
            ResponseKind::Heartbeat(group::heartbeat::handle(ctx, r).await)
        }
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(group::leave_group::handle(ctx, version, r).await)
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(group::offset_commit::handle(ctx, r).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(group::offset_fetch::handle(ctx, version, r).await)
        }
        RequestKind::ListGroups(r) => {
            ResponseKind::ListGroups(group::list_groups::handle(ctx, r).await)
        }
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(group::describe_groups::handle(ctx, r).await)
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(group::delete_groups::handle(ctx, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(api::create_partitions::handle(ctx, r).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(api::describe_configs::handle(ctx, version, r))
        }
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(api::describe_cluster::handle(ctx, version, r))
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(group::offset_delete::handle(ctx, r).await)
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(api::delete_records::handle(ctx, r).await)
        }
        RequestKind::DescribeLogDirs(r) => {
            ResponseKind::DescribeLogDirs(api::describe_log_dirs::handle(ctx, r))
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(api::offset_for_leader_epoch::handle(ctx, r))
        }
        RequestKind::ElectLeaders(r) => {
            ResponseKind::ElectLeaders(api::elect_leaders::handle(ctx, r))
        }
        RequestKind::AlterPartitionReassignments(r) => ResponseKind::AlterPartitionReassignments(
            api::alter_partition_reassignments::handle(ctx, r),
        ),
        RequestKind::ListPartitionReassignments(r) => {
            ResponseKind::ListPartitionReassignments(api::list_partition_reassignments::handle(r))
        }
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(api::acls::create(ctx, r).await),
        RequestKind::DescribeAcls(r) => ResponseKind::DescribeAcls(api::acls::describe(ctx, r)),
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(api::acls::delete(ctx, r).await),
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(api::alter_configs::handle(ctx, r).await)
        }
        RequestKind::DescribeUserScramCredentials(r) => {
            ResponseKind::DescribeUserScramCredentials(api::scram_credentials::describe(ctx, r))
        }
        RequestKind::AlterUserScramCredentials(r) => {
            ResponseKind::AlterUserScramCredentials(api::scram_credentials::alter(ctx, r).await)
        }
        RequestKind::DescribeProducers(r) => {
            ResponseKind::DescribeProducers(api::describe_producers::handle(ctx, r).await)
        }
        RequestKind::DescribeTopicPartitions(r) => {
            ResponseKind::DescribeTopicPartitions(api::describe_topic_partitions::handle(ctx, r))
        }
        RequestKind::AddPartitionsToTxn(r) => {
            ResponseKind::AddPartitionsToTxn(api::txn::add_partitions(ctx, r).await)
        }
        RequestKind::AddOffsetsToTxn(r) => {
            ResponseKind::AddOffsetsToTxn(api::txn::add_offsets(ctx, r).await)
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(api::txn::end(ctx, r).await),
        RequestKind::TxnOffsetCommit(r) => {
            ResponseKind::TxnOffsetCommit(api::txn::offset_commit(ctx, r).await)
        }
        other => {
            // Unreachable while the versions table and this match agree.
            tracing::error!(request = ?std::mem::discriminant(&other), "no handler for an advertised API");
            return None;
        }
    })
}
