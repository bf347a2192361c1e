//! Collaborative playlists (issue 14): ordered items with fractional indexes (`position`), edits
//! serialised per playlist and versioned (`edit`), and the realtime `playlist_*` events sent to
//! the owner and every editor on every node (`event`).

pub mod edit;
pub mod event;
pub mod position;

use crate::db::DbError;
use position::PositionError;

/// The most items one playlist holds (it also bounds how long position keys can grow).
pub const MAX_ITEMS: i64 = 5_000;
/// The most editors one playlist has.
pub const MAX_EDITORS: i64 = 50;
/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// What the playlist layer refuses or fails with (mapped to HTTP in `http::error`).
#[derive(Debug, thiserror::Error)]
pub enum PlaylistError {
    /// No such playlist, or the caller is neither its owner nor an editor (404: a stranger does
    /// not learn it exists).
    #[error("no such playlist")]
    NotFound,
    /// The item to move or remove is not in the playlist (404).
    #[error("no such item in this playlist")]
    ItemNotFound,
    /// The `after`/`before` item an edit is placed against is no longer in the playlist (409
    /// `item_gone`): another editor removed it.
    #[error("item {0} (the item to place this next to) is no longer in the playlist; read the playlist again and retry")]
    ItemGone(i64),
    /// The track does not exist or is not in the library of the owner or an editor (422
    /// `track_unavailable`; the same answer either way, so others' tracks stay private).
    #[error("track {0} is not in the library of this playlist's owner or editors")]
    TrackUnavailable(i64),
    /// A member may not do this (403): only the owner deletes the playlist and invites or removes
    /// other editors.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The `If-Match` version is not the playlist's (409 `version_conflict`).
    #[error("the playlist changed: it is at version {current} now; read it again and retry")]
    VersionConflict { current: i64 },
    /// The user to invite does not exist (404).
    #[error("no such user")]
    UserNotFound,
    /// The playlist holds [`MAX_ITEMS`] (or [`MAX_EDITORS`]) already (409 `playlist_full`).
    #[error("the playlist has {0} already, the most it may")]
    Full(String),
    /// A field is malformed or out of range (422).
    #[error("{0}")]
    Invalid(String),
    /// The edit changes nothing (an editor invited twice): rolled back, answered with the current
    /// state, never sent to a client.
    #[error("nothing to change")]
    Unchanged,
    #[error(transparent)]
    Position(#[from] PositionError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl PlaylistError {
    pub fn invalid(message: impl Into<String>) -> Self {
        PlaylistError::Invalid(message.into())
    }
}

impl From<diesel::result::Error> for PlaylistError {
    fn from(e: diesel::result::Error) -> Self {
        PlaylistError::Db(e.into())
    }
}
