//! The records of the metadata log, after Kafka's metadata records (`TopicRecord`,
//! `PartitionRecord`, `PartitionChangeRecord`, `RemoveTopicRecord`, `ConfigRecord`,
//! `AccessControlEntryRecord`, `UserScramCredentialRecord`, `ProducerIdsRecord`,
//! `RegisterBrokerRecord`, `FeatureLevelRecord`). Every metadata change is a batch of them,
//! applied in order to the [`crate::image::MetadataImage`]; they are kept as JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A topic's 16-byte id, written in Kafka's text form (22 characters of URL-safe base64).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicId(pub [u8; 16]);

impl fmt::Display for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&strom_codec::uuid_text::base64_url(&self.0))
    }
}

impl fmt::Debug for TopicId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopicId({self})")
    }
}

impl Serialize for TopicId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for TopicId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        strom_codec::uuid_text::parse_uuid(&text)
            .map(TopicId)
            .ok_or_else(|| serde::de::Error::custom(format!("not a topic id: {text}")))
    }
}

/// One access-control entry on a resource pattern, in Kafka's codes (`ResourceType`,
/// `PatternType`, `AclOperation`, `AclPermissionType`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission_type: i8,
}

/// A SCRAM credential as AlterUserScramCredentials delivers it (salted by the client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub iterations: i32,
    /// Hex.
    pub salt: String,
    /// Hex.
    pub salted_password: String,
}

/// Where a broker can be reached (`RegisterBrokerRecord.EndPoints`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub name: String,
    pub host: String,
    pub port: i32,
    pub security_protocol: i16,
}

/// `ConfigResource.Type` codes Kafka's `ConfigRecord` uses.
pub const CONFIG_TOPIC: i8 = 2;
pub const CONFIG_BROKER: i8 = 4;
pub const CONFIG_GROUP: i8 = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetadataRecord {
    RegisterBroker {
        broker_id: i32,
        incarnation_id: String,
        endpoints: Vec<Endpoint>,
        rack: Option<String>,
        /// A fenced broker leads nothing and is in no ISR.
        fenced: bool,
    },
    /// A registered broker fenced (it stopped heartbeating or shuts down) or unfenced.
    BrokerRegistrationChange {
        broker_id: i32,
        fenced: bool,
    },
    FeatureLevel {
        name: String,
        level: i16,
    },
    Topic {
        name: String,
        topic_id: TopicId,
        /// Kafka's internal topics (`__consumer_offsets`, `__transaction_state`).
        internal: bool,
    },
    Partition {
        topic_id: TopicId,
        partition: i32,
        replicas: Vec<i32>,
        isr: Vec<i32>,
        leader: i32,
        leader_epoch: i32,
        partition_epoch: i32,
    },
    /// A change of a partition; the leader epoch moves when the leader does, the partition
    /// epoch with every change.
    PartitionChange {
        topic_id: TopicId,
        partition: i32,
        leader: Option<i32>,
        isr: Option<Vec<i32>>,
        replicas: Option<Vec<i32>>,
    },
    RemoveTopic {
        topic_id: TopicId,
    },
    /// One config key of a topic, a broker (`""`: the cluster default) or a group; `None`
    /// removes it.
    Config {
        resource_type: i8,
        resource_name: String,
        name: String,
        value: Option<String>,
    },
    Acl(AclBinding),
    RemoveAcl(AclBinding),
    UserScramCredential {
        user: String,
        mechanism: i8,
        credential: ScramCredential,
    },
    RemoveUserScramCredential {
        user: String,
        mechanism: i8,
    },
    /// Producer ids below `next_producer_id` are reserved.
    ProducerIds {
        next_producer_id: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_json_with_kafkas_topic_id_text() {
        let id = TopicId([1; 16]);
        let records = vec![
            MetadataRecord::Topic {
                name: "orders".into(),
                topic_id: id,
                internal: false,
            },
            MetadataRecord::Partition {
                topic_id: id,
                partition: 0,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            },
            MetadataRecord::Config {
                resource_type: CONFIG_TOPIC,
                resource_name: "orders".into(),
                name: "retention.ms".into(),
                value: None,
            },
        ];
        let json = serde_json::to_string(&records).unwrap();
        assert!(
            json.contains(r#""topic_id":"AQEBAQEBAQEBAQEBAQEBAQ""#),
            "{json}"
        );
        let back: Vec<MetadataRecord> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, records);
        assert!(serde_json::from_str::<TopicId>(r#""short""#).is_err());
    }
}
