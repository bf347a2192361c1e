//! Queries on `playlists`, `playlist_editors` and `playlist_items`: rows, membership, the items in
//! order with their tracks (for the API and for AutoDJ: [`playing_order`]), and the neighbours an
//! insert or a move is placed between. The edits' transactions are in `playlists::edit`.

use super::schema::{playlist_editors, playlist_items, playlists, tracks, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::ids::{PlaylistId, TrackId, UserId};

/// A playlist's row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = playlists)]
pub struct PlaylistRow {
    pub id: PlaylistId,
    pub owner_id: UserId,
    pub name: String,
    /// Bumped by every change, in the change's transaction.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An item's row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = playlist_items)]
pub struct ItemRow {
    pub id: i64,
    pub playlist_id: PlaylistId,
    pub track_id: i64,
    /// Its fractional index (`playlists::position`).
    pub position: String,
    pub added_by: UserId,
    pub added_at: i64,
}

/// The track fields an item is shown with.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tracks)]
pub struct TrackBrief {
    pub id: i64,
    pub title: String,
    pub artist: Option<String>,
    pub duration_ms: i64,
}

/// An item in order, with its track.
#[derive(Debug, Clone)]
pub struct ItemWithTrack {
    pub item: ItemRow,
    pub track: TrackBrief,
}

/// One entry of a playlist in playing order, with what AutoDJ needs to play it. The audio file is
/// in the tracks' blob store under `BlobKey::upload(track_id.0)` (the key is made from the id, as
/// for every track); `origin` names the node whose disk holds it when there are several.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaylistTrack {
    pub item_id: i64,
    pub track_id: TrackId,
    pub owner_id: UserId,
    pub title: String,
    pub artist: Option<String>,
    pub duration_ms: i64,
    /// EBU R128 integrated loudness measured on upload (`None` for digital silence).
    pub loudness_lufs: Option<f64>,
    pub content_type: String,
    /// The public URL of the node that stores the file; `None` on a single node.
    pub origin: Option<String>,
}

/// A user as a playlist shows them.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: UserId,
    pub username: String,
}

