//! Hot paths of storage: batch validation, header patching, segment append, fetch-range read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use strom_storage::batch::{
    build_uncompressed, check_framing, patched_header, record_timestamp_range, split_and_validate,
    MaxTimestamp,
};
use strom_storage::{Log, LogConfig, LogOptions, TopicPartition};

/// A batch of `n` records of `size` bytes: what a producer with linger sends.
fn batch(n: usize, size: usize) -> Vec<u8> {
    let value = vec![b'x'; size];
    let values: Vec<&[u8]> = (0..n).map(|_| &value[..]).collect();
    build_uncompressed(&values, 1_700_000_000_000, None)
}

fn validation(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch");
    for (n, size) in [(1, 1024), (1000, 1024), (10_000, 100)] {
        let b = batch(n, size);
        group.throughput(Throughput::Bytes(b.len() as u64));
        group.bench_function(format!("validate_{n}x{size}B"), |bench| {
            bench.iter(|| split_and_validate(black_box(&b)).unwrap().iter().count())
        });
        group.bench_function(format!("framing_crc_only_{n}x{size}B"), |bench| {
            bench.iter(|| check_framing(black_box(&b)).unwrap())
        });
    }
    // The records' timestamps, which the append path reads to write the max timestamp.
    let b = batch(1000, 1024);
    let h = check_framing(&b).unwrap();
    group.throughput(Throughput::Bytes(b.len() as u64));
    group.bench_function("timestamps_1000x1024B", |bench| {
        bench.iter(|| record_timestamp_range(black_box(&h), black_box(&b)).unwrap())
    });
    let body = strom_storage::compress::compress(
        strom_storage::compress::LZ4,
        &b[strom_storage::batch::HEADER_BYTES..],
        false,
    )
    .unwrap();
    let lz4 =
        strom_storage::batch::assemble(3, 999, h.base_timestamp, -1, (-1, -1, -1), 1000, &body);
    let lh = check_framing(&lz4).unwrap();
    group.bench_function("timestamps_1000x1024B_lz4", |bench| {
        bench.iter(|| record_timestamp_range(black_box(&lh), black_box(&lz4)).unwrap())
    });
    let b = batch(1000, 1024);
    group.bench_function("patch_header", |bench| {
        bench.iter(|| patched_header(black_box(&b), 12345, 0, MaxTimestamp::AsSent).unwrap())
    });
    group.bench_function("patch_header_log_append_time", |bench| {
        bench.iter(|| {
            patched_header(
                black_box(&b),
                12345,
                0,
                MaxTimestamp::LogAppend(1_700_000_000_000),
            )
            .unwrap()
        })
    });
    group.finish();
}

fn open(dir: &std::path::Path, config: LogConfig) -> Log {
    Log::open(
        TopicPartition::new("bench", 0),
        dir,
        LogOptions::new(config, 0),
    )
    .unwrap()
}

fn append_and_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("log");
    let b = batch(1000, 1024);
    let config = LogConfig {
        timestamp_after_max_ms: i64::MAX,
        timestamp_before_max_ms: i64::MAX,
        ..LogConfig::default()
    };
    // Each iteration appends 16 batches.
    group.throughput(Throughput::Bytes(16 * b.len() as u64));
    group.bench_function("append_16x_1000x1KiB", |bench| {
        bench.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let log = open(dir.path(), config.clone());
                (dir, log)
            },
            |(dir, log)| {
                for _ in 0..16 {
                    log.append_as_leader(black_box(&b), 0, 0).unwrap();
                }
                (dir, log)
            },
            BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), config.clone());
    for _ in 0..64 {
        log.append_as_leader(&b, 0, 0).unwrap();
    }
    log.update_high_watermark(i64::MAX);
    group.throughput(Throughput::Bytes(1 << 20));
    group.bench_function("read_plan_1MiB", |bench| {
        bench.iter(|| {
            let state = log.read_state();
            state
                .read(black_box(30_500), 1 << 20, state.high_watermark)
                .unwrap()
        })
    });
    group.bench_function("read_plan_and_copy_1MiB", |bench| {
        bench.iter(|| {
            let state = log.read_state();
            state
                .read(black_box(30_500), 1 << 20, state.high_watermark)
                .unwrap()
                .unwrap()
                .read()
                .unwrap()
        })
    });
    // An old segment: its index is sealed (looked up in the file with positioned reads).
    // Small batches, so the offset index has many entries to search.
    let small = batch(4, 1024);
    let sealed_dir = tempfile::tempdir().unwrap();
    {
        let config = LogConfig {
            segment_bytes: 64 << 20,
            ..config
        };
        let log = open(sealed_dir.path(), config.clone());
        for _ in 0..40_000 {
            log.append_as_leader(&small, 0, 0).unwrap();
        }
        log.close(true, 0).unwrap();
        drop(log);
        // Reopened: every segment but the (empty) active one opens sealed.
        let log = open(sealed_dir.path(), config);
        log.append_as_leader(&small, 0, 0).unwrap();
        log.update_high_watermark(i64::MAX);
        group.throughput(Throughput::Bytes(1 << 20));
        group.bench_function("read_plan_1MiB_sealed_segment", |bench| {
            bench.iter(|| {
                let state = log.read_state();
                state
                    .read(black_box(77_777), 1 << 20, state.high_watermark)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, validation, append_and_read);
criterion_main!(benches);
