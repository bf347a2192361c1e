//! A live source stays on air only while it could still connect: every `ingest_recheck_ms` its
//! stream key and its owner are checked again in the store (which every node shares), so a
//! rotated key, a disabled owner, a role without `streams.broadcast` or a deleted stream ends the
//! broadcast within that time, whichever node the source is on.

use super::{check_stream_key, IngestError};
use crate::state::AppState;
use std::time::Duration;
use tokio::sync::watch;

/// Rechecks `key` on `mount` until the returned receiver is dropped; it then holds why the source
/// must go.
pub fn spawn(state: &AppState, mount: &str, key: String) -> watch::Receiver<Option<String>> {
    let (tx, rx) = watch::channel(None);
    let state = state.clone();
    let mount = mount.to_owned();
    let every = Duration::from_millis(state.config.ingest_recheck_ms);
    actix_web::rt::spawn(async move {
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let why = match check_stream_key(&state, &mount, Some(key.clone())).await {
                Ok(_) => continue,
                // The store is down: the source keeps going; the next check decides.
                Err(IngestError::Store(_) | IngestError::Internal(_)) => continue,
                Err(IngestError::Unauthorized) => "the stream key was rotated",
                Err(IngestError::UnknownMount) => "the stream was deleted",
                Err(_) => "the stream's owner may no longer broadcast",
            };
            let _source_gone_is_fine = tx.send(Some(why.to_owned()));
            return;
        }
    });
    rx
}
