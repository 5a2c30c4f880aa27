//! `meta.properties` in a log directory (Kafka's `MetaProperties`, version 1 for KRaft): which
//! cluster and node the directory belongs to, and the directory's own id. A broker refuses a
//! directory of another cluster or node, as Kafka does ("Invalid cluster.id in ...").
//!
//! Format: Java properties as `Properties.store` writes them, a comment line, a date comment,
//! then `key=value` lines; read back by splitting each non-comment line at its first `=`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::checkpoint::write_file;
use crate::Error;

pub const META_PROPERTIES_FILE: &str = "meta.properties";
/// Kafka's `MetaPropertiesVersion.V1`: KRaft, with `node.id` and `cluster.id` required.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    pub node_id: i32,
    /// This directory's id: 16 bytes in Kafka's text form (22 characters).
    pub directory_id: String,
}

fn malformed(dir: &Path, reason: impl Into<String>) -> Error {
    Error::CorruptCheckpoint {
        path: dir.join(META_PROPERTIES_FILE),
        reason: reason.into(),
    }
}

/// The `meta.properties` of `dir`; `None` when the directory has none yet.
///
/// # Errors
/// The file cannot be read, or lacks a version 1 `cluster.id` and `node.id`.
pub fn read(dir: &Path) -> Result<Option<MetaProperties>, Error> {
    let path = dir.join(META_PROPERTIES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Io { path, source }),
    };
    let mut values = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            values.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    let version: u32 = values
        .get("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed(dir, "no version"))?;
    if version != VERSION {
        return Err(malformed(
            dir,
            format!("version {version}: only version {VERSION} (KRaft) is known"),
        ));
    }
    let cluster_id = values
        .get("cluster.id")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| malformed(dir, "no cluster.id"))?
        .clone();
    let node_id = values
        .get("node.id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| malformed(dir, "no node.id"))?;
    Ok(Some(MetaProperties {
        cluster_id,
        node_id,
        directory_id: values.get("directory.id").cloned().unwrap_or_default(),
    }))
}

/// Writes `props` as `dir`'s `meta.properties` (durably, unless the directory is a
/// throw-away one).
///
/// # Errors
/// The file cannot be written.
pub fn write(
    dir: &Path,
    props: &MetaProperties,
    written_at: &str,
    durable: bool,
) -> Result<(), Error> {
    let mut text = format!("#\n#{written_at}\ncluster.id={}\n", props.cluster_id);
    if !props.directory_id.is_empty() {
        text.push_str(&format!("directory.id={}\n", props.directory_id));
    }
    text.push_str(&format!("node.id={}\nversion={VERSION}\n", props.node_id));
    write_file(&dir.join(META_PROPERTIES_FILE), text.as_bytes(), durable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_kafkas_own_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let props = MetaProperties {
            cluster_id: "MkU3OEVBNTcwNTJENDM2Qg".into(),
            node_id: 1,
            directory_id: "J8aAPcfLQt2bqs1JT_rMgQ".into(),
        };
        write(dir.path(), &props, "Mon Dec 07 07:00:00 UTC 2026", true).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(props.clone()));
        // As `kafka-storage format` writes it.
        std::fs::write(
            dir.path().join(META_PROPERTIES_FILE),
            "#\n#Fri Oct 25 03:33:01 UTC 2024\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\ndirectory.id=J8aAPcfLQt2bqs1JT_rMgQ\nnode.id=1\nversion=1\n",
        )
        .unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(props));
    }

    #[test]
    fn other_versions_and_missing_ids_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in [
            "version=0\nbroker.id=1\n",
            "version=1\nnode.id=1\n",
            "version=1\ncluster.id=x\n",
            "cluster.id=x\nnode.id=1\n",
        ] {
            std::fs::write(dir.path().join(META_PROPERTIES_FILE), bad).unwrap();
            assert!(read(dir.path()).is_err(), "{bad:?}");
        }
    }
}
