//! The consumer-group APIs (classic protocol). Handlers translate wire versions to the
//! coordinator's plain requests and back; all group logic lives in `strom-coordinator`.

pub mod delete_groups;
pub mod describe_groups;
pub mod find_coordinator;
pub mod heartbeat;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod sync_group;

use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_codec::ErrorCode;

pub(crate) fn opt_string(s: Option<&StrBytes>) -> Option<String> {
    s.map(|s| s.as_str().to_string())
}

pub(crate) fn code(e: Option<ErrorCode>) -> i16 {
    e.map_or(0, |e| e.code())
}
