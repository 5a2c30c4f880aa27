//! ListPartitionReassignments (API key 46, v0): no reassignment is ever in progress on one
//! broker, so the answer is always empty.

use strom_codec::kafka_protocol::messages::{
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
};

pub fn handle(_request: ListPartitionReassignmentsRequest) -> ListPartitionReassignmentsResponse {
    ListPartitionReassignmentsResponse::default().with_topics(Vec::new())
}
