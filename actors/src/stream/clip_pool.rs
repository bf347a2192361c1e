//! The bounded pool clips are cut on: a fixed number of worker threads, and at most `capacity`
//! clips admitted at once (waiting for their audio to be segmented, queued, or being cut). A full
//! pool refuses at once (the HTTP layer answers 503 with `Retry-After`) instead of starting one
//! thread per request. Dropping the last handle stops the workers and the expiry sweeper.

use super::clip::{self, Pending};
use super::hls::Segment;
use super::ladder::Codec;
use slog::{info, warn, Logger};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One cut: the segments that hold `pending`'s range, in `dir`.
pub struct ClipJob {
    pub dir: PathBuf,
    pub codec: Codec,
    pub segments: Vec<Segment>,
    pub pending: Pending,
}

/// A place in the pool; dropping it (the cut done, or the clip abandoned) frees it.
pub struct ClipSlot {
    admitted: Arc<AtomicUsize>,
}

impl Drop for ClipSlot {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Inner {
    jobs: Sender<ClipJob>,
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    /// Never sent on: its drop tells the sweeper to stop.
    _stop: Sender<()>,
}

/// A handle on the pool; clones share it.
#[derive(Clone)]
pub struct ClipPool {
    inner: Arc<Inner>,
}

/// Where clips live and how long they are kept.
pub struct ClipExpiry {
    pub root: PathBuf,
    pub max_age: Duration,
}

impl ClipPool {
    /// Starts `workers` cutting threads (at least one) and the sweeper that deletes clips older
    /// than `expiry.max_age`.
    pub fn start(workers: usize, capacity: usize, expiry: ClipExpiry, log: Logger) -> Self {
        let (jobs, queue) = mpsc::channel::<ClipJob>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers.max(1) {
            let queue = Arc::clone(&queue);
            let worker_log = log.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("clip-{n}"))
                .spawn(move || work(&queue, &worker_log));
            if let Err(e) = spawned {
                warn!(log, "could not start a clip worker"; "error" => e.to_string());
            }
        }
        let (stop, stopped) = mpsc::channel();
        super::clip_expiry::spawn_sweeper(expiry, stopped, log);
        Self {
            inner: Arc::new(Inner {
                jobs,
                admitted: Arc::new(AtomicUsize::new(0)),
                capacity: capacity.max(1),
                _stop: stop,
            }),
        }
    }

    /// A place for one more clip, or `None` when the pool is full.
    pub fn admit(&self) -> Option<ClipSlot> {
        let admitted = &self.inner.admitted;
        admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.inner.capacity).then_some(n + 1)
            })
            .ok()
            .map(|_| ClipSlot {
                admitted: Arc::clone(admitted),
            })
    }

    /// Queues a cut; a worker runs it and frees the clip's slot when it is done.
    pub fn submit(&self, job: ClipJob) {
        // The workers only stop once every handle (this one included) is gone.
        let _workers_live_while_handles_do = self.inner.jobs.send(job);
    }
}

fn work(queue: &Mutex<Receiver<ClipJob>>, log: &Logger) {
    loop {
        let next = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        // The job holds the clip's slot: it is freed when the cut is done.
        cut_one(job, log);
    }
}

fn cut_one(job: ClipJob, log: &Logger) {
    let ClipJob {
        dir,
        codec,
        segments,
        pending,
    } = job;
    let Pending {
        start,
        end,
        dest,
        slot,
        ..
    } = pending;
    let dest = &dest;
    let result = clip::cut(&dir, codec, &segments, start, end, dest);
    // The place is free before the clip shows as done, so whoever sees it done can ask again.
    drop(slot);
    match result {
        Ok(seconds) => {
            info!(log, "clip ready"; "file" => dest.display().to_string(), "seconds" => seconds)
        }
        Err(e) => {
            warn!(log, "clip failed"; "file" => dest.display().to_string(), "error" => e.to_string());
            let _gone_is_fine = std::fs::remove_file(dest.with_extension("tmp"));
        }
    }
    let _gone_is_fine = std::fs::remove_file(clip::pending_marker(dest));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_admits_no_more_until_a_slot_is_freed() {
        let root = std::env::temp_dir().join(format!("veza-clip-pool-{}", std::process::id()));
        let expiry = ClipExpiry {
            root,
            max_age: Duration::from_secs(3600),
        };
        let pool = ClipPool::start(1, 2, expiry, Logger::root(slog::Discard, slog::o!()));
        let a = pool.admit().expect("first place");
        let _b = pool.admit().expect("second place");
        assert!(pool.admit().is_none(), "the pool holds two");
        drop(a);
        assert!(pool.admit().is_some(), "a freed place is given again");
    }
}
