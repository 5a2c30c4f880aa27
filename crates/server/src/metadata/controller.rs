//! The controller actor: takes [`Request`]s one at a time from a bounded mailbox, has
//! [`Controller`] decide each against the committed image, writes the decision's records to
//! the metadata log as one entry, waits until the broker publishes them, and replies.
//! One at a time is what keeps decisions from racing: each sees every earlier one applied.

use std::sync::Arc;

use strom_cluster::controller::{Controller, Reply, Request};
use strom_cluster::image::MetadataImage;
use strom_cluster::quorum::Quorum;
use strom_cluster::records::TopicId;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{Envelope, MetadataError};

/// Requests waiting for the controller at most; senders wait beyond that.
pub const CONTROLLER_MAILBOX_MAX: usize = 1024;

pub(super) async fn run(
    controller: Controller,
    quorum: Arc<Quorum>,
    mut mailbox: mpsc::Receiver<Envelope>,
    mut published: watch::Receiver<Arc<MetadataImage>>,
    shutdown: CancellationToken,
) {
    loop {
        let envelope = tokio::select! {
            () = shutdown.cancelled() => return,
            e = mailbox.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        let outcome = tokio::select! {
            () = shutdown.cancelled() => Err(MetadataError::Unavailable("the broker is shutting down".into())),
            outcome = handle(&controller, &quorum, &mut published, envelope.request) => outcome,
        };
        // The requester may have gone (its connection closed); the change stands.
        let _ = envelope.reply.send(outcome);
    }
}

async fn handle(
    controller: &Controller,
    quorum: &Quorum,
    published: &mut watch::Receiver<Arc<MetadataImage>>,
    request: Request,
) -> Result<Reply, MetadataError> {
    let image = quorum.image();
    let decision = controller.decide(&image, request, &mut || {
        TopicId(*uuid::Uuid::new_v4().as_bytes())
    });
    if decision.records.is_empty() {
        return Ok(decision.reply);
    }
    let offset = quorum
        .write(decision.records)
        .await
        .map_err(|e| MetadataError::Unavailable(e.to_string()))?;
    published
        .wait_for(|image| image.offset >= offset)
        .await
        .map_err(|_| MetadataError::Unavailable("the metadata publisher has stopped".into()))?;
    Ok(decision.reply)
}
