//! Strings between kafka-protocol's types and ours.

use strom_codec::kafka_protocol::messages::TopicName;
use strom_codec::kafka_protocol::protocol::StrBytes;

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub(crate) fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(str_bytes(s))
}

pub(crate) fn owned(s: &StrBytes) -> String {
    s.as_str().to_string()
}

pub(crate) fn opt_string(s: Option<&StrBytes>) -> Option<String> {
    s.map(|s| s.as_str().to_string())
}
