//! A broker that does the least work a Kafka broker can do, to measure what a load generator
//! can reach on this machine with the broker's own cost taken out (the "ceiling" rows of
//! docs/performance.md).
//!
//! It keeps every topic as one partition in an in-memory file (a memfd), never checks a
//! batch, and answers a Fetch with the response's fields, then the stored batches sent from
//! that file with sendfile (the zero-copy path Strom uses for record sets). A Produce is read
//! straight from the frame, with no copy of the request; `--discard` only counts what is
//! produced. It speaks just enough of the protocol for `rdkafka_performance -P` and `-C`
//! (ApiVersions, Metadata, Produce v3-v8, ListOffsets, Fetch v4-v11), one blocking thread
//! per connection, and shares none of Strom's request path: it uses `kafka-protocol`
//! directly for everything but Produce requests and Fetch responses. Topics are created on
//! first mention. Nothing is durable and nothing is bounded; do not serve anything with it.
//!
//! ```text
//! cargo run --release -p strom-bench-tools --bin ceiling_broker -- 127.0.0.1:29500 [--discard]
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::{BufMut, Bytes, BytesMut};
use strom_codec::kafka_protocol::messages::api_versions_response::ApiVersion;
use strom_codec::kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use strom_codec::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use strom_codec::kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FetchRequest, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use strom_codec::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// The versions answered; the client picks the highest it shares.
const VERSIONS: &[(ApiKey, i16, i16)] = &[
    // Non-flexible versions only: Produce is read by hand, straight from the frame.
    (ApiKey::Produce, 3, 8),
    (ApiKey::Fetch, 4, 11),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::ApiVersions, 0, 3),
];

/// One partition: its batches in an in-memory file (a memfd), sent from there with sendfile.
#[derive(Default)]
struct Log {
    file: Option<File>,
    /// (base offset, position, length) of every stored batch.
    batches: Vec<(i64, u64, u64)>,
    end: u64,
    next_offset: i64,
}

impl Log {
    /// Stores the batches of one produced record set (or with `discard`, only counts them),
    /// giving them offsets; returns the first.
    fn append(&mut self, records: &[u8], discard: bool) -> Result<i64> {
        let first = self.next_offset;
        let start = self.end;
        let mut at = 0;
        while at < records.len() {
            let header = records
                .get(at..at + 61)
                .context("record set ends inside a batch header")?;
            let len = usize::try_from(i32::from_be_bytes(header[8..12].try_into()?))? + 12;
            let last_delta = i64::from(i32::from_be_bytes(header[23..27].try_into()?));
            if at + len > records.len() {
                bail!("batch longer than its record set");
            }
            if !discard {
                self.batches
                    .push((self.next_offset, start + at as u64, len as u64));
            }
            self.next_offset += last_delta + 1;
            at += len;
        }
        if discard {
            return Ok(first);
        }
        if self.file.is_none() {
            let fd = rustix::fs::memfd_create("ceiling-log", rustix::fs::MemfdFlags::CLOEXEC)?;
            self.file = Some(File::from(fd));
        }
        let file = self.file.as_ref().context("memfd")?;
        file.write_all_at(records, start)?;
        // Base offsets are outside the batch CRC: patched in place.
        for &(base, pos, _) in self.batches.iter().rev().take_while(|b| b.1 >= start) {
            file.write_all_at(&base.to_be_bytes(), pos)?;
        }
        self.end += records.len() as u64;
        Ok(first)
    }

    /// Where the stored bytes from the batch holding `offset` are: whole batches, at least
    /// one, then as many more as fit in `max_bytes`.
    fn read(&self, offset: i64, max_bytes: u64) -> (u64, u64) {
        let i = self.batches.partition_point(|b| b.0 <= offset);
        let Some(i) = i.checked_sub(1) else {
            return (0, 0);
        };
        let (_, start, len) = self.batches[i];
        let mut end = start + len;
        for &(_, at, len) in &self.batches[i + 1..] {
            if at + len - start > max_bytes {
                break;
            }
            end = at + len;
        }
        (start, end - start)
    }
}

