//! The client side of framing, for the tools that talk to a broker (the CLI, the
//! differential harness, tests): a request frame as a client writes it.

use std::fmt::Display;

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};

/// A whole request frame: the 4-byte length, the request header of `api` at `version`
/// (with `correlation_id` and `client_id`), then the body `body` writes.
///
/// # Errors
/// The header or the body cannot be encoded at `version` (the encoder's message), or the
/// frame is longer than an `i32` can say.
pub fn request_frame<E: Display>(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: &'static str,
    body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<BytesMut, String> {
    let mut out = BytesMut::new();
    out.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str(client_id)))
        .encode(&mut out, api.request_header_version(version))
        .map_err(|e| format!("cannot encode {api:?} header: {e}"))?;
    body(&mut out).map_err(|e| format!("cannot encode {api:?} v{version}: {e}"))?;
    let len = i32::try_from(out.len() - 4).map_err(|_| "request too large".to_string())?;
    if let Some(prefix) = out.get_mut(..4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use bytes::Buf;
    use kafka_protocol::messages::MetadataRequest;
    use kafka_protocol::protocol::Decodable;

    use super::*;

    #[test]
    fn a_frame_is_length_header_body() {
        let mut frame = request_frame(ApiKey::Metadata, 12, 7, "t", |out| {
            MetadataRequest::default().encode(out, 12)
        })
        .unwrap();
        let len = frame.get_i32();
        assert_eq!(usize::try_from(len).unwrap(), frame.len());
        let header = RequestHeader::decode(&mut frame, 2).unwrap();
        assert_eq!((header.request_api_version, header.correlation_id), (12, 7));
        assert_eq!(
            MetadataRequest::decode(&mut frame, 12).unwrap(),
            MetadataRequest::default()
        );
    }
}
