//! Queries on `uploads`: the row an upload gets, its owner's quota, binding uploads to a message
//! (inside the message's transaction), the grace period a deleted message starts, the sweeper's
//! claims, and the `attachments` list of message views.

use super::schema::{uploads, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use std::collections::HashMap;
use veza_actors::ids::{MessageId, RoomId, UploadId, UserId};
use veza_actors::model::{AttachmentRef, MessageView};

/// A new upload's row.
#[derive(Debug, Insertable)]
#[diesel(table_name = uploads)]
pub struct NewUpload<'a> {
    pub id: UploadId,
    pub owner_id: UserId,
    pub room_id: RoomId,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub storage_key: &'a str,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub thumbnail_key: Option<&'a str>,
    pub created_at: i64,
    pub delete_after: Option<i64>,
    /// The node whose disk holds the files (several nodes), else `None`.
    pub origin: Option<&'a str>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = uploads)]
pub struct UploadRow {
    pub id: UploadId,
    pub owner_id: UserId,
    pub room_id: RoomId,
    pub message_id: Option<MessageId>,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub thumbnail_key: Option<String>,
    pub created_at: i64,
    pub delete_after: Option<i64>,
    pub origin: Option<String>,
}

impl UploadRow {
    /// Taken by a message that was deleted since: gone for everyone, waiting for the sweeper.
    pub fn released(&self) -> bool {
        self.message_id.is_some() && self.delete_after.is_some()
    }

    pub fn attachment(&self) -> AttachmentRef {
        AttachmentRef {
            id: self.id,
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            size: self.size_bytes,
            url: content_url(self.id),
            thumbnail_url: self.thumbnail_key.as_ref().map(|_| thumbnail_url(self.id)),
            width: self.width,
            height: self.height,
        }
    }
}

/// Where an upload's bytes are served.
pub fn content_url(id: UploadId) -> String {
    format!("/api/v2/uploads/{id}/content")
}

pub fn thumbnail_url(id: UploadId) -> String {
    format!("/api/v2/uploads/{id}/thumbnail")
}

pub fn find(conn: &mut DbConnection, id: UploadId) -> Result<Option<UploadRow>, DbError> {
    Ok(uploads::table
        .find(id)
        .select(UploadRow::as_select())
        .first(conn)
        .optional()?)
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Bytes `owner` holds in uploads (released ones count until they are swept).
pub fn used_bytes(conn: &mut DbConnection, owner: UserId) -> Result<i64, DbError> {
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back so both backends load an i64.
    let sql = match conn {
        DbConnection::Postgres(_) => {
            "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS n FROM uploads WHERE owner_id = $1"
        }
        DbConnection::Sqlite(_) => {
            "SELECT CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS n FROM uploads WHERE owner_id = ?"
        }
    };
    Ok(diesel::sql_query(sql)
        .bind::<BigInt, _>(owner)
        .get_result::<Total>(conn)?
        .n)
}

/// Locks `owner`'s user row until the transaction ends (a no-op UPDATE: a row lock on
/// PostgreSQL; SQLite's `BEGIN IMMEDIATE` serialises writers already), so two uploads of one
/// user cannot both pass the quota check.
pub fn lock_owner(conn: &mut DbConnection, owner: UserId) -> Result<(), DbError> {
    diesel::update(users::table.find(owner))
        .set(users::id.eq(users::id))
        .execute(conn)?;
    Ok(())
}

pub fn insert(conn: &mut DbConnection, row: &NewUpload<'_>) -> Result<(), DbError> {
    diesel::insert_into(uploads::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Deletes `id` if `owner` owns it and no message took it: the row it was.
pub fn delete_unattached(
    conn: &mut DbConnection,
    id: UploadId,
    owner: UserId,
) -> Result<Option<UploadRow>, DbError> {
    let Some(row) = find(conn, id)? else {
        return Ok(None);
    };
    let gone = diesel::delete(
        uploads::table
            .filter(uploads::id.eq(id))
            .filter(uploads::owner_id.eq(owner))
            .filter(uploads::message_id.is_null()),
    )
    .execute(conn)?;
    Ok((gone == 1).then_some(row))
}

/// Binds `ids` to `message`: each must be `author`'s, in `room`, not taken by a message and not
/// expired. `None` (and nothing bound that the caller keeps: it rolls back) if any is not; else
/// the rows, oldest upload first (as history lists them).
pub fn attach(
    conn: &mut DbConnection,
    ids: &[UploadId],
    message: MessageId,
    author: UserId,
    room: RoomId,
    now: i64,
) -> Result<Option<Vec<UploadRow>>, DbError> {
    let bound = diesel::update(
        uploads::table
            .filter(uploads::id.eq_any(ids))
            .filter(uploads::owner_id.eq(author))
            .filter(uploads::room_id.eq(room))
            .filter(uploads::message_id.is_null())
            .filter(
                uploads::delete_after
                    .is_null()
                    .or(uploads::delete_after.gt(now)),
            ),
    )
    .set((
        uploads::message_id.eq(message),
        uploads::delete_after.eq(None::<i64>),
    ))
    .execute(conn)?;
    if bound != ids.len() {
        return Ok(None);
    }
    Ok(Some(
        uploads::table
            .filter(uploads::message_id.eq(message))
            .order(uploads::id)
            .select(UploadRow::as_select())
            .load(conn)?,
    ))
}

/// A deleted message's uploads: swept once `delete_after` has passed.
pub fn release(
    conn: &mut DbConnection,
    message: MessageId,
    delete_after: i64,
) -> Result<(), DbError> {
    diesel::update(uploads::table.filter(uploads::message_id.eq(message)))
        .set(uploads::delete_after.eq(delete_after))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` uploads whose time is up and whose files are on this node's disk (`origin`:
/// this node's, or none): `(id, storage_key, thumbnail_key)`.
pub fn due(
    conn: &mut DbConnection,
    now: i64,
    limit: i64,
    origin: Option<&str>,
) -> Result<Vec<(UploadId, String, Option<String>)>, DbError> {
    let due = uploads::table.filter(uploads::delete_after.le(now));
    if let Some(o) = origin {
        return Ok(due
            .filter(uploads::origin.is_null().or(uploads::origin.eq(o)))
            .order(uploads::delete_after)
            .limit(limit)
            .select((uploads::id, uploads::storage_key, uploads::thumbnail_key))
            .load(conn)?);
    }
    Ok(due
        .order(uploads::delete_after)
        .limit(limit)
        .select((uploads::id, uploads::storage_key, uploads::thumbnail_key))
        .load(conn)?)
}

/// Deletes a due row: true if this call deleted it (the claim: whoever deletes the row deletes
/// the files; another node's sweep of the same row deletes nothing).
pub fn claim(conn: &mut DbConnection, id: UploadId, now: i64) -> Result<bool, DbError> {
    let n = diesel::delete(
        uploads::table
            .filter(uploads::id.eq(id))
            .filter(uploads::delete_after.le(now)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// Sets each live view's `attachments` from the uploads its message took: one query for all.
pub fn resolve<'a>(
    conn: &mut DbConnection,
    views: impl IntoIterator<Item = &'a mut MessageView>,
) -> Result<(), DbError> {
    let mut views: Vec<&'a mut MessageView> = views.into_iter().filter(|v| !v.deleted).collect();
    if views.is_empty() {
        return Ok(());
    }
    let ids: Vec<MessageId> = views.iter().map(|v| v.id).collect();
    let mut by_message: HashMap<MessageId, Vec<AttachmentRef>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<UploadRow> = uploads::table
            .filter(uploads::message_id.eq_any(chunk))
            .filter(uploads::delete_after.is_null())
            .order(uploads::id)
            .select(UploadRow::as_select())
            .load(conn)?;
        for row in rows {
            if let Some(m) = row.message_id {
                by_message.entry(m).or_default().push(row.attachment());
            }
        }
    }
    for view in &mut views {
        if let Some(list) = by_message.remove(&view.id) {
            view.attachments = list;
        }
    }
    Ok(())
}
