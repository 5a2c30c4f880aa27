//! One task per client connection: read a frame (length checked before anything is
//! reserved), decode, dispatch, write the response. Requests are processed one at a time in
//! arrival order, as Kafka does (it mutes a channel until it has answered), so responses
//! leave in request order; pipelined requests wait in the socket buffer and in `inbuf`.
//! Responses are coalesced: they are written when no further complete request is buffered.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use strom_codec::frame::{frame_bytes, PREFIX_BYTES};
use strom_codec::kafka_protocol::messages::ResponseKind;
use strom_codec::request::{decode_request, DecodeError};
use strom_codec::response::{encode_response, encode_response_chunked, unsupported_api_versions};
use strom_codec::versions::advertised;
use strom_codec::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::broker::BrokerState;
use crate::dispatch::dispatch;

/// Most bytes reserved in the read buffer per read: a frame's buffer grows with the bytes
/// that actually arrive, never to the size a client merely claims.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// What a handler knows about the connection it serves.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    pub state: Arc<BrokerState>,
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

enum Next<'a> {
    Frame(BytesMut, tokio::sync::SemaphorePermit<'a>),
    Closed,
}

pub async fn serve(socket: TcpStream, peer: SocketAddr, state: Arc<BrokerState>) {
    let local = socket.local_addr().unwrap_or(state.bound);
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "set_nodelay failed");
    }
    let (mut reader, mut writer) = socket.into_split();
    let ctx = ConnectionContext { state, local, peer };
    ctx.state.metrics.connection_opened();
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut out: Vec<Bytes> = Vec::new();
    tracing::debug!(%peer, "connection opened");
    loop {
        let next = next_frame(&ctx, &mut reader, &mut writer, &mut inbuf, &mut out).await;
        let Next::Frame(frame, permit) = next else {
            break;
        };
        let keep_open = handle_frame(&ctx, frame.freeze(), &mut out).await;
        drop(permit);
        if !keep_open {
            break;
        }
    }
    if !out.is_empty() {
        let _ = write_chunks(&mut writer, &mut out).await;
    }
    let _ = writer.shutdown().await;
    ctx.state.metrics.connection_closed();
    tracing::debug!(%peer, "connection closed");
}

/// Reads until one whole frame is buffered, flushing pending responses before any wait.
async fn next_frame<'a>(
    ctx: &'a ConnectionContext,
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    inbuf: &mut BytesMut,
    out: &mut Vec<Bytes>,
) -> Next<'a> {
    let limit = ctx.state.config.socket_request_max_bytes;
    let mut wanted: Option<usize> = None;
    let mut permit = None;
    loop {
        if wanted.is_none() && inbuf.len() >= PREFIX_BYTES {
            let mut prefix = [0u8; PREFIX_BYTES];
            prefix.copy_from_slice(inbuf.get(..PREFIX_BYTES).unwrap_or(&[0; 4]));
            match frame_bytes(prefix, limit) {
                Ok(len) => {
                    // Reserve the request's memory from the broker-wide budget before
                    // buffering it (Kafka's `queued.max.request.bytes`).
                    match ctx.state.request_memory.acquire_many(len).await {
                        Ok(p) => permit = Some(p),
                        Err(_) => return Next::Closed,
                    }
                    wanted = Some(len as usize);
                }
                Err(e) => {
                    tracing::info!(peer = %ctx.peer, error = %e, "closing connection: bad frame length");
                    return Next::Closed;
                }
            }
        }
        if let Some(len) = wanted {
            if inbuf.len() >= PREFIX_BYTES + len {
                let mut frame = inbuf.split_to(PREFIX_BYTES + len);
                let _ = frame.split_to(PREFIX_BYTES);
                let Some(permit) = permit.take() else {
                    return Next::Closed;
                };
                return Next::Frame(frame, permit);
            }
            let missing = PREFIX_BYTES + len - inbuf.len();
            inbuf.reserve(missing.min(READ_CHUNK_BYTES));
        } else {
            inbuf.reserve(READ_CHUNK_BYTES);
        }
        if !out.is_empty() {
            if let Err(e) = write_chunks(writer, out).await {
                tracing::debug!(peer = %ctx.peer, error = %e, "write failed");
                return Next::Closed;
            }
        }
        let read = tokio::select! {
            () = ctx.state.shutdown.cancelled() => return Next::Closed,
            read = reader.read_buf(inbuf) => read,
        };
        match read {
            Ok(0) => {
                if !inbuf.is_empty() {
                    tracing::debug!(peer = %ctx.peer, bytes = inbuf.len(), "peer closed mid-frame");
                }
                return Next::Closed;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(peer = %ctx.peer, error = %e, "read failed");
                return Next::Closed;
            }
        }
    }
}

