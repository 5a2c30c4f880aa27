//! A lazily started background thread fed by a bounded queue, for storage work that must
//! not run on a request's thread ([`crate::reaper`], [`crate::flusher`]). When the thread
//! cannot start or its queue is full, the caller does the work itself: back-pressure
//! instead of an unbounded backlog.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

pub(crate) struct Worker<T> {
    name: &'static str,
    capacity: usize,
    perform: fn(T),
    /// Logged when the thread cannot start: what happens instead.
    inline_note: &'static str,
    sender: OnceLock<Option<SyncSender<T>>>,
}

impl<T: Send + 'static> Worker<T> {
    pub(crate) const fn new(
        name: &'static str,
        capacity: usize,
        perform: fn(T),
        inline_note: &'static str,
    ) -> Self {
        Self {
            name,
            capacity,
            perform,
            inline_note,
            sender: OnceLock::new(),
        }
    }

    fn sender(&self) -> Option<&SyncSender<T>> {
        self.sender
            .get_or_init(|| {
                let (tx, rx) = sync_channel::<T>(self.capacity);
                let perform = self.perform;
                let spawned = std::thread::Builder::new()
                    .name(self.name.into())
                    .spawn(move || {
                        while let Ok(work) = rx.recv() {
                            perform(work);
                        }
                    });
                match spawned {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        tracing::warn!(thread = self.name, error = %e, "cannot start a storage thread; {}", self.inline_note);
                        None
                    }
                }
            })
            .as_ref()
    }

    /// Queues `work`; does it here when the thread is missing or its queue full.
    pub(crate) fn submit(&self, work: T) {
        let Some(tx) = self.sender() else {
            return (self.perform)(work);
        };
        if let Err(TrySendError::Full(work) | TrySendError::Disconnected(work)) = tx.try_send(work)
        {
            (self.perform)(work);
        }
    }
}
