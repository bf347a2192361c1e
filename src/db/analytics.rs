//! Queries on `listener_sessions` and `listener_minutes` (stream analytics), and the chat message
//! times of a room that the analytics endpoint counts per minute.

use super::schema::{listener_minutes, listener_sessions, messages};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::{RoomId, StreamId};

/// A session as it opens (`ended_at` is set when it closes).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = listener_sessions)]
pub struct NewSession {
    pub id: i64,
    pub stream_id: StreamId,
    pub variant: String,
    /// `progressive` or `hls`.
    pub kind: &'static str,
    pub node: i64,
    pub started_at: i64,
}

/// A session's span, for counting: `ended_at` is `None` while it is still open.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = listener_sessions)]
pub struct SessionSpan {
    pub id: i64,
    pub stream_id: StreamId,
    pub variant: String,
    pub started_at: i64,
    pub ended_at: Option<i64>,
}

/// One stream's aggregate of one minute and variant.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = listener_minutes)]
pub struct MinuteRow {
    pub stream_id: StreamId,
    /// Milliseconds at the minute's start.
    pub minute: i64,
    pub variant: String,
    /// Sessions overlapping the minute.
    pub listeners: i64,
    /// Sessions that started in the minute.
    pub sessions_started: i64,
    /// Milliseconds listened within the minute, over all its sessions.
    pub listen_ms: i64,
}

pub fn insert_session(conn: &mut DbConnection, row: &NewSession) -> Result<(), DbError> {
    diesel::insert_into(listener_sessions::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Closes session `id` at `ended_at` (a session already closed is left as it is).
pub fn close_session(conn: &mut DbConnection, id: i64, ended_at: i64) -> Result<(), DbError> {
    diesel::update(
        listener_sessions::table
            .filter(listener_sessions::id.eq(id))
            .filter(listener_sessions::ended_at.is_null()),
    )
    .set(listener_sessions::ended_at.eq(ended_at))
    .execute(conn)?;
    Ok(())
}

/// Closes the sessions `node` left open when it stopped without closing them (a crash): their
/// real end is unknown, so they end where they started. Returns how many.
pub fn close_orphans(conn: &mut DbConnection, node: i64) -> Result<usize, DbError> {
    Ok(diesel::update(
        listener_sessions::table
            .filter(listener_sessions::node.eq(node))
            .filter(listener_sessions::ended_at.is_null()),
    )
    .set(listener_sessions::ended_at.eq(listener_sessions::started_at.nullable()))
    .execute(conn)?)
}

/// The sessions of `stream` that overlap `[from, to)` (open ones included).
pub fn sessions_overlapping(
    conn: &mut DbConnection,
    stream: StreamId,
    from: i64,
    to: i64,
) -> Result<Vec<SessionSpan>, DbError> {
    Ok(listener_sessions::table
        .filter(listener_sessions::stream_id.eq(stream))
        .filter(listener_sessions::started_at.lt(to))
        .filter(
            listener_sessions::ended_at
                .is_null()
                .or(listener_sessions::ended_at.ge(from)),
        )
        .select(SessionSpan::as_select())
        .load(conn)?)
}

/// Up to `limit` sessions (of any stream) that ended before `cutoff`, oldest id first.
pub fn ended_before(
    conn: &mut DbConnection,
    cutoff: i64,
    limit: i64,
) -> Result<Vec<SessionSpan>, DbError> {
    Ok(listener_sessions::table
        .filter(listener_sessions::ended_at.lt(cutoff))
        .order(listener_sessions::id.asc())
        .limit(limit)
        .select(SessionSpan::as_select())
        .load(conn)?)
}

/// Deletes the sessions `ids`; returns how many were still there.
pub fn delete_sessions(conn: &mut DbConnection, ids: &[i64]) -> Result<usize, DbError> {
    Ok(
        diesel::delete(listener_sessions::table.filter(listener_sessions::id.eq_any(ids)))
            .execute(conn)?,
    )
}

/// Adds `delta`'s counts to its minute's row (made if there is none).
pub fn add_to_minute(conn: &mut DbConnection, delta: &MinuteRow) -> Result<(), DbError> {
    let updated = diesel::update(
        listener_minutes::table
            .filter(listener_minutes::stream_id.eq(delta.stream_id))
            .filter(listener_minutes::minute.eq(delta.minute))
            .filter(listener_minutes::variant.eq(&delta.variant)),
    )
    .set((
        listener_minutes::listeners.eq(listener_minutes::listeners + delta.listeners),
        listener_minutes::sessions_started
            .eq(listener_minutes::sessions_started + delta.sessions_started),
        listener_minutes::listen_ms.eq(listener_minutes::listen_ms + delta.listen_ms),
    ))
    .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(listener_minutes::table)
            .values(delta)
            .execute(conn)?;
    }
    Ok(())
}

/// The aggregates of `stream` for the minutes in `[from, to)`.
pub fn minutes_between(
    conn: &mut DbConnection,
    stream: StreamId,
    from: i64,
    to: i64,
) -> Result<Vec<MinuteRow>, DbError> {
    Ok(listener_minutes::table
        .filter(listener_minutes::stream_id.eq(stream))
        .filter(listener_minutes::minute.ge(from))
        .filter(listener_minutes::minute.lt(to))
        .select(MinuteRow::as_select())
        .load(conn)?)
}

/// Most chat message times read for one report (a day of a very busy room).
pub const MAX_MESSAGE_TIMES: i64 = 1_000_000;

/// When the chat messages of `room` (people's, not system notices) were sent in `[from, to)`
/// (the `messages_room_created` index serves it).
pub fn message_times(
    conn: &mut DbConnection,
    room: RoomId,
    from: i64,
    to: i64,
) -> Result<Vec<i64>, DbError> {
    Ok(messages::table
        .filter(messages::room_id.eq(room))
        .filter(messages::created_at.ge(from))
        .filter(messages::created_at.lt(to))
        .filter(messages::kind.ne("system"))
        .select(messages::created_at)
        .limit(MAX_MESSAGE_TIMES)
        .load(conn)?)
}

/// Rows in the two analytics tables (for `veza` operators' table-size checks and tests).
pub fn counts(conn: &mut DbConnection) -> Result<(i64, i64), DbError> {
    let sessions = listener_sessions::table.count().get_result(conn)?;
    let minutes = listener_minutes::table.count().get_result(conn)?;
    Ok((sessions, minutes))
}
