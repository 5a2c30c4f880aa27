//! Encoding responses: length prefix, header of the right version, body.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseKind};
use kafka_protocol::protocol::Encodable;

use crate::header::encode_response_header;
use kafka_protocol::messages::api_versions_response::ApiVersion;

use crate::{Error, ErrorCode};

/// Encodes `body` as the response to a request of `api_key` v`version`, length prefix
/// included, appended to `out`.
///
/// # Errors
/// The body does not encode at that version (a server bug; the caller closes the connection).
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
    out: &mut BytesMut,
) -> Result<(), Error> {
    let start = begin_response(api_key, version, correlation_id, out)?;
    body.encode(out, version)
        .map_err(|e| Error::Encode(e.to_string()))?;
    end_response(out, start)
}

/// Starts a response whose body the caller writes itself: the length prefix (patched by
/// [`end_response`]) and the header. Returns where the response starts in `out`.
///
/// # Errors
/// The header does not encode (it cannot for a served version); `out` is then as it was.
pub fn begin_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    out: &mut BytesMut,
) -> Result<usize, Error> {
    let start = out.len();
    out.put_i32(0);
    if let Err(e) = encode_response_header(api_key, version, correlation_id, out) {
        out.truncate(start);
        return Err(e);
    }
    Ok(start)
}

/// Ends a response begun at `start` by [`begin_response`]: fills in its length prefix.
///
/// # Errors
/// The response exceeds 2 GiB.
pub fn end_response(out: &mut BytesMut, start: usize) -> Result<(), Error> {
    end_response_with(out, start, 0)
}

/// Ends a response begun at `start` whose body also has `left_out` bytes that are not in
/// `out` (record sets sent from their files, see [`Chunk::External`]).
///
/// # Errors
/// The response exceeds 2 GiB.
pub fn end_response_with(out: &mut BytesMut, start: usize, left_out: usize) -> Result<(), Error> {
    let len = (out.len() - start - 4).saturating_add(left_out);
    let len = i32::try_from(len).map_err(|_| Error::Encode(format!("{len} bytes")))?;
    if let Some(prefix) = out.get_mut(start..start + 4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// One piece of an encoded response, in order: a connection writes byte chunks with
/// vectored writes and external ones from their source (`sendfile` for file regions).
#[derive(Debug, Clone)]
pub enum Chunk<F> {
    /// Encoded bytes.
    Bytes(bytes::Bytes),
    /// A record set of `len` bytes that the writer takes from `source`.
    External { source: F, len: usize },
}

/// The answer to an ApiVersions request at a version we do not know: v0 with
/// UNSUPPORTED_VERSION and the whole table, so the client can pick a version and retry.
/// `table` is the broker's list of supported versions.
pub fn unsupported_api_versions(correlation_id: i32, table: Vec<ApiVersion>, out: &mut BytesMut) {
    let body = ApiVersionsResponse::default()
        .with_error_code(ErrorCode::UnsupportedVersion.code())
        .with_api_keys(table);
    let start = out.len();
    out.put_i32(0);
    out.put_i32(correlation_id);
    // v0 of ApiVersionsResponse is a fixed layout that always encodes.
    if body.encode(out, 0).is_err() || end_response(out, start).is_err() {
        out.truncate(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    fn table(n: i16) -> Vec<ApiVersion> {
        (0..n)
            .map(|k| {
                ApiVersion::default()
                    .with_api_key(k)
                    .with_min_version(0)
                    .with_max_version(3)
            })
            .collect()
    }

    #[test]
    fn unsupported_api_versions_is_v0_with_table() {
        let mut out = BytesMut::new();
        unsupported_api_versions(5, table(7), &mut out);
        let mut buf = &out[..];
        let len = buf.get_i32();
        assert_eq!(usize::try_from(len).ok(), Some(out.len() - 4));
        assert_eq!(buf.get_i32(), 5);
        assert_eq!(buf.get_i16(), ErrorCode::UnsupportedVersion.code());
        let count = buf.get_i32();
        assert_eq!(count, 7);
        assert_eq!(buf.remaining(), 7 * 6);
    }

    #[test]
    fn left_out_bytes_count_in_the_length_prefix() {
        let mut out = BytesMut::from(&b"queued"[..]);
        let start = begin_response(ApiKey::Fetch, 12, 8, &mut out).unwrap();
        assert_eq!(start, 6);
        out.put_slice(&[1, 2, 3]);
        end_response_with(&mut out, start, 50_000).unwrap();
        // correlation id (4) + tagged fields (1) of the v1 header, 3 body bytes, 50 000 elsewhere.
        assert_eq!(
            &out[start..start + 4],
            &(4 + 1 + 3 + 50_000i32).to_be_bytes()
        );
        assert_eq!(&out[..6], b"queued");
        assert!(end_response_with(&mut out, start, usize::MAX).is_err());
    }

    #[test]
    fn api_versions_v3_writes_no_default_tagged_fields() {
        let body =
            ResponseKind::ApiVersions(ApiVersionsResponse::default().with_api_keys(table(9)));
        let mut out = BytesMut::new();
        assert!(encode_response(ApiKey::ApiVersions, 3, 1, &body, &mut out).is_ok());
        // length(4) corr(4) error(2) compact array len(1) rows(n * (2+2+2+1 tag byte))
        // throttle(4) tagged-field count(1) = nothing else.
        let n = 9;
        assert_eq!(out.len(), 4 + 4 + 2 + 1 + n * 7 + 4 + 1);
        assert_eq!(out.last(), Some(&0u8));
    }
}
