//! Named limits of the wire layer. Config may lower them, never remove them.

/// Largest request, length prefix excluded: Kafka's default `socket.request.max.bytes`
/// (100 MiB), so clients tuned for Kafka fit. Checked before allocating: nobody makes us
/// reserve bytes they have not sent.
pub const FRAME_BYTES_MAX: u32 = 100 * 1024 * 1024;

/// Smallest possible request: api_key (2) + api_version (2) + correlation_id (4) +
/// client_id length (2).
pub const FRAME_BYTES_MIN: u32 = 10;

const _: () = assert!(FRAME_BYTES_MIN < FRAME_BYTES_MAX);
