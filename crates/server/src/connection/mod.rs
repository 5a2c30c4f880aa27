//! One task per client connection: read a frame (length checked before anything is
//! reserved), decode, dispatch, write the response. Requests are processed one at a time in
//! arrival order, as Kafka does (it mutes a channel until it has answered), so responses
//! leave in request order; pipelined requests wait in the socket buffer and in `inbuf`.
//! Responses are coalesced: they are written when no further complete request is buffered.

use std::net::SocketAddr;
use std::sync::Arc;

mod writer;

use bytes::{Bytes, BytesMut};
use strom_codec::fetch::FetchRequestView;
use strom_codec::frame::{frame_bytes, PREFIX_BYTES};
use strom_codec::header::peek_prefix;
use strom_codec::produce::ProduceRequestView;
use strom_codec::request::{decode_request, Body};
use strom_codec::response::{
    begin_response, encode_response, end_response, end_response_with, unsupported_api_versions,
    Chunk,
};
use strom_codec::ApiKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::api;
use crate::api::fetch::FetchScratch;
use crate::api::produce::ProduceScratch;
use crate::context::RequestContext;
use crate::handlers;
use crate::state::BrokerState;
use writer::{write_chunks, Out};

/// Most bytes reserved in the read buffer per read: a frame's buffer grows with the bytes
/// that actually arrive, never to the size a client merely claims.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The connection a task serves.
#[derive(Debug)]
struct Connection {
    state: Arc<BrokerState>,
    local: SocketAddr,
    peer: SocketAddr,
}

impl Connection {
    fn request<'a>(&'a self, version: i16, client_id: &'a str) -> RequestContext<'a> {
        RequestContext {
            state: &self.state,
            peer: self.peer,
            local: self.local,
            version,
            client_id,
        }
    }
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
    let ctx = Connection { state, local, peer };
    ctx.state.metrics.connection_opened();
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    // Responses are encoded into this one buffer and split off it; once they are written
    // and dropped, the next response reuses the same memory.
    let mut encode_buf = BytesMut::new();
    let mut out: Vec<Out> = Vec::new();
    let mut scratch = FetchScratch::default();
    let mut produce_scratch = ProduceScratch::default();
    tracing::debug!(%peer, "connection opened");
    loop {
        let next = next_frame(&ctx, &mut reader, &mut writer, &mut inbuf, &mut out).await;
        let Next::Frame(frame, permit) = next else {
            break;
        };
        let mut bufs = Buffers {
            encode: &mut encode_buf,
            out: &mut out,
            fetch: &mut scratch,
            produce: &mut produce_scratch,
        };
        let keep_open = handle_frame(&ctx, frame.freeze(), &mut bufs).await;
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
    ctx: &'a Connection,
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    inbuf: &mut BytesMut,
    out: &mut Vec<Out>,
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

/// What a connection reuses from one response to the next.
struct Buffers<'a> {
    /// Responses are encoded here and split off.
    encode: &'a mut BytesMut,
    /// Responses waiting to be written.
    out: &'a mut Vec<Out>,
    fetch: &'a mut FetchScratch,
    produce: &'a mut ProduceScratch,
}

/// Decodes and answers one frame, appending the response (encoded in `bufs.encode`) to
/// `bufs.out`. `false` closes the connection.
async fn handle_frame(ctx: &Connection, frame: Bytes, bufs: &mut Buffers<'_>) -> bool {
    let prefix = match peek_prefix(&frame) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(peer = %ctx.peer, error = %e, "closing connection: frame too short for a header");
            return false;
        }
    };
    let Ok(api_key) = ApiKey::try_from(prefix.api_key) else {
        tracing::info!(peer = %ctx.peer, api_key = prefix.api_key, "closing connection: unknown api key");
        return false;
    };
    let version = prefix.api_version;
    let legacy = ctx.state.config.legacy_api_versions;
    if !handlers::is_served(api_key, version, legacy) {
        if api_key == ApiKey::ApiVersions {
            tracing::debug!(peer = %ctx.peer, version, "ApiVersions at an unknown version: answering v0");
            let mut buf = BytesMut::new();
            unsupported_api_versions(
                prefix.correlation_id,
                handlers::api_versions(legacy),
                &mut buf,
            );
            bufs.out.push(Chunk::Bytes(buf.freeze()));
            return true;
        }
        let served = handlers::served(api_key, legacy).map_or("none".to_string(), |r| {
            format!("v{}-v{}", r.start(), r.end())
        });
        tracing::info!(
            peer = %ctx.peer, ?api_key, version,
            "closing connection: {api_key:?} v{version} is not served (served: {served}); upgrade or configure the client's api version"
        );
        return false;
    }
    let request = match decode_request(frame) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(peer = %ctx.peer, error = %e, "closing connection: undecodable request");
            return false;
        }
    };
    let correlation_id = request.header.correlation_id;
    tracing::trace!(peer = %ctx.peer, ?api_key, version, correlation_id, "request");
    let client_id = request.header.client_id.as_ref().map_or("", |c| c.as_str());
    let rctx = ctx.request(version, client_id);
    let started = std::time::Instant::now();
    let body = match request.body {
        Body::Produce(produce) => {
            return answer_produce(&rctx, correlation_id, &produce, started, bufs).await
        }
        Body::Fetch(fetch) => {
            return answer_fetch(&rctx, correlation_id, &fetch, started, bufs).await
        }
        Body::Other(body) => body,
    };
    let reply = match handlers::dispatch(&rctx, api_key, body).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(peer = %ctx.peer, version, error = %e, "closing connection: a served API has no handler");
            return false;
        }
    };
    ctx.state.metrics.record_request(
        api_key as i16,
        crate::metrics::first_error(&reply),
        started.elapsed(),
    );
    // Each response is split off whole (a failed one closes the connection).
    match encode_response(api_key, version, correlation_id, &reply, bufs.encode) {
        Ok(()) => {
            bufs.out.push(Chunk::Bytes(bufs.encode.split().freeze()));
            true
        }
        Err(e) => {
            tracing::error!(peer = %ctx.peer, ?api_key, version, error = %e, "cannot encode response; closing connection");
            false
        }
    }
}

