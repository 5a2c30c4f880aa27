//! Writing responses: byte chunks with vectored writes, record sets with `sendfile` from their
//! segment files, in order.

use bytes::Buf;
use strom_codec::response::Chunk;
use strom_storage::FileSlice;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

/// A piece of a response waiting to be written.
pub type Out = Chunk<FileSlice>;

/// Most slices handed to one `writev`.
const IO_SLICES_MAX: usize = 64;
/// Most bytes handed to one `sendfile`, so one large record set does not hold the worker
/// thread for long.
const SENDFILE_CHUNK_BYTES: usize = 4 << 20;

/// Writes every chunk in order, byte chunks with vectored writes and record sets with
/// `sendfile` from their segment file, then empties `out`.
pub async fn write_chunks(writer: &mut OwnedWriteHalf, out: &mut Vec<Out>) -> std::io::Result<()> {
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
