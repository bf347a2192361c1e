//! Clips expire: a sweeper thread deletes clip files (and stale `.pending`/`.tmp` files) older than
//! the configured age under `data_dir/clips/{stream}/`, and the stream directories left empty.

use super::clip_pool::ClipExpiry;
use slog::{info, warn, Logger};
use std::io;
use std::path::Path;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, SystemTime};

/// Deletes the files under `root/*/` last written before `now - max_age`; returns how many.
pub fn sweep(root: &Path, max_age: Duration, now: SystemTime) -> io::Result<usize> {
    let Some(cutoff) = now.checked_sub(max_age) else {
        return Ok(0);
    };
    let streams = match std::fs::read_dir(root) {
        Ok(dirs) => dirs,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut deleted = 0;
    for stream in streams.flatten() {
        let dir = stream.path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir)?.flatten() {
            let old = file
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|written| written < cutoff);
            if old && std::fs::remove_file(file.path()).is_ok() {
                deleted += 1;
            }
        }
        // Only succeeds when nothing is left in it.
        let _kept_while_not_empty = std::fs::remove_dir(&dir);
    }
    Ok(deleted)
}

/// How often to sweep: a quarter of the age, between 1 s and a minute.
fn period(max_age: Duration) -> Duration {
    (max_age / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Sweeps `expiry.root` until `stop`'s sender is dropped.
pub fn spawn_sweeper(expiry: ClipExpiry, stop: Receiver<()>, log: Logger) {
    let thread_log = log.clone();
    let spawned = std::thread::Builder::new()
        .name("clip-expiry".into())
        .spawn(move || loop {
            match stop.recv_timeout(period(expiry.max_age)) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            match sweep(&expiry.root, expiry.max_age, SystemTime::now()) {
                Ok(0) => {}
                Ok(n) => info!(thread_log, "expired clips deleted"; "files" => n),
                Err(e) => warn!(thread_log, "clip expiry sweep failed"; "error" => e.to_string()),
            }
        });
    if let Err(e) = spawned {
        warn!(log, "could not start the clip expiry sweeper"; "error" => e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_older_than_the_age_go_and_newer_ones_stay() {
        let root = std::env::temp_dir().join(format!("veza-clip-expiry-{}", std::process::id()));
        let dir = root.join("42");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.mp3"), b"clip").unwrap();
        std::fs::write(dir.join("b.pending"), b"").unwrap();
        let an_hour_on = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(
            sweep(&root, Duration::from_secs(7200), an_hour_on).unwrap(),
            0
        );
        assert!(dir.join("a.mp3").exists());
        assert_eq!(
            sweep(&root, Duration::from_secs(60), an_hour_on).unwrap(),
            2
        );
        assert!(!dir.exists(), "the emptied stream directory goes too");
        assert_eq!(
            sweep(&root.join("none"), Duration::ZERO, an_hour_on).unwrap(),
            0
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_sweep_period_follows_the_age_within_bounds() {
        assert_eq!(period(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(period(Duration::from_secs(120)), Duration::from_secs(30));
        assert_eq!(
            period(Duration::from_secs(604_800)),
            Duration::from_secs(60)
        );
    }
}
