//! A bound on password hashing. Each argon2id hash or verification takes 19 MiB and a core for
//! tens of milliseconds on the blocking pool; without a bound a burst of logins and registrations
//! takes gigabytes. At most `concurrency` run at once (a semaphore, one slot per core by default),
//! at most `queue` requests wait for a slot, and the rest are refused at once ([`Overloaded`],
//! 503 with `Retry-After`), before they cost anything.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Every hashing slot is taken and the wait queue is full.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("the server is busy checking passwords; retry shortly")]
pub struct Overloaded;

pub struct HashGate {
    slots: Arc<Semaphore>,
    /// Requests waiting for a slot now.
    waiting: AtomicUsize,
    queue: usize,
}

/// A hashing slot, held while the request's password work runs.
pub struct HashPermit(#[allow(dead_code)] OwnedSemaphorePermit);

/// Takes a queue place back when the wait ends (a slot came, or the request was dropped).
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl HashGate {
    /// `concurrency` 0: one slot per CPU core.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let slots = if concurrency == 0 { cores } else { concurrency };
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            queue,
        }
    }

    /// A slot now, or after waiting in the queue; [`Overloaded`] when the queue is full.
    pub async fn enter(&self) -> Result<HashPermit, Overloaded> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(HashPermit(permit));
        }
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _place = QueuePlace(&self.waiting);
        if before >= self.queue {
            return Err(Overloaded);
        }
        let permit = self.slots.clone().acquire_owned().await;
        permit.map(HashPermit).map_err(|_| Overloaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn a_full_queue_is_refused_and_places_come_back() {
        let gate = Arc::new(HashGate::new(1, 1));
        let first = gate.enter().await.expect("a free slot");
        let waiter = {
            let gate = gate.clone();
            actix_web::rt::spawn(async move { gate.enter().await.map(|_| ()) })
        };
        // Polls until the waiter has taken the one queue place.
        while gate.waiting.load(Ordering::Acquire) == 0 {
            actix_web::rt::task::yield_now().await;
        }
        assert!(matches!(gate.enter().await, Err(Overloaded)), "queue full");
        drop(first);
        assert_eq!(waiter.await.expect("task"), Ok(()));
        assert_eq!(gate.waiting.load(Ordering::Acquire), 0);
        assert!(gate.enter().await.is_ok(), "free again");
    }
}
