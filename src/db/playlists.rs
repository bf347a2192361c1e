//! TEMP SHIM: replaced by the playlists branch at merge.
use super::{DbConnection, DbError};
use veza_actors::ids::{PlaylistId, TrackId};
use veza_actors::UserId;
pub struct PlaylistTrack {
    pub track_id: TrackId,
}
pub fn playing_order(_conn: &mut DbConnection, _p: PlaylistId) -> Result<Vec<PlaylistTrack>, DbError> {
    Ok(Vec::new())
}
pub fn member_of(_conn: &mut DbConnection, _p: PlaylistId, _u: UserId) -> Result<bool, DbError> {
    Ok(true)
}
