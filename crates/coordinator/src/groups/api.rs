//! The coordinator's plain requests and replies (the server translates wire versions to and
//! from them), and the [`Outputs`] every call returns.

use bytes::Bytes;
use strom_codec::ErrorCode;

use crate::group::Token;
use crate::records::Record;

#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    /// The id to give a new member (the server makes it: client_id + "-" + uuid).
    pub new_member_id: String,
    /// JoinGroup v9+ (KIP-814): a rejoining static leader can be told to skip assignment;
    /// older leaders get a rebalance instead.
    pub supports_skip_assignment: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinResponse {
    pub error: Option<ErrorCode>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub member_id: String,
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    pub(super) fn error(error: ErrorCode, member_id: &str) -> Self {
        Self {
            error: Some(error),
            generation_id: -1,
            member_id: member_id.into(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncResponse {
    pub error: Option<ErrorCode>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResponse {
    pub(super) fn error(error: ErrorCode) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LeaveRequest {
    pub group_id: String,
    /// (member_id, group_instance_id)
    pub members: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaveResponse {
    pub error: Option<ErrorCode>,
    pub members: Vec<(String, Option<String>, Option<ErrorCode>)>,
}

#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// The OffsetCommit version (KIP-848 members must use v9+).
    pub api_version: i16,
    /// (topic, partition, offset, leader_epoch, metadata)
    pub offsets: Vec<(String, i32, i64, i32, Option<String>)>,
}

/// Per partition error, in request order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitResponse {
    pub errors: Vec<(String, i32, Option<ErrorCode>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    /// Kafka's state name (`Empty`, `Stable`, … for either protocol).
    pub state: String,
    /// `classic` or `consumer`.
    pub group_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupDescription {
    pub group_id: String,
    /// A KIP-848 consumer group, which DescribeGroups describes as "Dead" (it describes
    /// classic groups only, as Kafka's).
    pub is_consumer: bool,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// Per-partition outcome of an offset deletion.
pub type PartitionErrors = Vec<(String, i32, Option<ErrorCode>)>;

/// A reply to a parked or immediate request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Join(JoinResponse),
    Sync(SyncResponse),
    Heartbeat(Option<ErrorCode>),
    Leave(LeaveResponse),
    Commit(CommitResponse),
}

impl Reply {
    /// The same reply turned into `error` (used when persisting its records failed).
    pub fn failed(self, error: ErrorCode) -> Self {
        match self {
            Reply::Join(j) => Reply::Join(JoinResponse::error(error, &j.member_id)),
            Reply::Sync(_) => Reply::Sync(SyncResponse::error(error)),
            Reply::Heartbeat(_) => Reply::Heartbeat(Some(error)),
            Reply::Leave(l) => Reply::Leave(LeaveResponse {
                error: Some(error),
                members: l.members,
            }),
            Reply::Commit(c) => Reply::Commit(CommitResponse {
                errors: c
                    .errors
                    .into_iter()
                    .map(|(t, p, _)| (t, p, Some(error)))
                    .collect(),
            }),
        }
    }
}

/// What the server must do: persist `records` (in order), then send `replies`, then hand
/// each of `completions` to [`Groups::stored`] with the outcome of the persist.
#[derive(Debug, Default, PartialEq)]
pub struct Outputs {
    pub records: Vec<Record>,
    pub replies: Vec<(Token, Reply)>,
    pub completions: Vec<Completion>,
}

impl Outputs {
    pub(super) fn reply(token: Token, reply: Reply) -> Self {
        Self {
            records: Vec::new(),
            replies: vec![(token, reply)],
            completions: Vec::new(),
        }
    }

    /// Appends `other` after what is already here.
    pub fn extend(&mut self, other: Outputs) {
        self.records.extend(other.records);
        self.replies.extend(other.replies);
        self.completions.extend(other.completions);
    }
}

/// A state change that waits for its records to be stored (Kafka's coordinator completes
/// these when the write is committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The leader's assignment for `generation_id`: once stored, the group is Stable and
    /// every parked SyncGroup of that generation is answered.
    Assignment {
        group_id: String,
        generation_id: i32,
    },
}
