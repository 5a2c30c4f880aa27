//! Opening a data directory's metadata: `meta.properties` (the cluster id, checked against
//! this node's id), the metadata log, and on first start its bootstrap, which moves in what
//! an earlier Strom kept in `__strom_metadata.log`. Then this broker registers.

use std::sync::Arc;
use std::time::Duration;

use strom_cluster::controller::{Controller, Request};
use strom_cluster::legacy::{self, TxnRecord};
use strom_cluster::quorum::{Quorum, QuorumConfig};
use strom_cluster::records::{Endpoint, MetadataRecord, TopicId};
use strom_codec::uuid_text::base64_url;
use strom_storage::meta_properties::{self, MetaProperties};

use crate::clock::Clock;
use crate::config::Config;

/// The feature whose presence says the metadata log was bootstrapped, and its level (the
/// version of the records' format).
pub const METADATA_VERSION_FEATURE: &str = "strom.metadata.version";
pub const METADATA_VERSION: i16 = 1;
/// A snapshot of the metadata is taken after this many entries since the last one.
pub const SNAPSHOT_INTERVAL_ENTRIES: u64 = 1000;
/// How long opening the metadata log may take before start-up fails.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Kafka's `SecurityProtocol.PLAINTEXT` id.
const PLAINTEXT: i16 = 0;

/// An opened metadata log, with what start-up needs besides.
#[derive(Debug)]
pub struct Opened {
    pub quorum: Arc<Quorum>,
    pub cluster_id: String,
    /// Transactions an earlier Strom kept in its metadata file, for `__transaction_state`.
    pub legacy_transactions: Vec<TxnRecord>,
    /// Whether such a file was found (it is renamed once everything is moved).
    pub legacy_found: bool,
}

fn random_id() -> String {
    base64_url(uuid::Uuid::new_v4().as_bytes())
}

/// Reads (or on first start writes) `meta.properties`; returns the cluster id.
fn cluster_id(
    config: &Config,
    legacy_cluster_id: Option<String>,
    wall_ms: i64,
    durable: bool,
) -> Result<String, String> {
    let dir = &config.data_dir;
    match meta_properties::read(dir).map_err(|e| e.to_string())? {
        Some(props) => {
            if props.node_id != config.node_id {
                return Err(format!(
                    "{}/meta.properties belongs to node.id={}, but this broker is node.id={}",
                    dir.display(),
                    props.node_id,
                    config.node_id
                ));
            }
            Ok(props.cluster_id)
        }
        None => {
            let props = MetaProperties {
                cluster_id: legacy_cluster_id.unwrap_or_else(random_id),
                node_id: config.node_id,
                directory_id: random_id(),
            };
            meta_properties::write(
                dir,
                &props,
                &format!("written by strom at {wall_ms} ms since the epoch"),
                durable,
            )
            .map_err(|e| e.to_string())?;
            tracing::info!(cluster_id = %props.cluster_id, "formatted the data directory");
            Ok(props.cluster_id)
        }
    }
}

/// Opens the metadata of `config.data_dir`: bootstraps it on first start (with the content
/// of an earlier Strom's metadata file, if any) and registers this broker at `endpoint`.
///
/// # Errors
/// A file cannot be read or written, the directory belongs to another node, or the
/// metadata log did not start.
pub async fn open(
    config: &Config,
    controller: &Controller,
    clock: &Clock,
    durable: bool,
    endpoint: (String, i32),
) -> Result<Opened, String> {
    let node_id = u64::try_from(config.node_id)
        .map_err(|_| format!("node.id must not be negative, got {}", config.node_id))?;
    let (legacy, cluster_id) = {
        let (config, wall_ms) = (config.clone(), clock.wall_ms());
        tokio::task::spawn_blocking(move || {
            let legacy = legacy::read(&config.data_dir)
                .map_err(|e| format!("{}: {e}", legacy::path(&config.data_dir).display()))?;
            let id = cluster_id(
                &config,
                legacy.as_ref().and_then(|l| l.cluster_id.clone()),
                wall_ms,
                durable,
            )?;
            Ok::<_, String>((legacy, id))
        })
        .await
        .map_err(|e| e.to_string())??
    };
    let wall = clock.clone();
    let quorum = Quorum::open(QuorumConfig {
        node_id,
        data_dir: config.data_dir.clone(),
        durable,
        snapshot_interval_entries: SNAPSHOT_INTERVAL_ENTRIES,
        start_timeout: START_TIMEOUT,
        wall_clock: Arc::new(move || wall.wall_ms()),
    })
    .await
    .map_err(|e| e.to_string())?;
    if !quorum
        .image()
        .features
        .contains_key(METADATA_VERSION_FEATURE)
    {
        let mut records = legacy
            .as_ref()
            .map(|l| l.to_records(config.node_id))
            .unwrap_or_default();
        let moved = records.len();
        records.push(MetadataRecord::FeatureLevel {
            name: METADATA_VERSION_FEATURE.into(),
            level: METADATA_VERSION,
        });
        quorum.write(records).await.map_err(|e| e.to_string())?;
        if legacy.is_some() {
            tracing::info!(
                records = moved,
                "moved the metadata of {} into the metadata log",
                legacy::LEGACY_FILE
            );
        }
    }
    // Features a new cluster (or one from before the feature existed) starts with, as
    // Kafka finalizes its defaults when formatting (group.version=1).
    let defaults = strom_cluster::controller::features::default_levels(&quorum.image());
    if !defaults.is_empty() {
        quorum.write(defaults).await.map_err(|e| e.to_string())?;
    }
    let registration = controller.decide(
        &quorum.image(),
        Request::RegisterBroker {
            broker_id: config.node_id,
            incarnation_id: random_id(),
            endpoints: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host: endpoint.0,
                port: endpoint.1,
                security_protocol: PLAINTEXT,
            }],
            rack: None,
        },
        &mut || TopicId(*uuid::Uuid::new_v4().as_bytes()),
    );
    quorum
        .write(registration.records)
        .await
        .map_err(|e| e.to_string())?;
    let legacy_found = legacy.is_some();
    Ok(Opened {
        quorum: Arc::new(quorum),
        cluster_id,
        legacy_transactions: legacy
            .map(|l| l.transactions.into_values().collect())
            .unwrap_or_default(),
        legacy_found,
    })
}
