//! The metrics endpoint: a small HTTP server on its own listener (`strom.metrics.listen`)
//! answering `GET /metrics` with the [`crate::metrics::Metrics`] counters and the broker's
//! gauges in Prometheus' text format, and `GET /health` with readiness.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use std::sync::atomic::Ordering;

use crate::metrics::{api_name, error_name, label, BUCKETS};
use crate::state::BrokerState;

/// Concurrent scrapes served; more wait.
const HTTP_CONNECTIONS_MAX: usize = 8;
/// Request head bytes read before answering 431.
const HTTP_HEAD_BYTES_MAX: usize = 8 * 1024;
/// How long one scrape may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole exposition, computed at scrape time.
pub async fn render(state: &BrokerState) -> String {
    let m = &state.metrics;
    let mut out = String::with_capacity(16 * 1024);
    let _ = writeln!(
        out,
        "# HELP strom_up 1 while the broker serves.\n# TYPE strom_up gauge\nstrom_up 1"
    );
    let _ = writeln!(
        out,
        "# HELP strom_build_info Build of the broker.\n# TYPE strom_build_info gauge\nstrom_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );

    let _ = writeln!(out, "# HELP strom_requests_total Requests served, by API and the first error code in the response.\n# TYPE strom_requests_total counter");
    let mut requests: Vec<((i16, i16), u64)> = m
        .requests
        .iter()
        .map(|e| (*e.key(), e.value().load(Ordering::Relaxed)))
        .collect();
    requests.sort_unstable();
    for ((api, error), n) in requests {
        let _ = writeln!(
            out,
            "strom_requests_total{{api=\"{}\",error=\"{}\"}} {n}",
            api_name(api),
            error_name(error)
        );
    }

    let _ = writeln!(out, "# HELP strom_request_duration_seconds Time from a request's arrival to its response, by API.\n# TYPE strom_request_duration_seconds histogram");
    for (key, h) in m.latency.iter().enumerate() {
        let count = h.count.load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        let api = api_name(i16::try_from(key).unwrap_or(-1));
        for (bound, bucket) in BUCKETS.iter().zip(&h.buckets) {
            let _ = writeln!(
                out,
                "strom_request_duration_seconds_bucket{{api=\"{api}\",le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "strom_request_duration_seconds_bucket{{api=\"{api}\",le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "strom_request_duration_seconds_sum{{api=\"{api}\"}} {}",
            h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "strom_request_duration_seconds_count{{api=\"{api}\"}} {count}"
        );
    }

    let _ = writeln!(out, "# HELP strom_connections Open client connections.\n# TYPE strom_connections gauge\nstrom_connections {}", m.connections_open.load(Ordering::Relaxed));
    let _ = writeln!(out, "# HELP strom_connections_accepted_total Client connections accepted.\n# TYPE strom_connections_accepted_total counter\nstrom_connections_accepted_total {}", m.connections_accepted.load(Ordering::Relaxed));

    let mut topics: Vec<(String, u64, u64, u64)> = m
        .topics
        .iter()
        .map(|e| {
            let c = e.value();
            (
                e.key().clone(),
                c.bytes_in.load(Ordering::Relaxed),
                c.records_in.load(Ordering::Relaxed),
                c.bytes_out.load(Ordering::Relaxed),
            )
        })
        .collect();
    topics.sort();
    let _ = writeln!(out, "# HELP strom_topic_bytes_in_total Record-batch bytes appended, by topic.\n# TYPE strom_topic_bytes_in_total counter");
    for (t, b, _, _) in &topics {
        let _ = writeln!(
            out,
            "strom_topic_bytes_in_total{{topic=\"{}\"}} {b}",
            label(t)
        );
    }
    let _ = writeln!(out, "# HELP strom_topic_records_in_total Records appended, by topic.\n# TYPE strom_topic_records_in_total counter");
    for (t, _, r, _) in &topics {
        let _ = writeln!(
            out,
            "strom_topic_records_in_total{{topic=\"{}\"}} {r}",
            label(t)
        );
    }
    let _ = writeln!(out, "# HELP strom_topic_bytes_out_total Record-batch bytes sent to fetchers, by topic.\n# TYPE strom_topic_bytes_out_total counter");
    for (t, _, _, b) in &topics {
        let _ = writeln!(
            out,
            "strom_topic_bytes_out_total{{topic=\"{}\"}} {b}",
            label(t)
        );
    }

    // Partition sizes and offsets, read now.
    let mut ends = std::collections::HashMap::new();
    let mut size = String::new();
    let mut end = String::new();
    let mut start = String::new();
    for topic in state.topics.all() {
        for p in &topic.partitions {
            let (bytes, log_start, log_end) = {
                let state = p.read_state();
                (
                    state.size_bytes(),
                    state.log_start_offset,
                    state.high_watermark,
                )
            };
            ends.insert((topic.name.clone(), p.index), log_end);
            let l = format!("topic=\"{}\",partition=\"{}\"", label(&topic.name), p.index);
            let _ = writeln!(size, "strom_partition_size_bytes{{{l}}} {bytes}");
            let _ = writeln!(end, "strom_partition_log_end_offset{{{l}}} {log_end}");
            let _ = writeln!(start, "strom_partition_log_start_offset{{{l}}} {log_start}");
        }
    }
    let _ = write!(out, "# HELP strom_partition_size_bytes Bytes on disk, by partition.\n# TYPE strom_partition_size_bytes gauge\n{size}");
    let _ = write!(out, "# HELP strom_partition_log_end_offset Next offset to be written, by partition.\n# TYPE strom_partition_log_end_offset gauge\n{end}");
    let _ = write!(out, "# HELP strom_partition_log_start_offset First readable offset, by partition.\n# TYPE strom_partition_log_start_offset gauge\n{start}");

    // Consumer-group lag: log end minus committed offset, for every committed partition.
    let committed = state.groups.all_offsets().await.unwrap_or_default();
    let _ = writeln!(out, "# HELP strom_consumer_group_lag Log end offset minus the group's committed offset.\n# TYPE strom_consumer_group_lag gauge");
    for (group, offsets) in committed {
        for c in offsets {
            let (topic, partition, offset) = (c.topic, c.partition, c.offset);
            if let Some(log_end) = ends.get(&(topic.clone(), partition)) {
                let _ = writeln!(
                    out,
                    "strom_consumer_group_lag{{group=\"{}\",topic=\"{}\",partition=\"{partition}\"}} {}",
                    label(&group),
                    label(&topic),
                    (log_end - offset).max(0)
                );
            }
        }
    }
    out
}

/// Serves `/metrics` and `/health` until shutdown.
pub async fn serve(listener: TcpListener, state: Arc<BrokerState>) {
    let permits = Arc::new(Semaphore::new(HTTP_CONNECTIONS_MAX));
    loop {
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            if tokio::time::timeout(HTTP_TIMEOUT, answer(stream, &state))
                .await
                .is_err()
            {
                tracing::debug!("metrics request timed out");
            }
            drop(permit);
        });
    }
}

async fn answer(mut stream: TcpStream, state: &BrokerState) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > HTTP_HEAD_BYTES_MAX {
            let _ = stream
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
            // Read (a bounded amount of) what the client still sends, so closing does not
            // reset the connection before it reads the answer.
            let mut drained = 0;
            while drained < 4 * HTTP_HEAD_BYTES_MAX {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
            return;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(state).await,
        ),
        ("GET", "/health") => {
            if state.shutdown.is_cancelled() {
                (
                    "503 Service Unavailable",
                    "text/plain",
                    "shutting down\n".into(),
                )
            } else {
                ("200 OK", "text/plain", "ok\n".into())
            }
        }
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "try /metrics or /health\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
