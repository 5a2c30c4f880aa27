//! Errors of the wire layer. A frame that yields one of these cannot be trusted: the server
//! logs it and closes the connection (except for the cases it can still answer, see
//! [`crate::request::DecodeError`]).

/// What went wrong reading a frame or its header.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("frame length {0} is negative")]
    NegativeFrameLength(i32),
    #[error(
        "frame of {bytes} bytes exceeds the limit of {limit} bytes (socket.request.max.bytes)"
    )]
    FrameTooLarge { bytes: u32, limit: u32 },
    #[error("frame of {bytes} bytes is shorter than any request header")]
    FrameTooSmall { bytes: u32 },
    #[error("request header cannot be decoded: {0}")]
    Header(String),
    #[error("response cannot be encoded: {0}")]
    Encode(String),
}