/// Produce: the handler writes the response body straight after the header in
/// `encode_buf` (no response structs); acks=0 drops it.
async fn answer_produce(
    ctx: &RequestContext<'_>,
    correlation_id: i32,
    produce: &ProduceRequestView,
    started: std::time::Instant,
    bufs: &mut Buffers<'_>,
) -> bool {
    let version = produce.version();
    let encode_buf = &mut *bufs.encode;
    let start = match begin_response(ApiKey::Produce, version, correlation_id, encode_buf) {
        Ok(start) => start,
        Err(e) => {
            tracing::error!(peer = %ctx.peer, version, error = %e, "cannot encode response; closing connection");
            return false;
        }
    };
    let outcome = api::produce::handle(ctx, produce, bufs.produce, encode_buf).await;
    ctx.state.metrics.record_request(
        ApiKey::Produce as i16,
        outcome.first_error,
        started.elapsed(),
    );
    if outcome.acks == 0 {
        encode_buf.truncate(start);
        return true;
    }
    match end_response(encode_buf, start) {
        Ok(()) => {
            bufs.out.push(Chunk::Bytes(encode_buf.split().freeze()));
            true
        }
        Err(e) => {
            tracing::error!(peer = %ctx.peer, version, error = %e, "cannot encode response; closing connection");
            false
        }
    }
}

/// Fetch: the handler writes the response body straight after the header in
/// `bufs.encode`, leaving out the record sets it lists in `bufs.fetch.external`; the
/// response is queued as byte chunks with those record sets between them, which the writer
/// sends from their segment files.
async fn answer_fetch(
    ctx: &RequestContext<'_>,
    correlation_id: i32,
    fetch: &FetchRequestView,
    started: std::time::Instant,
    bufs: &mut Buffers<'_>,
) -> bool {
    let version = fetch.version();
    let start = match begin_response(ApiKey::Fetch, version, correlation_id, bufs.encode) {
        Ok(start) => start,
        Err(e) => {
            tracing::error!(peer = %ctx.peer, version, error = %e, "cannot encode response; closing connection");
            return false;
        }
    };
    let first_error = api::fetch::handle(ctx, fetch, bufs.fetch, bufs.encode).await;
    ctx.state
        .metrics
        .record_request(ApiKey::Fetch as i16, first_error, started.elapsed());
    let left_out: usize = bufs
        .fetch
        .external
        .iter()
        .map(|(_, s)| s.len as usize)
        .sum();
    if let Err(e) = end_response_with(bufs.encode, start, left_out) {
        tracing::error!(peer = %ctx.peer, version, error = %e, "cannot encode response; closing connection");
        bufs.encode.truncate(start);
        bufs.fetch.clear();
        return false;
    }
    // Positions are in the buffer as it is now; each split takes the bytes up to one.
    let mut taken = 0;
    for (at, slice) in bufs.fetch.external.drain(..) {
        let len = slice.len as usize;
        let bytes = bufs.encode.split_to(at.saturating_sub(taken));
        bufs.out.push(Chunk::Bytes(bytes.freeze()));
        bufs.out.push(Chunk::External { source: slice, len });
        taken = at;
    }
    bufs.out.push(Chunk::Bytes(bufs.encode.split().freeze()));
    bufs.fetch.clear();
    true
}
