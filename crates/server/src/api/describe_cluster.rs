//! DescribeCluster (API key 60, v0–v2): this one broker, the cluster id and the controller
//! (itself). v1's endpoint type 1 (brokers) is the only one served; 2 (controllers) is
//! refused with UNSUPPORTED_ENDPOINT_TYPE as Kafka does on a broker listener. v2
//! (KIP-1073) may ask for fenced brokers too and marks each broker fenced or not: this
//! broker, answering, is registered and unfenced.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use strom_codec::kafka_protocol::messages::{
    BrokerId, DescribeClusterRequest, DescribeClusterResponse,
};
use strom_codec::ErrorCode;

use super::metadata::{AUTHORIZED_OPERATIONS_OMITTED, CLUSTER_OPERATIONS_ALL};
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

const ENDPOINT_TYPE_BROKERS: i8 = 1;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let version = ctx.version;
    let state = &ctx.state;
    if version >= 1 && request.endpoint_type != ENDPOINT_TYPE_BROKERS {
        return DescribeClusterResponse::default()
            .with_error_code(ErrorCode::UnsupportedEndpointType.code())
            .with_error_message(Some(str_bytes("only broker endpoints (type 1) are served")))
            .with_endpoint_type(request.endpoint_type);
    }
    let (host, port) = state.advertised_for(ctx.local);
    DescribeClusterResponse::default()
        .with_endpoint_type(ENDPOINT_TYPE_BROKERS)
        .with_cluster_id(str_bytes(state.cluster_id.clone()))
        .with_controller_id(BrokerId(state.config.node_id))
        .with_brokers(vec![DescribeClusterBroker::default()
            .with_broker_id(BrokerId(state.config.node_id))
            .with_host(str_bytes(host))
            .with_port(port)
            .with_rack(None)
            .with_is_fenced(false)])
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
}
