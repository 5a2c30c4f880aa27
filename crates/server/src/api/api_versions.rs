//! ApiVersions (API key 18, KIP-511 from v3): the one table of supported versions.
//! The response header is always v0 and default-valued tagged fields are not written
//! (librdkafka 2.0.2 mis-parses them); both are handled in the codec.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::api_versions_response::ApiVersion;
use strom_codec::kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use strom_codec::ErrorCode;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=4;

/// KIP-511: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn valid_software_field(s: &str) -> bool {
    let bytes = s.as_bytes();
    let inner_ok = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.');
    let edges_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    inner_ok && edges_ok
}

/// Answers with `table`, the broker's handler table as ApiVersions rows (passed in so that
/// this handler needs nothing from the table's module).
pub async fn handle(
    ctx: &RequestContext<'_>,
    request: ApiVersionsRequest,
    table: Vec<ApiVersion>,
) -> ApiVersionsResponse {
    let version = ctx.version;
    let response = ApiVersionsResponse::default().with_api_keys(table);
    if version >= 3
        && (!valid_software_field(request.client_software_name.as_str())
            || !valid_software_field(request.client_software_version.as_str()))
    {
        tracing::debug!(
            name = request.client_software_name.as_str(),
            version = request.client_software_version.as_str(),
            "invalid client software name/version (KIP-511)"
        );
        return response.with_error_code(ErrorCode::InvalidRequest.code());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kip_511_names() {
        assert!(valid_software_field("librdkafka"));
        assert!(valid_software_field("2.15.1-RC1"));
        assert!(!valid_software_field(""));
        assert!(!valid_software_field("-x"));
        assert!(!valid_software_field("a b"));
    }
}
