//! TEMP SHIM: replaced by the playlists branch at merge.
use super::{DbConnection, DbError};
use veza_actors::ids::{PlaylistId, TrackId};
use veza_actors::UserId;
pub struct PlaylistTrack {
    pub track_id: TrackId,
}
pub fn playing_order(
    conn: &mut DbConnection,
    _p: PlaylistId,
) -> Result<Vec<PlaylistTrack>, DbError> {
    use super::schema::tracks;
    use diesel::prelude::*;
    let ids: Vec<i64> = tracks::table
        .select(tracks::id)
        .order(tracks::id.asc())
        .load(conn)?;
    Ok(ids
        .into_iter()
        .map(|id| PlaylistTrack {
            track_id: TrackId(id),
        })
        .collect())
}
pub fn member_of(_conn: &mut DbConnection, _p: PlaylistId, _u: UserId) -> Result<bool, DbError> {
    Ok(true)
}
