//! Queries on `tracks`: a user's library (newest first, by page), one track of its owner, the
//! quota's sum, edits of the editable tags, lyrics, and deletion.

use super::schema::tracks;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use veza_actors::UserId;

/// A new track's row.
#[derive(Debug, Insertable)]
#[diesel(table_name = tracks)]
pub struct NewTrack<'a> {
    pub id: i64,
    pub owner_id: UserId,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub artwork_key: Option<&'a str>,
    pub title: &'a str,
    pub artist: Option<&'a str>,
    pub album: Option<&'a str>,
    pub year: Option<i64>,
    pub track_no: Option<i64>,
    pub duration_ms: i64,
    pub loudness_lufs: Option<f64>,
    pub created_at: i64,
    /// The node whose disk holds the files (several nodes), else `None`.
    pub origin: Option<&'a str>,
}

/// A track's row. The audio's blob key is made from the id (`BlobKey::upload`), so no column holds
/// it (diesel's tables stop at 16 columns without a slower feature).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tracks)]
pub struct TrackRow {
    pub id: i64,
    pub owner_id: UserId,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub artwork_key: Option<String>,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub year: Option<i64>,
    pub track_no: Option<i64>,
    pub duration_ms: i64,
    pub loudness_lufs: Option<f64>,
    pub lyrics: Option<String>,
    pub created_at: i64,
    pub origin: Option<String>,
}

/// An edit of the editable tags: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tracks)]
pub struct TagEdit {
    pub title: Option<String>,
    pub artist: Option<Option<String>>,
    pub album: Option<Option<String>>,
}

pub fn insert(conn: &mut DbConnection, row: &NewTrack<'_>) -> Result<(), DbError> {
    diesel::insert_into(tracks::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<TrackRow>, DbError> {
    Ok(tracks::table
        .find(id)
        .select(TrackRow::as_select())
        .first(conn)
        .optional()?)
}

/// Track `id` if `owner` owns it.
pub fn find_owned(
    conn: &mut DbConnection,
    id: i64,
    owner: UserId,
) -> Result<Option<TrackRow>, DbError> {
    Ok(tracks::table
        .find(id)
        .filter(tracks::owner_id.eq(owner))
        .select(TrackRow::as_select())
        .first(conn)
        .optional()?)
}

/// Up to `limit` of `owner`'s tracks older than `before` (an id), newest first.
pub fn page(
    conn: &mut DbConnection,
    owner: UserId,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<TrackRow>, DbError> {
    let mut query = tracks::table
        .filter(tracks::owner_id.eq(owner))
        .select(TrackRow::as_select())
        .order(tracks::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(tracks::id.lt(before));
    }
    Ok(query.load(conn)?)
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Bytes `owner`'s tracks take.
pub fn used_bytes(conn: &mut DbConnection, owner: UserId) -> Result<i64, DbError> {
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back so both backends load an i64.
    let sql = match conn {
        DbConnection::Postgres(_) => {
            "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS n FROM tracks WHERE owner_id = $1"
        }
        DbConnection::Sqlite(_) => {
            "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS n FROM tracks WHERE owner_id = ?"
        }
    };
    Ok(diesel::sql_query(sql)
        .bind::<BigInt, _>(owner)
        .get_result::<Total>(conn)?
        .n)
}

/// Applies `edit` to `owner`'s track `id`: the row after it, `None` if there is no such track.
pub fn edit_tags(
    conn: &mut DbConnection,
    id: i64,
    owner: UserId,
    edit: &TagEdit,
) -> Result<Option<TrackRow>, DbError> {
    if edit.title.is_some() || edit.artist.is_some() || edit.album.is_some() {
        diesel::update(tracks::table.find(id).filter(tracks::owner_id.eq(owner)))
            .set(edit)
            .execute(conn)?;
    }
    find_owned(conn, id, owner)
}

/// Sets (or with `None` clears) the lyrics of `owner`'s track `id`: whether there is one.
pub fn set_lyrics(
    conn: &mut DbConnection,
    id: i64,
    owner: UserId,
    lyrics: Option<&str>,
) -> Result<bool, DbError> {
    let n = diesel::update(tracks::table.find(id).filter(tracks::owner_id.eq(owner)))
        .set(tracks::lyrics.eq(lyrics))
        .execute(conn)?;
    Ok(n == 1)
}

/// Deletes `owner`'s track `id`: the row it was (its files are the caller's to delete).
pub fn delete(
    conn: &mut DbConnection,
    id: i64,
    owner: UserId,
) -> Result<Option<TrackRow>, DbError> {
    let Some(row) = find_owned(conn, id, owner)? else {
        return Ok(None);
    };
    let n =
        diesel::delete(tracks::table.find(id).filter(tracks::owner_id.eq(owner))).execute(conn)?;
    Ok((n == 1).then_some(row))
}

/// Where a track's files are served.
pub fn audio_url(id: i64) -> String {
    format!("/api/v2/tracks/{id}/audio")
}

pub fn artwork_url(id: i64) -> String {
    format!("/api/v2/tracks/{id}/artwork")
}