pub fn insert(conn: &mut DbConnection, row: &PlaylistRow) -> Result<(), DbError> {
    diesel::insert_into(playlists::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: PlaylistId) -> Result<Option<PlaylistRow>, DbError> {
    Ok(playlists::table
        .find(id)
        .select(PlaylistRow::as_select())
        .first(conn)
        .optional()?)
}

/// Bumps `id`'s version (the first write of every edit, so concurrent edits of one playlist wait
/// for each other on its row): the row after it, `None` if there is no such playlist.
pub fn bump(
    conn: &mut DbConnection,
    id: PlaylistId,
    now: i64,
) -> Result<Option<PlaylistRow>, DbError> {
    let n = diesel::update(playlists::table.find(id))
        .set((
            playlists::version.eq(playlists::version + 1),
            playlists::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    find(conn, id)
}

pub fn rename(conn: &mut DbConnection, id: PlaylistId, name: &str) -> Result<(), DbError> {
    diesel::update(playlists::table.find(id))
        .set(playlists::name.eq(name))
        .execute(conn)?;
    Ok(())
}

/// Deletes the playlist, its items and its editors.
pub fn delete(conn: &mut DbConnection, id: PlaylistId) -> Result<(), DbError> {
    diesel::delete(playlist_items::table.filter(playlist_items::playlist_id.eq(id)))
        .execute(conn)?;
    diesel::delete(playlist_editors::table.filter(playlist_editors::playlist_id.eq(id)))
        .execute(conn)?;
    diesel::delete(playlists::table.find(id)).execute(conn)?;
    Ok(())
}

/// Whether `user` owns or edits `playlist`.
pub fn member_of(
    conn: &mut DbConnection,
    playlist: PlaylistId,
    user: UserId,
) -> Result<bool, DbError> {
    let owner = playlists::table
        .find(playlist)
        .select(playlists::owner_id)
        .first::<UserId>(conn)
        .optional()?;
    match owner {
        None => Ok(false),
        Some(owner) if owner == user => Ok(true),
        Some(_) => is_editor(conn, playlist, user),
    }
}

pub fn is_editor(
    conn: &mut DbConnection,
    playlist: PlaylistId,
    user: UserId,
) -> Result<bool, DbError> {
    let n: i64 = playlist_editors::table
        .filter(playlist_editors::playlist_id.eq(playlist))
        .filter(playlist_editors::user_id.eq(user))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The editors, in the order they were invited.
pub fn editors(conn: &mut DbConnection, playlist: PlaylistId) -> Result<Vec<Member>, DbError> {
    let rows: Vec<(UserId, String)> = playlist_editors::table
        .inner_join(users::table)
        .filter(playlist_editors::playlist_id.eq(playlist))
        .order((playlist_editors::added_at, playlist_editors::user_id))
        .select((users::id, users::username))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, username)| Member { id, username })
        .collect())
}

/// Who hears a playlist's events: its owner and its editors.
pub fn audience(conn: &mut DbConnection, row: &PlaylistRow) -> Result<Vec<UserId>, DbError> {
    let mut users: Vec<UserId> = playlist_editors::table
        .filter(playlist_editors::playlist_id.eq(row.id))
        .select(playlist_editors::user_id)
        .load(conn)?;
    users.push(row.owner_id);
    Ok(users)
}

pub fn username(conn: &mut DbConnection, user: UserId) -> Result<Option<String>, DbError> {
    Ok(users::table
        .find(user)
        .select(users::username)
        .first(conn)
        .optional()?)
}

pub fn add_editor(
    conn: &mut DbConnection,
    playlist: PlaylistId,
    user: UserId,
    now: i64,
) -> Result<(), DbError> {
    diesel::insert_into(playlist_editors::table)
        .values((
            playlist_editors::playlist_id.eq(playlist),
            playlist_editors::user_id.eq(user),
            playlist_editors::added_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether there was such an editor.
pub fn remove_editor(
    conn: &mut DbConnection,
    playlist: PlaylistId,
    user: UserId,
) -> Result<bool, DbError> {
    let n = diesel::delete(
        playlist_editors::table
            .filter(playlist_editors::playlist_id.eq(playlist))
            .filter(playlist_editors::user_id.eq(user)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

pub fn editor_count(conn: &mut DbConnection, playlist: PlaylistId) -> Result<i64, DbError> {
    Ok(playlist_editors::table
        .filter(playlist_editors::playlist_id.eq(playlist))
        .count()
        .get_result(conn)?)
}

/// The playlists `user` owns or edits, newest first.
pub fn of_member(conn: &mut DbConnection, user: UserId) -> Result<Vec<PlaylistRow>, DbError> {
    let edited: Vec<PlaylistId> = playlist_editors::table
        .filter(playlist_editors::user_id.eq(user))
        .select(playlist_editors::playlist_id)
        .load(conn)?;
    Ok(playlists::table
        .filter(
            playlists::owner_id
                .eq(user)
                .or(playlists::id.eq_any(edited)),
        )
        .order(playlists::id.desc())
        .select(PlaylistRow::as_select())
        .load(conn)?)
}

/// The items in order, with their tracks.
pub fn items(conn: &mut DbConnection, playlist: PlaylistId) -> Result<Vec<ItemWithTrack>, DbError> {
    let rows: Vec<(ItemRow, TrackBrief)> = playlist_items::table
        .inner_join(tracks::table)
        .filter(playlist_items::playlist_id.eq(playlist))
        .order(playlist_items::position.asc())
        .select((ItemRow::as_select(), TrackBrief::as_select()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(item, track)| ItemWithTrack { item, track })
        .collect())
}

/// The playlist's tracks in playing order, with what AutoDJ needs to find and level each one.
pub fn playing_order(
    conn: &mut DbConnection,
    playlist: PlaylistId,
) -> Result<Vec<PlaylistTrack>, DbError> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        i64,
        i64,
        UserId,
        String,
        Option<String>,
        i64,
        Option<f64>,
        String,
        Option<String>,
    )> = playlist_items::table
        .inner_join(tracks::table)
        .filter(playlist_items::playlist_id.eq(playlist))
        .order(playlist_items::position.asc())
        .select((
            playlist_items::id,
            tracks::id,
            tracks::owner_id,
            tracks::title,
            tracks::artist,
            tracks::duration_ms,
            tracks::loudness_lufs,
            tracks::content_type,
            tracks::origin,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                item_id,
                track,
                owner_id,
                title,
                artist,
                duration_ms,
                loudness_lufs,
                content_type,
                origin,
            )| {
                PlaylistTrack {
                    item_id,
                    track_id: TrackId(track),
                    owner_id,
                    title,
                    artist,
                    duration_ms,
                    loudness_lufs,
                    content_type,
                    origin,
                }
            },
        )
        .collect())
}

pub fn item(
    conn: &mut DbConnection,
    playlist: PlaylistId,
    id: i64,
) -> Result<Option<ItemWithTrack>, DbError> {
    let row: Option<(ItemRow, TrackBrief)> = playlist_items::table
        .inner_join(tracks::table)
        .filter(playlist_items::playlist_id.eq(playlist))
        .filter(playlist_items::id.eq(id))
        .select((ItemRow::as_select(), TrackBrief::as_select()))
        .first(conn)
        .optional()?;
    Ok(row.map(|(item, track)| ItemWithTrack { item, track }))
}

pub fn item_count(conn: &mut DbConnection, playlist: PlaylistId) -> Result<i64, DbError> {
    Ok(playlist_items::table
        .filter(playlist_items::playlist_id.eq(playlist))
        .count()
        .get_result(conn)?)
}

/// The item right after `position` (the first one with `None`), leaving out item `skip`.
pub fn next_after(
    conn: &mut DbConnection,
    playlist: PlaylistId,
    position: Option<&str>,
    skip: Option<i64>,
) -> Result<Option<ItemRow>, DbError> {
    let mut query = playlist_items::table
        .filter(playlist_items::playlist_id.eq(playlist))
        .filter(playlist_items::id.ne(skip.unwrap_or(0)))
        .order(playlist_items::position.asc())
        .select(ItemRow::as_select())
        .into_boxed();
    if let Some(position) = position {
        query = query.filter(playlist_items::position.gt(position.to_owned()));
    }
    Ok(query.first(conn).optional()?)
}

/// The item right before `position` (the last one with `None`), leaving out item `skip`.
pub fn prev_before(
    conn: &mut DbConnection,
    playlist: PlaylistId,
    position: Option<&str>,
    skip: Option<i64>,
) -> Result<Option<ItemRow>, DbError> {
    let mut query = playlist_items::table
        .filter(playlist_items::playlist_id.eq(playlist))
        .filter(playlist_items::id.ne(skip.unwrap_or(0)))
        .order(playlist_items::position.desc())
        .select(ItemRow::as_select())
        .into_boxed();
    if let Some(position) = position {
        query = query.filter(playlist_items::position.lt(position.to_owned()));
    }
    Ok(query.first(conn).optional()?)
}

pub fn insert_item(conn: &mut DbConnection, row: &ItemRow) -> Result<(), DbError> {
    diesel::insert_into(playlist_items::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn set_position(conn: &mut DbConnection, item: i64, position: &str) -> Result<(), DbError> {
    diesel::update(playlist_items::table.find(item))
        .set(playlist_items::position.eq(position))
        .execute(conn)?;
    Ok(())
}

pub fn delete_item(conn: &mut DbConnection, item: i64) -> Result<(), DbError> {
    diesel::delete(playlist_items::table.find(item)).execute(conn)?;
    Ok(())
}

/// Every item of track `track`, in any playlist: `(playlist, item)`, in item order.
pub fn items_of_track(
    conn: &mut DbConnection,
    track: i64,
) -> Result<Vec<(PlaylistId, i64)>, DbError> {
    Ok(playlist_items::table
        .filter(playlist_items::track_id.eq(track))
        .order(playlist_items::id.asc())
        .select((playlist_items::playlist_id, playlist_items::id))
        .load(conn)?)
}

/// The owner of track `id`, `None` if there is no such track.
pub fn track_owner(conn: &mut DbConnection, id: i64) -> Result<Option<UserId>, DbError> {
    Ok(tracks::table
        .find(id)
        .select(tracks::owner_id)
        .first(conn)
        .optional()?)
}
