//! Library tracks as the AutoDJ plays them: a playlist read from the store (on the mixer's
//! thread, at the start of each pass), each track's file found in the node's track store and its
//! gain worked out from its measured loudness.

use super::picker::Loader;
use super::playout::TrackToPlay;
use super::track_source::loudness_gain_db;
use crate::db::tracks::{self, TrackRow};
use crate::db::{playlists, DbPool};
use crate::uploads::storage::{BlobKey, BlobStore};
use slog::{warn, Logger};
use std::sync::Arc;
use veza_actors::ids::PlaylistId;

/// A track of the library, if its file is in this node's store.
pub fn track_to_play(
    row: &TrackRow,
    store: &dyn BlobStore,
    target_lufs: f64,
) -> Option<TrackToPlay> {
    let blob = store.open(&BlobKey::upload(row.id)).ok()?;
    Some(TrackToPlay {
        id: veza_actors::ids::TrackId(row.id),
        title: row.title.clone(),
        artist: row.artist.clone(),
        path: blob.path,
        duration_ms: row.duration_ms,
        gain_db: loudness_gain_db(row.loudness_lufs, target_lufs),
        lyrics: row.lyrics.clone(),
    })
}

/// Reads `playlist`'s tracks in order whenever the picker starts a pass. A track whose file is
/// not on this node (uploaded through another node that does not share the data dir) is passed
/// over, and said so in the log.
pub fn playlist_loader(
    pool: DbPool,
    store: Arc<dyn BlobStore>,
    playlist: PlaylistId,
    target_lufs: f64,
    log: Logger,
) -> Loader {
    Box::new(move || {
        let read = || -> Result<Vec<TrackRow>, crate::db::DbError> {
            let conn = &mut *pool.get()?;
            let order = playlists::playing_order(conn, playlist)?;
            let mut rows = Vec::with_capacity(order.len());
            for item in order {
                if let Some(row) = tracks::find(conn, item.track_id.0)? {
                    rows.push(row);
                }
            }
            Ok(rows)
        };
        match read() {
            Ok(rows) => rows
                .iter()
                .filter_map(|row| {
                    let track = track_to_play(row, store.as_ref(), target_lufs);
                    if track.is_none() {
                        warn!(log, "AutoDJ track's file is not on this node"; "track" => row.id);
                    }
                    track
                })
                .collect(),
            Err(e) => {
                warn!(log, "AutoDJ could not read its playlist"; "playlist" => playlist.0, "error" => e.to_string());
                Vec::new()
            }
        }
    })
}