#[derive(Default)]
struct State {
    /// `--discard`: produced batches are counted, not kept (a produce ceiling that touches no
    /// new memory; fetches then find nothing).
    discard: bool,
    topics: RwLock<HashMap<String, Arc<RwLock<Log>>>>,
    /// Bumped on every append; long-polling fetches wait on it.
    appended: (Mutex<u64>, Condvar),
}

impl State {
    fn topic(&self, name: &str) -> Arc<RwLock<Log>> {
        if let Some(log) = self.topics.read().expect("lock").get(name) {
            return log.clone();
        }
        let mut topics = self.topics.write().expect("lock");
        topics.entry(name.to_owned()).or_default().clone()
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let discard = args.iter().any(|a| a == "--discard");
    let addr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:29500".into());
    let listener = TcpListener::bind(&addr).with_context(|| format!("binding {addr}"))?;
    let port = listener.local_addr()?.port();
    println!("ceiling_broker listening on {addr}");
    let state = Arc::new(State {
        discard,
        ..State::default()
    });
    for socket in listener.incoming() {
        let socket = socket?;
        let state = state.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(socket, &state, port) {
                eprintln!("connection closed: {e:#}");
            }
        });
    }
    Ok(())
}

fn serve(mut socket: TcpStream, state: &State, port: u16) -> Result<()> {
    socket.set_nodelay(true)?;
    let mut frame = Vec::new();
    loop {
        let mut len = [0u8; 4];
        if socket.read_exact(&mut len).is_err() {
            return Ok(());
        }
        frame.resize(usize::try_from(i32::from_be_bytes(len))?, 0);
        socket.read_exact(&mut frame)?;
        let [k0, k1, v0, v1, ..] = frame[..] else {
            bail!("frame shorter than a request header");
        };
        let key = ApiKey::try_from(i16::from_be_bytes([k0, k1]))
            .map_err(|()| anyhow::anyhow!("unknown api key"))?;
        let version = i16::from_be_bytes([v0, v1]);
        if key == ApiKey::Produce {
            produce(&mut socket, state, &frame, version)?;
            continue;
        }
        let mut body = Bytes::copy_from_slice(&frame);
        let header = RequestHeader::decode(&mut body, key.request_header_version(version))?;
        let id = header.correlation_id;
        match key {
            ApiKey::ApiVersions => api_versions(&mut socket, id, version)?,
            ApiKey::Metadata => {
                let request = MetadataRequest::decode(&mut body, version)?;
                let names: Vec<String> = match request.topics {
                    Some(topics) => topics
                        .into_iter()
                        .filter_map(|t| t.name.map(|n| n.0.to_string()))
                        .collect(),
                    None => state.topics.read().expect("lock").keys().cloned().collect(),
                };
                let topics = names
                    .into_iter()
                    .map(|name| {
                        state.topic(&name);
                        MetadataResponseTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name))))
                            .with_partitions(vec![MetadataResponsePartition::default()
                                .with_leader_id(BrokerId(0))
                                .with_replica_nodes(vec![BrokerId(0)])
                                .with_isr_nodes(vec![BrokerId(0)])])
                    })
                    .collect();
                let response = MetadataResponse::default()
                    .with_brokers(vec![MetadataResponseBroker::default()
                        .with_host(StrBytes::from_static_str("127.0.0.1"))
                        .with_port(i32::from(port))])
                    .with_controller_id(BrokerId(0))
                    .with_topics(topics);
                respond(&mut socket, key, version, id, &response)?;
            }
            ApiKey::ListOffsets => {
                let request = ListOffsetsRequest::decode(&mut body, version)?;
                let topics = request
                    .topics
                    .into_iter()
                    .map(|t| {
                        let end = state.topic(&t.name.0).read().expect("lock").next_offset;
                        let partitions = t
                            .partitions
                            .into_iter()
                            .map(|p| {
                                ListOffsetsPartitionResponse::default()
                                    .with_partition_index(p.partition_index)
                                    .with_timestamp(-1)
                                    .with_offset(if p.timestamp == -1 { end } else { 0 })
                            })
                            .collect();
                        ListOffsetsTopicResponse::default()
                            .with_name(t.name)
                            .with_partitions(partitions)
                    })
                    .collect();
                let response = ListOffsetsResponse::default().with_topics(topics);
                respond(&mut socket, key, version, id, &response)?;
            }
            ApiKey::Fetch => {
                let request = FetchRequest::decode(&mut body, version)?;
                fetch(&mut socket, state, id, version, &request)?;
            }
            other => bail!("{other:?} is not served"),
        }
    }
}

