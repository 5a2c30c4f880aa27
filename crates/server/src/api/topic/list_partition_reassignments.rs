//! ListPartitionReassignments (API key 46, v0): no reassignment is ever in progress on one
//! broker, so the answer is always empty.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

pub async fn handle(
    _ctx: &RequestContext<'_>,
    _request: ListPartitionReassignmentsRequest,
) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default().with_topics(Vec::new())
}
