//! The metadata publisher (Kafka's `MetadataPublisher`s in one): follows the image the
//! metadata log applies, has [`Topics::reconcile`] bring the served topics to it on the
//! blocking pool, then publishes it to handlers. Images that arrive while one is being
//! reconciled are skipped for the newest.

use std::sync::Arc;

use strom_cluster::image::MetadataImage;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::topics::Topics;

/// Reconciles the broker to `image` (blocking pool); a failure is logged and retried with
/// the next image.
pub(super) async fn reconcile(topics: &Arc<Topics>, image: &Arc<MetadataImage>) {
    let (t, i) = (Arc::clone(topics), Arc::clone(image));
    match tokio::task::spawn_blocking(move || t.reconcile(&i)).await {
        Ok(Ok(done)) => {
            if !done.created.is_empty() || !done.deleted.is_empty() {
                tracing::debug!(offset = image.offset, created = ?done.created, deleted = ?done.deleted, "metadata published");
            }
        }
        Ok(Err(e)) => {
            tracing::error!(offset = image.offset, error = %e, "cannot serve what the metadata says; retried with the next change")
        }
        Err(e) => tracing::error!(error = %e, "metadata reconciliation panicked"),
    }
}

pub(super) async fn run(
    topics: Arc<Topics>,
    mut applied: watch::Receiver<Arc<MetadataImage>>,
    published: watch::Sender<Arc<MetadataImage>>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = applied.changed() => if changed.is_err() { return },
        }
        let image = Arc::clone(&applied.borrow_and_update());
        if image.offset <= published.borrow().offset {
            continue;
        }
        reconcile(&topics, &image).await;
        published.send_replace(image);
    }
}