/// A cursor over a non-flexible request, read in place.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            bail!("request ends early");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into()?))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into()?))
    }
    /// An i16-length string or an i32-length byte string (`None` when null).
    fn bytes(&mut self, wide: bool) -> Result<Option<&'a [u8]>> {
        let n = if wide {
            self.i32()?
        } else {
            i32::from(self.i16()?)
        };
        Ok(match usize::try_from(n) {
            Ok(n) => Some(self.take(n)?),
            Err(_) => None,
        })
    }
}

/// Produce v3-v8, read straight from the frame: the records are appended (or counted) from
/// there, with no copy of the request on the way.
fn produce(socket: &mut TcpStream, state: &State, frame: &[u8], version: i16) -> Result<()> {
    let mut r = Cursor(frame);
    r.take(4)?; // api key, version
    let id = r.i32()?;
    r.bytes(false)?; // client id
    r.bytes(false)?; // transactional id
    let acks = r.i16()?;
    r.i32()?; // timeout
    let mut responses = Vec::new();
    for _ in 0..r.i32()? {
        let name = std::str::from_utf8(r.bytes(false)?.context("null topic name")?)?;
        let log = state.topic(name);
        let mut partitions = Vec::new();
        for _ in 0..r.i32()? {
            let index = r.i32()?;
            let records = r.bytes(true)?.unwrap_or_default();
            let base = log.write().expect("lock").append(records, state.discard)?;
            partitions.push(
                PartitionProduceResponse::default()
                    .with_index(index)
                    .with_base_offset(base)
                    .with_log_append_time_ms(-1),
            );
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(TopicName(StrBytes::from_string(name.to_owned())))
                .with_partition_responses(partitions),
        );
    }
    let (lock, wake) = &state.appended;
    *lock.lock().expect("lock") += 1;
    wake.notify_all();
    if acks == 0 {
        return Ok(());
    }
    let response = ProduceResponse::default().with_responses(responses);
    respond(socket, ApiKey::Produce, version, id, &response)
}

fn api_versions(socket: &mut TcpStream, id: i32, version: i16) -> Result<()> {
    let keys = VERSIONS
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    let response = ApiVersionsResponse::default().with_api_keys(keys);
    // An ApiVersions response header is always v0; a newer request is answered at v3.
    encode_and_send(socket, 0, version.min(3), id, &response)
}

fn respond<R: Encodable>(
    socket: &mut TcpStream,
    key: ApiKey,
    version: i16,
    id: i32,
    body: &R,
) -> Result<()> {
    encode_and_send(
        socket,
        key.response_header_version(version),
        version,
        id,
        body,
    )
}

fn encode_and_send<R: Encodable>(
    socket: &mut TcpStream,
    header_version: i16,
    version: i16,
    id: i32,
    body: &R,
) -> Result<()> {
    let mut out = BytesMut::new();
    out.put_i32(0);
    ResponseHeader::default()
        .with_correlation_id(id)
        .encode(&mut out, header_version)?;
    body.encode(&mut out, version)?;
    send(socket, out, &[])
}

