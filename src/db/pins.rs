//! Pinned messages of a room.

use super::schema::{messages, pins, users};
use super::{messages as message_queries, DbConnection, DbError};
use diesel::prelude::*;
use std::collections::HashMap;
use veza_actors::model::{MessageView, UserRef};
use veza_actors::{MessageId, RoomId, UserId};

/// Most pins a room may hold.
pub const MAX_PINS: i64 = 50;

/// A pinned message, who pinned it and when.
#[derive(Debug, Clone)]
pub struct Pin {
    pub message: MessageView,
    pub pinned_by: Option<UserRef>,
    pub pinned_at: i64,
}

/// What pinning did.
#[derive(Debug, PartialEq, Eq)]
pub enum Pinned {
    New,
    Already,
    /// The room holds [`MAX_PINS`] already.
    Full,
}

/// Pins `message` (a message of `room`, checked by the caller).
pub fn pin(
    conn: &mut DbConnection,
    room: RoomId,
    message: MessageId,
    by: UserId,
    now: i64,
) -> Result<Pinned, DbError> {
    super::write_txn::write_transaction(conn, |conn| {
        if pins::table
            .find((room, message))
            .count()
            .get_result::<i64>(conn)?
            > 0
        {
            return Ok(Pinned::Already);
        }
        let held: i64 = pins::table
            .filter(pins::room_id.eq(room))
            .count()
            .get_result(conn)?;
        if held >= MAX_PINS {
            return Ok(Pinned::Full);
        }
        diesel::insert_into(pins::table)
            .values((
                pins::room_id.eq(room),
                pins::message_id.eq(message),
                pins::pinned_by.eq(by),
                pins::pinned_at.eq(now),
            ))
            .execute(conn)?;
        Ok::<_, DbError>(Pinned::New)
    })
    .or_else(|e| {
        // Pinned by someone else at the same moment: it is pinned, as asked.
        if e.is_unique_violation() {
            Ok(Pinned::Already)
        } else {
            Err(e)
        }
    })
}

/// Unpins; false if it was not pinned.
pub fn unpin(conn: &mut DbConnection, room: RoomId, message: MessageId) -> Result<bool, DbError> {
    Ok(diesel::delete(pins::table.find((room, message))).execute(conn)? > 0)
}

/// The room's pins, newest first, deleted messages left out.
pub fn of_room(conn: &mut DbConnection, room: RoomId) -> Result<Vec<Pin>, DbError> {
    let rows: Vec<(MessageId, Option<UserId>, i64)> = pins::table
        .inner_join(messages::table.on(messages::id.eq(pins::message_id)))
        .filter(pins::room_id.eq(room))
        .filter(messages::deleted_at.is_null())
        .order(pins::pinned_at.desc())
        .select((pins::message_id, pins::pinned_by, pins::pinned_at))
        .load(conn)?;
    let ids: Vec<MessageId> = rows.iter().map(|r| r.0).collect();
    let mut by_ids: Vec<UserId> = rows.iter().filter_map(|r| r.1).collect();
    by_ids.sort_unstable();
    by_ids.dedup();
    let names: HashMap<UserId, String> = users::table
        .filter(users::id.eq_any(&by_ids))
        .select((users::id, users::username))
        .load::<(UserId, String)>(conn)?
        .into_iter()
        .collect();
    let found = message_queries::by_ids(conn, &ids)?;
    let mut views: HashMap<MessageId, MessageView> = message_queries::views(conn, found)?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|(message, by, at)| {
            Some(Pin {
                message: views.remove(&message)?,
                pinned_by: by.map(|id| UserRef {
                    id,
                    username: names.get(&id).cloned().unwrap_or_default(),
                }),
                pinned_at: at,
            })
        })
        .collect())
}
