//! Decoding a whole request frame (header + body) into kafka-protocol types.
//!
//! Record batches inside Produce stay `Bytes` slices of the frame: nothing is copied and no
//! record is decoded here. Produce and Fetch themselves are read in place ([`crate::produce`],
//! [`crate::fetch`]).

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};

use crate::fetch::FetchRequestView;
use crate::header::{decode_request_header, peek_prefix};
use crate::produce::ProduceRequestView;

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: Body,
}

/// A request body: Produce and Fetch are read in place, everything else is a
/// `kafka-protocol` struct.
#[derive(Debug)]
pub enum Body {
    Produce(ProduceRequestView),
    Fetch(FetchRequestView),
    Other(RequestKind),
}

/// Why a frame did not yield a request, with what is needed to answer or log it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The API key is not one Kafka defines: the connection is closed (as Kafka does).
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16, correlation_id: i32 },
    /// A known API at a version kafka-protocol cannot decode. The server checks its own
    /// table before decoding, so this is only a guard.
    #[error("{api_key:?} v{version} is not supported")]
    UnsupportedVersion {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
    },
    /// The header or body is malformed.
    #[error("malformed {api_key:?} v{version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
        reason: String,
    },
    /// Fewer bytes than any header.
    #[error("frame too short for a header: {0}")]
    Truncated(crate::Error),
}

/// The versions of `api_key` this crate can decode and encode: Produce and Fetch are read and
/// written by its own in-place code, which also knows the versions before kafka-protocol's
/// (generated from Kafka 4's definitions); every other API is kafka-protocol's.
pub fn known_versions(api_key: ApiKey) -> std::ops::RangeInclusive<i16> {
    match api_key {
        ApiKey::Produce => {
            crate::produce::PRODUCE_VERSION_MIN..=crate::produce::PRODUCE_VERSION_MAX
        }
        ApiKey::Fetch => crate::fetch::FETCH_VERSION_MIN..=crate::fetch::FETCH_VERSION_MAX,
        _ => {
            let v = api_key.valid_versions();
            v.min..=v.max
        }
    }
}

/// Decodes one frame (length prefix already removed). Which versions are served is the
/// caller's decision ([`peek_prefix`](crate::header::peek_prefix) first); this decodes any
/// version kafka-protocol knows.
///
/// # Errors
/// See [`DecodeError`].
pub fn decode_request(mut frame: Bytes) -> Result<Request, DecodeError> {
    let prefix = peek_prefix(&frame).map_err(DecodeError::Truncated)?;
    let correlation_id = prefix.correlation_id;
    let api_key = ApiKey::try_from(prefix.api_key).map_err(|()| DecodeError::UnknownApiKey {
        api_key: prefix.api_key,
        correlation_id,
    })?;
    let version = prefix.api_version;
    let known = known_versions(api_key);
    if !known.contains(&version) {
        return Err(DecodeError::UnsupportedVersion {
            api_key,
            version,
            correlation_id,
        });
    }
    let malformed = |reason: String| DecodeError::Malformed {
        api_key,
        version,
        correlation_id,
        reason,
    };
    let header = decode_request_header(api_key, version, &mut frame)
        .map_err(|e| malformed(e.to_string()))?;
    let body = match api_key {
        ApiKey::Produce => {
            Body::Produce(ProduceRequestView::parse(frame, version).map_err(malformed)?)
        }
        ApiKey::Fetch => Body::Fetch(FetchRequestView::parse(frame, version).map_err(malformed)?),
        _ => Body::Other(
            RequestKind::decode(api_key, &mut frame, version)
                .map_err(|e| malformed(e.to_string()))?,
        ),
    };
    Ok(Request {
        api_key,
        header,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    use kafka_protocol::protocol::Encodable;

    fn frame_of(api_key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
        let mut out = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(9);
        assert!(header
            .encode(&mut out, api_key.request_header_version(version))
            .is_ok());
        assert!(body.encode(&mut out, version).is_ok());
        out.freeze()
    }

    #[test]
    fn metadata_round_trips_at_every_version() {
        for v in 0..=12 {
            let body = RequestKind::Metadata(MetadataRequest::default());
            let decoded = decode_request(frame_of(ApiKey::Metadata, v, &body));
            assert!(
                matches!(
                    decoded,
                    Ok(Request {
                        api_key: ApiKey::Metadata,
                        ..
                    })
                ),
                "v{v}"
            );
        }
    }

    #[test]
    fn unknown_api_key_is_reported() {
        let frame = Bytes::from_static(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert!(matches!(
            decode_request(frame),
            Err(DecodeError::UnknownApiKey {
                api_key: 0x7f00,
                correlation_id: 1
            })
        ));
    }

    #[test]
    fn unsupported_api_versions_version_keeps_correlation_id() {
        let body = RequestKind::ApiVersions(ApiVersionsRequest::default());
        let mut frame = BytesMut::from(&frame_of(ApiKey::ApiVersions, 4, &body)[..]);
        if let Some(b) = frame.get_mut(3) {
            *b = 99; // version 99
        }
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                version: 99,
                correlation_id: 9
            })
        ));
    }

    #[test]
    fn huge_array_count_is_rejected_without_allocating() {
        // Metadata v1: header v1, then topics array count i32::MAX with nothing behind it.
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&[0, 3, 0, 1, 0, 0, 0, 5, 0, 0]);
        frame.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn truncated_body_is_malformed() {
        let body = RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![])));
        let full = frame_of(ApiKey::Metadata, 4, &body);
        let cut = full.slice(..full.len() - 2);
        assert!(matches!(
            decode_request(cut),
            Err(DecodeError::Malformed { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode_request(Bytes::from(bytes));
        }

        #[test]
        fn arbitrary_bodies_behind_valid_headers_never_panic(
            key in 0i16..=20, version in 0i16..=12,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)
        ) {
            let mut frame = BytesMut::new();
            frame.extend_from_slice(&key.to_be_bytes());
            frame.extend_from_slice(&version.to_be_bytes());
            frame.extend_from_slice(&[0, 0, 0, 1, 0, 0]);
            frame.extend_from_slice(&body);
            let _ = decode_request(frame.freeze());
        }
    }
}
