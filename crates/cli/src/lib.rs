//! `strom topics …` and `strom groups …`: admin commands for people without Java, modelled
//! on `kafka-topics`, `kafka-configs` and `kafka-consumer-groups` (same verbs, flags and
//! output), talking the Kafka protocol to any broker, ours or Kafka.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod client;
mod groups;
mod topics;

pub use client::Client;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List, describe, create, delete and alter topics (like kafka-topics / kafka-configs).
    Topics {
        /// Broker to talk to, host:port.
        #[arg(long, short = 'b', default_value = "localhost:9092", global = true)]
        bootstrap_server: String,
        #[command(subcommand)]
        action: TopicsAction,
    },
    /// List, describe, delete consumer groups and reset their offsets (like kafka-consumer-groups).
    Groups {
        /// Broker to talk to, host:port.
        #[arg(long, short = 'b', default_value = "localhost:9092", global = true)]
        bootstrap_server: String,
        #[command(subcommand)]
        action: GroupsAction,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum TopicsAction {
    /// Topic names, one per line.
    List {
        /// Leave out internal topics such as __consumer_offsets.
        #[arg(long)]
        exclude_internal: bool,
    },
    /// Partitions, leaders, replicas and non-default configs of one topic or all.
    Describe {
        #[arg(long)]
        topic: Option<String>,
    },
    Create {
        #[arg(long)]
        topic: String,
        #[arg(long, default_value_t = -1)]
        partitions: i32,
        #[arg(long, default_value_t = -1)]
        replication_factor: i16,
        /// Topic config, key=value; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    Delete {
        #[arg(long)]
        topic: String,
    },
    /// Add partitions and set or delete topic configs.
    Alter {
        #[arg(long)]
        topic: String,
        /// The new (larger) partition count.
        #[arg(long)]
        partitions: Option<i32>,
        /// Set a topic config, key=value; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
        /// Return a topic config to its default; repeatable.
        #[arg(long = "delete-config", value_name = "KEY")]
        delete_configs: Vec<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum GroupsAction {
    /// Group ids, one per line.
    List,
    /// Committed offsets, log end offsets, lag and owners of each partition.
    Describe {
        #[arg(long)]
        group: String,
    },
    Delete {
        #[arg(long)]
        group: String,
    },
    /// Move a group's committed offsets (the group must have no active members). Prints
    /// the plan; commits it only with --execute.
    ResetOffsets {
        #[arg(long)]
        group: String,
        /// Topic, or topic:partition[,partition…]; repeatable. Default: every topic the
        /// group has committed offsets for.
        #[arg(long = "topic")]
        topics: Vec<String>,
        #[arg(long, group = "target")]
        to_earliest: bool,
        #[arg(long, group = "target")]
        to_latest: bool,
        #[arg(long, group = "target")]
        to_offset: Option<i64>,
        #[arg(long, group = "target", allow_hyphen_values = true)]
        shift_by: Option<i64>,
        /// Milliseconds since the epoch: the first offset at or after that time.
        #[arg(long, group = "target")]
        to_timestamp: Option<i64>,
        #[arg(long)]
        execute: bool,
    },
}

/// Runs one command; the text to print on success.
///
/// # Errors
/// A message naming what failed and, where there is one, the fix.
pub fn run(command: Command) -> Result<String, String> {
    match command {
        Command::Topics {
            bootstrap_server,
            action,
        } => topics::run(&mut Client::connect(&bootstrap_server)?, action),
        Command::Groups {
            bootstrap_server,
            action,
        } => groups::run(&bootstrap_server, action),
    }
}

/// `key=value` pairs from the command line.
fn key_values(items: &[String]) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("expected KEY=VALUE, got `{kv}`"))
        })
        .collect()
}
