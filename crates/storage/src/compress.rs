//! Record-batch compression codecs, as Kafka's `compression.type` attribute bits name them:
//! 1 gzip, 2 snappy (raw, or xerial-framed as the Java client writes it), 3 LZ4 frame,
//! 4 zstd. The append path stores compressed batches as sent; the log cleaner and the
//! keyless-record check on compacted topics need the records inside.

use std::io::{Read, Write};

use crate::limits::DECOMPRESSED_BATCH_BYTES_MAX;
use crate::Error;

pub const NONE: i16 = 0;
pub const GZIP: i16 = 1;
pub const SNAPPY: i16 = 2;
pub const LZ4: i16 = 3;
pub const ZSTD: i16 = 4;

/// The xerial snappy stream header (magic, version 1, compatible version 1).
const XERIAL_HEADER: [u8; 16] = [
    0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1,
];
/// Uncompressed bytes per xerial block (the Java client's default 32 KiB).
const XERIAL_BLOCK_BYTES: usize = 32 * 1024;

fn corrupt(codec: i16, what: impl std::fmt::Display) -> Error {
    Error::CorruptBatch(format!("compression codec {codec}: {what}"))
}

/// Reads all of `r`, failing beyond [`DECOMPRESSED_BATCH_BYTES_MAX`].
fn read_bounded(codec: i16, r: impl Read) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let limit = u64::try_from(DECOMPRESSED_BATCH_BYTES_MAX).unwrap_or(u64::MAX);
    r.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > DECOMPRESSED_BATCH_BYTES_MAX {
        return Err(corrupt(
            codec,
            format!("decompresses beyond {DECOMPRESSED_BATCH_BYTES_MAX} bytes"),
        ));
    }
    Ok(out)
}

/// Whether `data` is xerial-framed snappy.
pub fn is_xerial(data: &[u8]) -> bool {
    data.get(..8) == XERIAL_HEADER.get(..8)
}

/// The records section of a batch compressed with `codec`, decompressed.
pub fn decompress(codec: i16, data: &[u8]) -> Result<Vec<u8>, Error> {
    match codec {
        NONE => Ok(data.to_vec()),
        GZIP => read_bounded(codec, flate2::read::GzDecoder::new(data)),
        SNAPPY if is_xerial(data) => {
            let mut out = Vec::new();
            let mut rest = data.get(XERIAL_HEADER.len()..).unwrap_or_default();
            while !rest.is_empty() {
                let len_bytes: [u8; 4] = rest
                    .get(..4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| corrupt(codec, "truncated xerial block length"))?;
                let len = usize::try_from(u32::from_be_bytes(len_bytes))
                    .map_err(|_| corrupt(codec, "block length"))?;
                let block = rest
                    .get(4..4 + len)
                    .ok_or_else(|| corrupt(codec, "truncated xerial block"))?;
                let n = snap::raw::decompress_len(block).map_err(|e| corrupt(codec, e))?;
                if out.len() + n > DECOMPRESSED_BATCH_BYTES_MAX {
                    return Err(corrupt(codec, "decompresses beyond the limit"));
                }
                out.extend(
                    snap::raw::Decoder::new()
                        .decompress_vec(block)
                        .map_err(|e| corrupt(codec, e))?,
                );
                rest = rest.get(4 + len..).unwrap_or_default();
            }
            Ok(out)
        }
        SNAPPY => {
            let n = snap::raw::decompress_len(data).map_err(|e| corrupt(codec, e))?;
            if n > DECOMPRESSED_BATCH_BYTES_MAX {
                return Err(corrupt(codec, "decompresses beyond the limit"));
            }
            snap::raw::Decoder::new()
                .decompress_vec(data)
                .map_err(|e| corrupt(codec, e))
        }
        LZ4 => read_bounded(codec, lz4_flex::frame::FrameDecoder::new(data)),
        ZSTD => read_bounded(
            codec,
            zstd::stream::read::Decoder::new(data).map_err(|e| corrupt(codec, e))?,
        ),
        other => Err(corrupt(other, "unknown codec")),
    }
}

/// The records section of a batch as plain bytes: `data` itself when `codec` is none (no
/// copy), decompressed otherwise.
///
/// # Errors
/// See [`decompress`].
pub fn plain(codec: i16, data: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, Error> {
    if codec == NONE {
        Ok(std::borrow::Cow::Borrowed(data))
    } else {
        decompress(codec, data).map(std::borrow::Cow::Owned)
    }
}

/// `data` compressed with `codec`; snappy is xerial-framed when `xerial`.
pub fn compress(codec: i16, data: &[u8], xerial: bool) -> Result<Vec<u8>, Error> {
    let io = |e: std::io::Error| corrupt(codec, e);
    match codec {
        NONE => Ok(data.to_vec()),
        GZIP => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            w.write_all(data).map_err(io)?;
            w.finish().map_err(io)
        }
        SNAPPY if xerial => {
            let mut out = XERIAL_HEADER.to_vec();
            let mut encoder = snap::raw::Encoder::new();
            for chunk in data.chunks(XERIAL_BLOCK_BYTES) {
                let block = encoder.compress_vec(chunk).map_err(|e| corrupt(codec, e))?;
                let len = u32::try_from(block.len()).map_err(|_| corrupt(codec, "block"))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        SNAPPY => snap::raw::Encoder::new()
            .compress_vec(data)
            .map_err(|e| corrupt(codec, e)),
        LZ4 => {
            let mut w = lz4_flex::frame::FrameEncoder::new(Vec::new());
            w.write_all(data).map_err(io)?;
            w.finish().map_err(|e| corrupt(codec, e))
        }
        ZSTD => zstd::bulk::compress(data, 3).map_err(io),
        other => Err(corrupt(other, "unknown codec")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for codec in [NONE, GZIP, SNAPPY, LZ4, ZSTD] {
            for xerial in [false, true] {
                let packed = compress(codec, &data, xerial).unwrap();
                assert_eq!(decompress(codec, &packed).unwrap(), data, "codec {codec}");
            }
        }
        assert!(is_xerial(&compress(SNAPPY, b"x", true).unwrap()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for codec in [GZIP, SNAPPY, LZ4, ZSTD, 9] {
            assert!(decompress(codec, b"\x82SNAPPY\0garbage-garbage").is_err());
        }
    }
}
