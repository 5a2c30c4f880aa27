//! Request and response headers. The header version follows from the API and its version
//! (flexible versions use header v2 for requests, v1 for responses; ApiVersions responses are
//! always header v0, which clients rely on to parse the answer to a version they guessed).

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::buf::ByteBufMut;
use kafka_protocol::protocol::{Decodable, Encodable};

use crate::Error;

/// The fixed part every request header starts with, readable whatever the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderPrefix {
    pub api_key: i16,
    pub api_version: i16,
    pub correlation_id: i32,
}

/// Reads api_key, api_version and correlation_id without consuming `frame`.
///
/// # Errors
/// The frame is shorter than 8 bytes.
pub fn peek_prefix(frame: &[u8]) -> Result<HeaderPrefix, Error> {
    let mut buf = frame;
    if buf.remaining() < 8 {
        return Err(Error::Header(format!(
            "{} bytes cannot hold a header",
            frame.len()
        )));
    }
    Ok(HeaderPrefix {
        api_key: buf.get_i16(),
        api_version: buf.get_i16(),
        correlation_id: buf.get_i32(),
    })
}

/// Header version of a request of `api_key` at `version`.
pub fn request_header_version(api_key: ApiKey, version: i16) -> i16 {
    api_key.request_header_version(version)
}

/// Header version of a response of `api_key` at `version`.
pub fn response_header_version(api_key: ApiKey, version: i16) -> i16 {
    if api_key == ApiKey::ApiVersions {
        0
    } else {
        api_key.response_header_version(version)
    }
}

/// Decodes the request header at the front of `frame`, leaving the body.
///
/// # Errors
/// The header does not decode at the version its API implies.
pub fn decode_request_header(
    api_key: ApiKey,
    version: i16,
    frame: &mut Bytes,
) -> Result<RequestHeader, Error> {
    RequestHeader::decode(frame, request_header_version(api_key, version))
        .map_err(|e| Error::Header(e.to_string()))
}

/// Appends a response header.
///
/// # Errors
/// Encoding fails (it cannot for valid header versions).
pub fn encode_response_header<B: ByteBufMut>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    out: &mut B,
) -> Result<(), Error> {
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(out, response_header_version(api_key, version))
        .map_err(|e| Error::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn api_versions_response_header_is_always_v0() {
        for v in 0..=4 {
            assert_eq!(response_header_version(ApiKey::ApiVersions, v), 0);
        }
        let mut out = BytesMut::new();
        assert!(encode_response_header(ApiKey::ApiVersions, 3, 7, &mut out).is_ok());
        assert_eq!(&out[..], &7i32.to_be_bytes());
    }

    #[test]
    fn flexible_versions_use_header_v2_requests_and_v1_responses() {
        assert_eq!(request_header_version(ApiKey::Metadata, 8), 1);
        assert_eq!(request_header_version(ApiKey::Metadata, 9), 2);
        assert_eq!(response_header_version(ApiKey::Metadata, 8), 0);
        assert_eq!(response_header_version(ApiKey::Metadata, 9), 1);
        assert_eq!(request_header_version(ApiKey::Produce, 8), 1);
        assert_eq!(request_header_version(ApiKey::Produce, 9), 2);
        assert_eq!(request_header_version(ApiKey::Fetch, 11), 1);
        assert_eq!(request_header_version(ApiKey::Fetch, 12), 2);
        assert_eq!(request_header_version(ApiKey::ApiVersions, 3), 2);
        assert_eq!(response_header_version(ApiKey::CreateTopics, 5), 1);
    }

    #[test]
    fn prefix_needs_eight_bytes() {
        assert!(peek_prefix(&[0; 7]).is_err());
        let p = peek_prefix(&[0, 18, 0, 3, 0, 0, 0, 42]).ok();
        assert_eq!(
            p,
            Some(HeaderPrefix {
                api_key: 18,
                api_version: 3,
                correlation_id: 42
            })
        );
    }
}
