//! The track library: audio files (MP3, FLAC, Ogg Vorbis, Ogg Opus, WAV) a user uploads for
//! AutoDJ. The bytes go to a blob store of their own (local disk under `data_dir/tracks/`, the
//! same [`BlobStore`] as attachments, streamed in by the same receiver); [`analyse`] decodes the
//! file once for its duration and EBU R128 loudness and reads its tags and front cover; the row
//! (`db::tracks`) is recorded under the owner's quota. Lyrics in LRC are stored as sent and
//! parsed by [`lrc`]. REST is in `http::routes::tracks`.

pub mod analyse;
pub mod lrc;

use crate::db::tracks::{self as rows, NewTrack, TrackRow};
use crate::db::write_txn::write_transaction;
use crate::db::{DbConnection, DbError};
use crate::uploads::storage::{BlobKey, BlobStore, LocalDisk, StorageError};
use crate::uploads::UploadError;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum TrackError {
    /// Size limit, quota, a cut-off request: the attachments' receiver's refusals.
    #[error(transparent)]
    Receive(#[from] UploadError),
    #[error("this is not an audio file Veza takes (MP3, FLAC, Ogg Vorbis, Ogg Opus or WAV)")]
    Unsupported,
    #[error("the audio could not be decoded: {0}")]
    Undecodable(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Lyrics(#[from] lrc::LrcError),
    #[error("no such track")]
    NotFound,
    #[error("this track has no {0}")]
    Missing(&'static str),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for TrackError {
    fn from(e: diesel::result::Error) -> Self {
        TrackError::Db(DbError::Query(e))
    }
}

/// The node's track library: where the files go and the limits.
#[derive(Clone)]
pub struct Tracks {
    pub store: Arc<dyn BlobStore>,
    pub config: crate::config::tracks::Tracks,
    /// With several nodes (Redis configured): this node's public URL, recorded on its tracks so
    /// the other nodes redirect reads of the files here (as attachments do).
    pub origin: Option<String>,
}

impl Tracks {
    /// Files on local disk under `data_dir/tracks`.
    pub fn new(config: &crate::config::Config) -> Self {
        Tracks {
            store: Arc::new(LocalDisk::new(config.data_dir.join("tracks"))),
            config: config.tracks.clone(),
            origin: config
                .redis_url
                .as_ref()
                .map(|_| config.base_url().trim_end_matches('/').to_owned()),
        }
    }
}

/// Inserts the row if the owner's tracks stay within `quota` bytes (0: no quota), the owner's
/// row locked first so concurrent uploads of one user are counted one after the other.
pub fn record(
    conn: &mut DbConnection,
    row: &NewTrack<'_>,
    quota: u64,
) -> Result<TrackRow, TrackError> {
    write_transaction(conn, |conn| {
        crate::db::uploads::lock_owner(conn, row.owner_id)?;
        if quota > 0 {
            let used = rows::used_bytes(conn, row.owner_id)?.max(0) as u64;
            if used.saturating_add(row.size_bytes.max(0) as u64) > quota {
                return Err(UploadError::QuotaExceeded { quota, used }.into());
            }
        }
        rows::insert(conn, row)?;
        rows::find(conn, row.id)?.ok_or(TrackError::NotFound)
    })
}

/// Deletes a track's files (best effort: what fails to go is unreachable without its row).
pub fn discard(store: &dyn BlobStore, keys: impl IntoIterator<Item = BlobKey>) {
    for key in keys {
        let _unreachable_without_a_row = store.delete(&key);
    }
}
