//! Kafka frames: a 4-byte big-endian length followed by that many bytes.
//!
//! The length is checked against the configured maximum BEFORE any buffer is reserved for
//! the body, so a client claiming 2 GiB gets its connection closed, not our memory.

use crate::limits::{FRAME_BYTES_MAX, FRAME_BYTES_MIN};
use crate::Error;

/// Size of the length prefix.
pub const PREFIX_BYTES: usize = 4;

/// Validates a frame's length prefix against `limit` (itself capped at [`FRAME_BYTES_MAX`]).
///
/// # Errors
/// A negative length, one below [`FRAME_BYTES_MIN`] or one above the limit.
pub fn frame_bytes(prefix: [u8; 4], limit: u32) -> Result<u32, Error> {
    let declared = i32::from_be_bytes(prefix);
    let bytes = u32::try_from(declared).map_err(|_| Error::NegativeFrameLength(declared))?;
    let limit = limit.min(FRAME_BYTES_MAX);
    if bytes > limit {
        return Err(Error::FrameTooLarge { bytes, limit });
    }
    if bytes < FRAME_BYTES_MIN {
        return Err(Error::FrameTooSmall { bytes });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_length_is_rejected() {
        assert!(matches!(
            frame_bytes((-1i32).to_be_bytes(), FRAME_BYTES_MAX),
            Err(Error::NegativeFrameLength(-1))
        ));
        assert!(matches!(
            frame_bytes(i32::MIN.to_be_bytes(), FRAME_BYTES_MAX),
            Err(Error::NegativeFrameLength(_))
        ));
    }

    #[test]
    fn length_at_limit_is_accepted_and_one_past_rejected() {
        assert_eq!(frame_bytes(1000u32.to_be_bytes(), 1000).ok(), Some(1000));
        assert!(matches!(
            frame_bytes(1001u32.to_be_bytes(), 1000),
            Err(Error::FrameTooLarge {
                bytes: 1001,
                limit: 1000
            })
        ));
    }

    #[test]
    fn two_gib_is_rejected_before_allocation() {
        assert!(matches!(
            frame_bytes(i32::MAX.to_be_bytes(), u32::MAX),
            Err(Error::FrameTooLarge {
                limit: FRAME_BYTES_MAX,
                ..
            })
        ));
    }

    #[test]
    fn tiny_frames_are_rejected() {
        assert!(matches!(
            frame_bytes(0u32.to_be_bytes(), 100),
            Err(Error::FrameTooSmall { .. })
        ));
        assert!(matches!(
            frame_bytes(9u32.to_be_bytes(), 100),
            Err(Error::FrameTooSmall { .. })
        ));
        assert_eq!(frame_bytes(10u32.to_be_bytes(), 100).ok(), Some(10));
    }
}
