//! Encoding responses: length prefix, header of the right version, body.

use bytes::{BufMut, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseKind};
use kafka_protocol::protocol::Encodable;

use crate::chunked::{Chunk, ChunkedBuf, ExternalRecords};
use crate::header::{encode_response_header, request_header_version};
use crate::{versions, Error, ErrorCode};

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
    patch_length(out, start)
}

fn patch_length(out: &mut BytesMut, start: usize) -> Result<(), Error> {
    let len = out.len() - start - 4;
    let len = i32::try_from(len).map_err(|_| Error::Encode(format!("{len} bytes")))?;
    if let Some(prefix) = out.get_mut(start..start + 4) {
        prefix.copy_from_slice(&len.to_be_bytes());
    }
    Ok(())
}

/// Encodes a response like [`encode_response`], but as chunks appended to `out`: record
/// sets registered in `external` appear as [`Chunk::External`] instead of their
/// placeholders (see [`crate::chunked`]). The byte chunks are encoded in `buf` (cleared
/// first, left empty) and split off it, so a caller that keeps `buf` reuses its memory
/// once the chunks are dropped. The first chunk holds the length prefix.
///
/// # Errors
/// As [`encode_response`], and a registered record set missing from `body`; `out` is then
/// as it was.
pub fn encode_response_chunked<F>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
    external: ExternalRecords<F>,
    buf: &mut BytesMut,
    out: &mut Vec<Chunk<F>>,
) -> Result<(), Error> {
    let flexible = request_header_version(api_key, version) >= 2;
    let mut chunked = ChunkedBuf::new(flexible, external, buf, out);
    let encoded =
        encode_response_header(api_key, version, correlation_id, &mut chunked).and_then(|()| {
            match body {
                // Only Fetch carries record sets worth leaving out.
                ResponseKind::Fetch(fetch) => Encodable::encode(fetch, &mut chunked, version)
                    .map_err(|e| Error::Encode(e.to_string())),
                other => {
                    let mut flat = BytesMut::new();
                    other
                        .encode(&mut flat, version)
                        .map_err(|e| Error::Encode(e.to_string()))?;
                    chunked.put_slice(&flat);
                    Ok(())
                }
            }
        });
    match encoded {
        Ok(()) => chunked.finish(),
        Err(e) => {
            chunked.abort();
            Err(e)
        }
    }
}

/// The answer to an ApiVersions request at a version we do not know: v0 with
/// UNSUPPORTED_VERSION and the whole table, so the client can pick a version and retry.
pub fn unsupported_api_versions(correlation_id: i32, out: &mut BytesMut) {
    let body = ApiVersionsResponse::default()
        .with_error_code(ErrorCode::UnsupportedVersion.code())
        .with_api_keys(versions::api_versions());
    let start = out.len();
    out.put_i32(0);
    out.put_i32(correlation_id);
    // v0 of ApiVersionsResponse is a fixed layout that always encodes.
    if body.encode(out, 0).is_err() || patch_length(out, start).is_err() {
        out.truncate(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Buf, Bytes};

    #[test]
    fn unsupported_api_versions_is_v0_with_table() {
        let mut out = BytesMut::new();
        unsupported_api_versions(5, &mut out);
        let mut buf = &out[..];
        let len = buf.get_i32();
        assert_eq!(usize::try_from(len).ok(), Some(out.len() - 4));
        assert_eq!(buf.get_i32(), 5);
        assert_eq!(buf.get_i16(), ErrorCode::UnsupportedVersion.code());
        let count = buf.get_i32();
        assert_eq!(usize::try_from(count).ok(), Some(versions::SUPPORTED.len()));
        assert_eq!(buf.remaining(), versions::SUPPORTED.len() * 6);
    }

    #[test]
    fn chunked_encoding_matches_contiguous_encoding() {
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        use kafka_protocol::messages::FetchResponse;
        let records = Bytes::from(vec![3u8; 50_000]);
        let small = Bytes::from(vec![4u8; 200]);
        let body = |a: Bytes, b: Bytes| {
            ResponseKind::Fetch(FetchResponse::default().with_responses(vec![
                FetchableTopicResponse::default().with_partitions(vec![
                    PartitionData::default().with_records(Some(a)),
                    PartitionData::default().with_records(Some(small.clone())),
                    PartitionData::default().with_records(None),
                    PartitionData::default().with_records(Some(b)),
                ]),
            ]))
        };
        // One buffer for every response, as a connection has.
        let mut buf = BytesMut::new();
        for version in [4, 11, 12, 16] {
            let mut flat = BytesMut::new();
            let whole = body(records.clone(), records.clone());
            assert!(encode_response(ApiKey::Fetch, version, 8, &whole, &mut flat).is_ok());
            let mut external = ExternalRecords::with_capacity(2);
            let first = external.add(records.clone(), records.len()).unwrap();
            let second = external.add(records.clone(), records.len()).unwrap();
            // A response already queued stays first.
            let mut chunks = vec![Chunk::Bytes(Bytes::from_static(b"queued"))];
            let encoded = encode_response_chunked(
                ApiKey::Fetch,
                version,
                8,
                &body(first, second),
                external,
                &mut buf,
                &mut chunks,
            );
            assert!(encoded.is_ok());
            assert!(buf.is_empty());
            assert!(matches!(chunks.remove(0), Chunk::Bytes(b) if &b[..] == b"queued"));
            let externals = chunks
                .iter()
                .filter(|c| matches!(c, Chunk::External { .. }))
                .count();
            assert_eq!(externals, 2, "v{version} leaves both record sets out");
            let mut joined = Vec::new();
            for c in &chunks {
                match c {
                    Chunk::Bytes(b) => joined.extend_from_slice(b),
                    Chunk::External { source, .. } => joined.extend_from_slice(source),
                }
            }
            assert_eq!(&joined[..], &flat[..], "v{version}");

            // No record set left out: one chunk, the same bytes.
            let mut chunks: Vec<Chunk<Bytes>> = Vec::new();
            let encoded = encode_response_chunked(
                ApiKey::Fetch,
                version,
                8,
                &whole,
                ExternalRecords::default(),
                &mut buf,
                &mut chunks,
            );
            assert!(encoded.is_ok());
            assert!(matches!(&chunks[..], [Chunk::Bytes(b)] if b[..] == flat[..]));
        }
    }

    #[test]
    fn api_versions_v3_writes_no_default_tagged_fields() {
        let body = ResponseKind::ApiVersions(
            ApiVersionsResponse::default().with_api_keys(versions::api_versions()),
        );
        let mut out = BytesMut::new();
        assert!(encode_response(ApiKey::ApiVersions, 3, 1, &body, &mut out).is_ok());
        // length(4) corr(4) error(2) compact array len(1) rows(n * (2+2+2+1 tag byte))
        // throttle(4) tagged-field count(1) = nothing else.
        let n = versions::SUPPORTED.len();
        assert_eq!(out.len(), 4 + 4 + 2 + 1 + n * 7 + 4 + 1);
        assert_eq!(out.last(), Some(&0u8));
    }
}
