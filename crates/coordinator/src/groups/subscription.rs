//! What a consumer group's members subscribe to, read from their protocol metadata
//! (Kafka's `ConsumerProtocolSubscription`).

use bytes::{Buf, Bytes};

/// Whether a consumer-protocol subscription (`ConsumerProtocolSubscription`: version i16,
/// then an array of topic names) names `topic`. Undecodable metadata counts as subscribed,
/// so offsets are never deleted from under a member we cannot read.
pub fn subscribes_to(metadata: &Bytes, topic: &str) -> bool {
    let mut b = metadata.clone();
    if b.remaining() < 6 {
        return true;
    }
    let _version = b.get_i16();
    let count = b.get_i32();
    for _ in 0..count.max(0) {
        if b.remaining() < 2 {
            return true;
        }
        let len = usize::try_from(b.get_i16()).unwrap_or(0);
        if b.remaining() < len {
            return true;
        }
        let name = b.split_to(len);
        if &name[..] == topic.as_bytes() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_topics_are_read() {
        let mut m = vec![0, 1, 0, 0, 0, 2];
        for t in ["orders", "pay"] {
            m.extend_from_slice(&i16::try_from(t.len()).unwrap_or(0).to_be_bytes());
            m.extend_from_slice(t.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 0, 0]); // user data
        let m = Bytes::from(m);
        assert!(subscribes_to(&m, "pay"));
        assert!(!subscribes_to(&m, "other"));
        assert!(
            subscribes_to(&Bytes::from_static(&[0]), "x"),
            "unreadable counts as subscribed"
        );
    }
}