/// Answers a Fetch (v4-v11): the fields, then each partition's stored batches sent from its
/// memfd (see [`send`]).
fn fetch(
    socket: &mut TcpStream,
    state: &State,
    id: i32,
    version: i16,
    request: &FetchRequest,
) -> Result<()> {
    let logs: Vec<Vec<Arc<RwLock<Log>>>> = request
        .topics
        .iter()
        .map(|t| {
            t.partitions
                .iter()
                .map(|_| state.topic(&t.topic.0))
                .collect()
        })
        .collect();
    let has_data = || {
        request.topics.iter().zip(&logs).any(|(t, logs)| {
            t.partitions
                .iter()
                .zip(logs)
                .any(|(p, log)| p.fetch_offset < log.read().expect("lock").next_offset)
        })
    };
    // Long poll: wait for an append, at most max_wait_ms.
    let deadline =
        Instant::now() + Duration::from_millis(request.max_wait_ms.max(0).unsigned_abs().into());
    let (lock, wake) = &state.appended;
    let mut seen = lock.lock().expect("lock");
    while !has_data() {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        seen = wake.wait_timeout(seen, deadline - now).expect("lock").0;
    }
    drop(seen);

    let guards: Vec<Vec<_>> = logs
        .iter()
        .map(|logs| logs.iter().map(|l| l.read().expect("lock")).collect())
        .collect();
    let mut budget = u64::try_from(request.max_bytes.max(0))?;
    let mut head = BytesMut::new();
    let mut parts: Vec<(usize, Option<&File>, u64, u64)> = Vec::new();
    head.put_i32(0);
    head.put_i32(id);
    head.put_i32(0); // throttle
    if version >= 7 {
        head.put_i16(0);
        head.put_i32(0); // session id
    }
    head.put_i32(i32::try_from(request.topics.len())?);
    for (t, logs) in request.topics.iter().zip(&guards) {
        head.put_i16(i16::try_from(t.topic.0.len())?);
        head.put_slice(t.topic.0.as_bytes());
        head.put_i32(i32::try_from(t.partitions.len())?);
        for (p, log) in t.partitions.iter().zip(logs) {
            let max = u64::try_from(p.partition_max_bytes.max(0))?.min(budget);
            let (at, len) = log.read(p.fetch_offset, max);
            budget = budget.saturating_sub(len);
            head.put_i32(p.partition);
            head.put_i16(0);
            head.put_i64(log.next_offset); // high watermark
            head.put_i64(log.next_offset); // last stable offset
            if version >= 5 {
                head.put_i64(0); // log start offset
            }
            head.put_i32(0); // aborted transactions
            if version >= 11 {
                head.put_i32(-1); // preferred read replica
            }
            head.put_i32(i32::try_from(len)?);
            parts.push((head.len(), log.file.as_ref(), at, len));
        }
    }
    send(socket, head, &parts)
}

/// Writes the response frame `head` (its first 4 bytes are the size, filled in here), with
/// each `(position, file, offset, length)` of `parts` sent from its file at its position: the
/// bytes before a file range with `MSG_MORE`, the range with sendfile.
fn send(
    socket: &mut TcpStream,
    mut head: BytesMut,
    parts: &[(usize, Option<&File>, u64, u64)],
) -> Result<()> {
    let size = head.len() + parts.iter().map(|p| p.3 as usize).sum::<usize>() - 4;
    head[..4].copy_from_slice(&i32::try_from(size)?.to_be_bytes());
    let mut from = 0;
    for &(at, file, mut offset, len) in parts {
        let (Some(file), 1..) = (file, len) else {
            continue;
        };
        let mut bytes = &head[from..at];
        while !bytes.is_empty() {
            let n = rustix::net::send(&*socket, bytes, rustix::net::SendFlags::MORE)?;
            bytes = &bytes[n..];
        }
        let end = offset + len;
        while offset < end {
            let want = usize::try_from(end - offset)?;
            let n = rustix::fs::sendfile(&*socket, file, Some(&mut offset), want)?;
            if n == 0 {
                bail!("sendfile sent nothing");
            }
        }
        from = at;
    }
    socket.write_all(&head[from..])?;
    Ok(())
}
