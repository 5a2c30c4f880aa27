//! The broker's metadata: the metadata log (a single-voter Raft log of
//! [`strom_cluster::quorum`]), the controller that decides what goes into it, and the
//! publisher that makes the broker serve what it says.
//!
//! ```text
//!  handler ──Request──► controller actor ──records──► Quorum (Raft log, fsync) ──► image
//!     ▲                   (decide: sans-I/O                                          │
//!     └──── Reply ◄─────── strom_cluster)  ◄── published offset ── publisher ◄───────┘
//!                                                       (opens/deletes logs, configs)
//! ```
//!
//! Handlers read the *published* image: a topic is in it only once its logs are open.
//! Writes go to the controller actor as typed [`Request`]s and are answered once their
//! records are committed, applied and published.

mod controller;
mod publisher;
pub mod schema;
pub mod startup;

use std::sync::Arc;

use strom_cluster::controller::{ApiError, Reply, Request};
use strom_cluster::image::MetadataImage;
use strom_cluster::quorum::Quorum;
use strom_codec::ErrorCode;
use tokio::sync::{mpsc, oneshot, watch};

pub use controller::CONTROLLER_MAILBOX_MAX;

/// Why a metadata change did not happen (as opposed to a refusal, which is a [`Reply`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum MetadataError {
    #[error("the metadata log is not available: {0}")]
    Unavailable(String),
}

impl MetadataError {
    /// The answer a client gets for every item of its request.
    pub fn to_api_error(&self) -> ApiError {
        ApiError::new(ErrorCode::UnknownServerError, self.to_string())
    }
}

/// One request to the controller actor.
#[derive(Debug)]
struct Envelope {
    request: Request,
    reply: oneshot::Sender<Result<Reply, MetadataError>>,
}

/// The broker's handle on its metadata.
#[derive(Debug)]
pub struct Metadata {
    quorum: Arc<Quorum>,
    mailbox: mpsc::Sender<Envelope>,
    published: watch::Receiver<Arc<MetadataImage>>,
}

impl Metadata {
    /// The image the broker serves.
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.published.borrow())
    }

    /// Has the controller decide `request`; answers once its records are applied and the
    /// broker serves them.
    ///
    /// # Errors
    /// The controller stopped, or the metadata log failed.
    pub async fn submit(&self, request: Request) -> Result<Reply, MetadataError> {
        let (reply, answer) = oneshot::channel();
        self.mailbox
            .send(Envelope { request, reply })
            .await
            .map_err(|_| MetadataError::Unavailable("the controller has stopped".into()))?;
        answer
            .await
            .map_err(|_| MetadataError::Unavailable("the controller has stopped".into()))?
    }

    /// A block of producer ids for this broker: `(first, count)`.
    ///
    /// # Errors
    /// The controller refused or is unavailable.
    pub async fn allocate_producer_ids(
        &self,
        broker_id: i32,
        count: i64,
    ) -> Result<(i64, i64), String> {
        match self
            .submit(Request::AllocateProducerIds { broker_id, count })
            .await
        {
            Ok(Reply::AllocateProducerIds(Ok(block))) => Ok(block),
            Ok(Reply::AllocateProducerIds(Err(e))) => Err(e.to_string()),
            Ok(other) => Err(format!("unexpected controller reply {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Stops the metadata log.
    pub async fn shutdown(&self) {
        self.quorum.shutdown().await;
    }
}

/// The running metadata: the handle, and the tasks of the controller and the publisher.
#[derive(Debug)]
pub struct Started {
    pub metadata: Arc<Metadata>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Serves what `quorum` holds: reconciles `topics` to its image (before returning, so that
/// the broker starts with every topic open), then starts the publisher and the controller
/// actor.
pub async fn start(
    quorum: Arc<Quorum>,
    controller: strom_cluster::controller::Controller,
    topics: Arc<crate::topics::Topics>,
    shutdown: tokio_util::sync::CancellationToken,
) -> Started {
    let applied = quorum.subscribe();
    let image = Arc::clone(&applied.borrow());
    publisher::reconcile(&topics, &image).await;
    let (publish, published) = watch::channel(image);
    let (mailbox, inbox) = mpsc::channel(CONTROLLER_MAILBOX_MAX);
    let tasks = vec![
        tokio::spawn(publisher::run(topics, applied, publish, shutdown.clone())),
        tokio::spawn(controller::run(
            controller,
            Arc::clone(&quorum),
            inbox,
            published.clone(),
            shutdown,
        )),
    ];
    Started {
        metadata: Arc::new(Metadata {
            quorum,
            mailbox,
            published,
        }),
        tasks,
    }
}
