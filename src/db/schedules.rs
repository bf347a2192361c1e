//! Queries on `stream_slots` and `schedule_firings`, and the `show_starting` feed entries a
//! firing writes.

use super::schema::{notifications, schedule_firings, stream_follows, stream_slots, streams};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::{RoomId, StreamId, UserId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = stream_slots)]
pub struct SlotRow {
    pub id: i64,
    pub stream_id: StreamId,
    /// `weekly` or `once`.
    pub kind: String,
    /// 0 = Monday .. 6 = Sunday (weekly slots).
    pub weekday: Option<i64>,
    /// `YYYY-MM-DD` (one-off slots).
    pub local_date: Option<String>,
    /// `HH:MM`.
    pub local_time: String,
    pub time_zone: String,
    pub duration_min: i64,
    /// A one-off slot's UTC start (ms).
    pub once_at: Option<i64>,
    pub created_at: i64,
}

/// Most slots one stream may have.
pub const MAX_SLOTS_PER_STREAM: i64 = 50;

pub fn of_stream(conn: &mut DbConnection, stream: StreamId) -> Result<Vec<SlotRow>, DbError> {
    Ok(stream_slots::table
        .filter(stream_slots::stream_id.eq(stream))
        .order(stream_slots::id.asc())
        .select(SlotRow::as_select())
        .load(conn)?)
}

pub fn insert(conn: &mut DbConnection, slot: &SlotRow) -> Result<(), DbError> {
    diesel::insert_into(stream_slots::table)
        .values(slot)
        .execute(conn)?;
    Ok(())
}

/// Deletes `slot` of `stream`; false if there was none.
pub fn delete(conn: &mut DbConnection, stream: StreamId, slot: i64) -> Result<bool, DbError> {
    let n = diesel::delete(
        stream_slots::table
            .filter(stream_slots::id.eq(slot))
            .filter(stream_slots::stream_id.eq(stream)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Slots that may have an occurrence starting in `[from, to)`: every weekly slot, and one-off
/// slots starting then. Each with its stream's room, title and mount.
pub fn candidates(
    conn: &mut DbConnection,
    from: i64,
    to: i64,
) -> Result<Vec<(SlotRow, StreamBrief)>, DbError> {
    Ok(stream_slots::table
        .inner_join(streams::table)
        .filter(
            stream_slots::kind.eq("weekly").or(stream_slots::once_at
                .ge(from)
                .and(stream_slots::once_at.lt(to))),
        )
        .select((
            SlotRow::as_select(),
            (
                streams::id,
                streams::room_id,
                streams::title,
                streams::mount,
            ),
        ))
        .load::<(SlotRow, (StreamId, Option<RoomId>, String, String))>(conn)?
        .into_iter()
        .map(|(slot, (id, room_id, title, mount))| {
            (
                slot,
                StreamBrief {
                    id,
                    room_id,
                    title,
                    mount,
                },
            )
        })
        .collect())
}

/// What an announcement says about the stream.
#[derive(Debug, Clone)]
pub struct StreamBrief {
    pub id: StreamId,
    pub room_id: Option<RoomId>,
    pub title: String,
    pub mount: String,
}

/// Claims the occurrence of `slot` at `occurrence_ms` for this node: true for the one node whose
/// row went in, false when another node (or an earlier tick) already has it.
pub fn claim(
    conn: &mut DbConnection,
    slot: i64,
    occurrence_ms: i64,
    node: u16,
    now: i64,
) -> Result<bool, DbError> {
    let row = (
        schedule_firings::slot_id.eq(slot),
        schedule_firings::occurrence_ms.eq(occurrence_ms),
        schedule_firings::node.eq(i64::from(node)),
        schedule_firings::fired_at.eq(now),
    );
    // ON CONFLICT DO NOTHING has no MultiBackend form: one statement per backend.
    let inserted = match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(schedule_firings::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConnection::Sqlite(lite) => diesel::insert_into(schedule_firings::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(lite)?,
    };
    Ok(inserted == 1)
}

/// The stream's followers, and a `show_starting` feed entry for each.
pub fn notify_followers(
    conn: &mut DbConnection,
    stream: &StreamBrief,
    now: i64,
) -> Result<Vec<UserId>, DbError> {
    let followers: Vec<UserId> = stream_follows::table
        .filter(stream_follows::stream_id.eq(stream.id))
        .order(stream_follows::user_id.asc())
        .select(stream_follows::user_id)
        .load(conn)?;
    for chunk in followers.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|user| {
                (
                    notifications::user_id.eq(*user),
                    notifications::kind.eq("show_starting"),
                    notifications::room_id.eq(stream.room_id),
                    notifications::stream_id.eq(Some(stream.id)),
                    notifications::created_at.eq(now),
                )
            })
            .collect();
        // Multi-row INSERT per backend: diesel's batch insert has no MultiBackend form.
        match conn {
            DbConnection::Postgres(pg) => diesel::insert_into(notifications::table)
                .values(&rows)
                .execute(pg)?,
            DbConnection::Sqlite(lite) => diesel::insert_into(notifications::table)
                .values(&rows)
                .execute(lite)?,
        };
    }
    Ok(followers)
}
