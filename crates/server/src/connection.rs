//! One task per client connection: read a frame (length checked before anything is
//! reserved), decode, dispatch, write the response. Requests are processed one at a time in
//! arrival order, as Kafka does (it mutes a channel until it has answered), so responses
//! leave in request order; pipelined requests wait in the socket buffer and in `inbuf`.
//! Responses are coalesced: they are written when no further complete request is buffered.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use strom_codec::fetch::FetchRequestView;
use strom_codec::frame::{frame_bytes, PREFIX_BYTES};
use strom_codec::produce::ProduceRequestView;
use strom_codec::request::{decode_request, Body, DecodeError};
use strom_codec::response::{
    begin_response, encode_response, end_response, end_response_with, unsupported_api_versions,
    Chunk,
};
use strom_codec::versions::advertised;
use strom_codec::ApiKey;
use strom_storage::FileSlice;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use crate::api;
use crate::api::fetch::FetchScratch;
use crate::broker::BrokerState;
use crate::dispatch::dispatch;

/// Most bytes reserved in the read buffer per read: a frame's buffer grows with the bytes
/// that actually arrive, never to the size a client merely claims.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// A piece of a response waiting to be written.
type Out = Chunk<FileSlice>;

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
    // Responses are encoded into this one buffer and split off it; once they are written
    // and dropped, the next response reuses the same memory.
    let mut encode_buf = BytesMut::new();
    let mut out: Vec<Out> = Vec::new();
    let mut scratch = FetchScratch::default();
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
    ctx: &'a ConnectionContext,
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
}

/// Decodes and answers one frame, appending the response (encoded in `bufs.encode`) to
/// `bufs.out`. `false` closes the connection.
async fn handle_frame(ctx: &ConnectionContext, frame: Bytes, bufs: &mut Buffers<'_>) -> bool {
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
            bufs.out.push(Chunk::Bytes(buf.freeze()));
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
    let client_id = request.header.client_id.as_ref().map_or("", |c| c.as_str());
    let started = std::time::Instant::now();
    let body = match request.body {
        Body::Produce(produce) => {
            return answer_produce(ctx, correlation_id, &produce, started, bufs).await
        }
        Body::Fetch(fetch) => {
            return answer_fetch(ctx, correlation_id, &fetch, started, bufs).await
        }
        Body::Other(body) => body,
    };
    let Some(reply) = dispatch(ctx, version, client_id, body).await else {
        ctx.state
            .metrics
            .record_request(api_key as i16, 0, started.elapsed());
        return true;
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
    ctx: &ConnectionContext,
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
    let outcome = api::produce::handle(ctx, produce, encode_buf).await;
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
    ctx: &ConnectionContext,
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

/// Most slices handed to one `writev`.
const IO_SLICES_MAX: usize = 64;
/// Most bytes handed to one `sendfile`, so one large record set does not hold the worker
/// thread for long.
const SENDFILE_CHUNK_BYTES: usize = 4 << 20;

/// Writes every chunk in order, byte chunks with vectored writes and record sets with
/// `sendfile` from their segment file, then empties `out`.
async fn write_chunks(writer: &mut OwnedWriteHalf, out: &mut Vec<Out>) -> std::io::Result<()> {
    let mut index = 0;
    while index < out.len() {
        match out.get(index) {
            Some(Chunk::External { source, len }) => {
                send_file(writer, source, *len).await?;
                index += 1;
            }
            Some(Chunk::Bytes(_)) => index = write_bytes_run(writer, out, index).await?,
            None => break,
        }
    }
    out.clear();
    Ok(())
}

/// Writes the run of byte chunks starting at `index`; returns the index after it.
async fn write_bytes_run(
    writer: &mut OwnedWriteHalf,
    out: &mut [Out],
    mut index: usize,
) -> std::io::Result<usize> {
    loop {
        let mut slots = [std::io::IoSlice::new(&[]); IO_SLICES_MAX];
        let mut count = 0;
        for (slot, chunk) in slots.iter_mut().zip(out.iter().skip(index)) {
            match chunk {
                Chunk::Bytes(b) => *slot = std::io::IoSlice::new(b),
                Chunk::External { .. } => break,
            }
            count += 1;
        }
        let slices = slots.get(..count).unwrap_or_default();
        if slices.is_empty() {
            return Ok(index);
        }
        if slices.iter().all(|s| s.is_empty()) {
            // Nothing to send (a response ending in a record set leaves an empty tail): a
            // vectored write of nothing returns 0, which would read as a closed socket.
            return Ok(index + count);
        }
        // Bytes just before a record set (a Fetch response's fields) go with MSG_MORE, so
        // the kernel sends them in one segment with the file's first bytes instead of on
        // their own. (TCP_CORK around the whole response did the same but, on 2026-12-03's
        // machine, doubled the kernel time of sending it: 0.52-0.62 s/GB against 0.25-0.32.)
        let before_record_set = matches!(out.get(index + count), Some(Chunk::External { .. }));
        let mut written = if before_record_set {
            send_more(writer, slices).await?
        } else {
            writer.write_vectored(slices).await?
        };
        if written == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        while let Some(Chunk::Bytes(chunk)) = out.get_mut(index) {
            let n = written.min(chunk.len());
            chunk.advance(n);
            written -= n;
            if !chunk.is_empty() {
                break;
            }
            index += 1;
        }
    }
}

/// Writes `slices` with `MSG_MORE`: the kernel holds a partial segment for the data that
/// follows.
async fn send_more(
    writer: &OwnedWriteHalf,
    slices: &[std::io::IoSlice<'_>],
) -> std::io::Result<usize> {
    let stream: &TcpStream = writer.as_ref();
    write_when_ready(stream, || {
        rustix::net::sendmsg(
            stream,
            slices,
            &mut rustix::net::SendAncillaryBuffer::default(),
            rustix::net::SendFlags::MORE,
        )
    })
    .await
}

/// Runs a non-blocking write system call on `stream` once it is writable, again until it
/// does not report `EAGAIN`.
async fn write_when_ready(
    stream: &TcpStream,
    mut op: impl FnMut() -> rustix::io::Result<usize>,
) -> std::io::Result<usize> {
    loop {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || op().map_err(std::io::Error::from)) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            done => return done,
        }
    }
}

/// Sends `len` bytes of a segment file with `sendfile`: from the page cache to the socket
/// without passing through this process.
async fn send_file(writer: &OwnedWriteHalf, slice: &FileSlice, len: usize) -> std::io::Result<()> {
    let stream: &TcpStream = writer.as_ref();
    let mut offset = slice.position;
    let mut left = len;
    while left > 0 {
        let sent = write_when_ready(stream, || {
            rustix::fs::sendfile(
                stream,
                &*slice.file,
                Some(&mut offset),
                left.min(SENDFILE_CHUNK_BYTES),
            )
        })
        .await;
        match sent {
            Ok(0) => {
                // The file is shorter than the slice (it was cut under us): the response
                // cannot be completed, so the connection must close.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("segment ended {left} bytes early"),
                ));
            }
            Ok(n) => left = left.saturating_sub(n),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
