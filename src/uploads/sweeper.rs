//! Deletes uploads whose time is up (a deleted message's grace period over, or a draft no message
//! took): one thread per node. Several nodes may sweep one store: deleting the row is the claim,
//! so only the node whose DELETE removed it deletes the files. A node that dies between the two
//! leaves the files behind (they are no longer reachable; see docs/operations.md).

use super::storage::{BlobKey, BlobStore};
use crate::db::{uploads, DbPool};
use slog::{debug, warn, Logger};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::Duration;
use veza_actors::ids::now_ms;

/// Rows looked at per query.
const BATCH: i64 = 100;
/// Sweeps at most this often, and at least this often.
const MIN_EVERY: Duration = Duration::from_millis(200);
const MAX_EVERY: Duration = Duration::from_secs(60);

/// Keeps the sweeper thread alive: it ends when the last clone is dropped.
#[derive(Clone)]
pub struct Running {
    _stop: Arc<SyncSender<()>>,
}

/// How often to sweep for a grace period: a quarter of it, between 200 ms and a minute, so a
/// small grace (tests) is honoured closely and a large one costs one query a minute.
pub fn period(grace: Duration) -> Duration {
    (grace / 4).clamp(MIN_EVERY, MAX_EVERY)
}

/// Sweeps this node's uploads (`origin`: see `Uploads::origin`) every [`period`].
pub fn start(
    pool: DbPool,
    store: Arc<dyn BlobStore>,
    grace: Duration,
    origin: Option<String>,
    log: Logger,
) -> Running {
    let (stop, stopped) = mpsc::sync_channel::<()>(1);
    let every = period(grace);
    let thread_log = log.clone();
    let spawned = std::thread::Builder::new()
        .name("upload-sweeper".into())
        .spawn(move || loop {
            match stopped.recv_timeout(every) {
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = sweep(&pool, store.as_ref(), origin.as_deref(), &thread_log) {
                        warn!(thread_log, "upload sweep failed"; "error" => e.to_string());
                    }
                }
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        });
    if let Err(e) = spawned {
        warn!(log, "cannot start the upload sweeper"; "error" => e.to_string());
    }
    Running {
        _stop: Arc::new(stop),
    }
}

/// One sweep: claims and deletes everything due now; how many uploads this node deleted.
pub fn sweep(
    pool: &DbPool,
    store: &dyn BlobStore,
    origin: Option<&str>,
    log: &Logger,
) -> Result<usize, super::UploadError> {
    let mut deleted = 0;
    loop {
        let now = now_ms() as i64;
        let mut conn = pool.get()?;
        let due = uploads::due(&mut conn, now, BATCH, origin)?;
        let full = due.len() as i64 == BATCH;
        for (id, key, thumb) in due {
            if !uploads::claim(&mut conn, id, now)? {
                continue; // another node took it
            }
            for key in std::iter::once(key).chain(thumb) {
                match BlobKey::stored(&key) {
                    Some(k) => {
                        if let Err(e) = store.delete(&k) {
                            warn!(log, "cannot delete an upload's file"; "upload" => id.0, "error" => e.to_string());
                        }
                    }
                    None => warn!(log, "upload row with a malformed key"; "upload" => id.0),
                }
            }
            deleted += 1;
        }
        if !full {
            break;
        }
    }
    if deleted > 0 {
        debug!(log, "uploads swept"; "deleted" => deleted);
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_follows_the_grace_within_bounds() {
        assert_eq!(period(Duration::ZERO), MIN_EVERY);
        assert_eq!(period(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(period(Duration::from_secs(3600)), MAX_EVERY);
    }
}