/// Decodes and answers one frame, appending the response to `out`. `false` closes the
/// connection.
async fn handle_frame(ctx: &ConnectionContext, frame: bytes::Bytes, out: &mut Vec<Bytes>) -> bool {
    let request = match decode_request(frame) {
        Ok(r) => r,
        Err(DecodeError::UnsupportedVersion {
            api_key: ApiKey::ApiVersions,
            version,
            correlation_id,
        }) => {
            tracing::debug!(peer = %ctx.peer, version, "ApiVersions at an unknown version: answering v0");
            let mut buf = BytesMut::new();
            unsupported_api_versions(correlation_id, &mut buf);
            out.push(buf.freeze());
            return true;
        }
        Err(DecodeError::UnsupportedVersion {
            api_key, version, ..
        }) => {
            let range = advertised(api_key).map_or("none".to_string(), |r| {
                format!("v{}-v{}", r.start(), r.end())
            });
            tracing::info!(
                peer = %ctx.peer, ?api_key, version,
                "closing connection: {api_key:?} v{version} is not served (served: {range}); upgrade or configure the client's api version"
            );
            return false;
        }
        Err(e) => {
            tracing::info!(peer = %ctx.peer, error = %e, "closing connection: undecodable request");
            return false;
        }
    };
    let api_key = request.api_key;
    let version = request.header.request_api_version;
    let correlation_id = request.header.correlation_id;
    tracing::trace!(peer = %ctx.peer, ?api_key, version, correlation_id, "request");
    let client_id = request
        .header
        .client_id
        .as_ref()
        .map_or("", |c| c.as_str())
        .to_string();
    let started = std::time::Instant::now();
    let Some(response) = dispatch(ctx, version, &client_id, request.body).await else {
        ctx.state
            .metrics
            .record_request(api_key as i16, 0, started.elapsed());
        return true; // acks=0 produce: no response
    };
    ctx.state.metrics.record_request(
        api_key as i16,
        crate::metrics::first_error(&response),
        started.elapsed(),
    );
    let encoded = match &response {
        ResponseKind::Fetch(fetch) => {
            // Record sets go out as they came from storage, not copied into the response.
            let records: Vec<Bytes> = fetch
                .responses
                .iter()
                .flat_map(|t| t.partitions.iter())
                .filter_map(|p| p.records.clone())
                .collect();
            encode_response_chunked(api_key, version, correlation_id, &response, &records)
        }
        _ => {
            let mut buf = BytesMut::new();
            encode_response(api_key, version, correlation_id, &response, &mut buf)
                .map(|()| vec![buf.freeze()])
        }
    };
    match encoded {
        Ok(chunks) => {
            out.extend(chunks);
            true
        }
        Err(e) => {
            tracing::error!(peer = %ctx.peer, ?api_key, version, error = %e, "cannot encode response; closing connection");
            false
        }
    }
}

/// Most slices handed to one `writev`.
const IO_SLICES_MAX: usize = 64;

/// Writes every chunk with vectored writes, then empties `out`.
async fn write_chunks(writer: &mut OwnedWriteHalf, out: &mut Vec<Bytes>) -> std::io::Result<()> {
    let mut index = 0;
    while index < out.len() {
        let slices: Vec<std::io::IoSlice<'_>> = out
            .iter()
            .skip(index)
            .take(IO_SLICES_MAX)
            .map(|c| std::io::IoSlice::new(c))
            .collect();
        let mut written = writer.write_vectored(&slices).await?;
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while written > 0 {
            let Some(chunk) = out.get_mut(index) else {
                break;
            };
            let n = written.min(chunk.len());
            chunk.advance(n);
            written -= n;
            if chunk.is_empty() {
                index += 1;
            }
        }
        while out.get(index).is_some_and(Bytes::is_empty) {
            index += 1;
        }
    }
    out.clear();
    Ok(())
}
