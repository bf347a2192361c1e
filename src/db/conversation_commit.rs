//! What a new message's commit does besides inserting it, inside the batch's transaction: the
//! thread it replies in (checked, and the root's count moved on), the blocks of a direct
//! conversation (checked), and the mention notifications it makes (written).

use super::schema::{messages, notifications, room_members, user_blocks, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use std::collections::HashMap;
use veza_actors::model::MessageView;
use veza_actors::store::{MessageExtras, ThreadRoot, WriteError};
use veza_actors::{MessageId, RoomId, UserId};

/// Most ids bound in one `IN (...)` (SQLite allows 32,766 parameters, PostgreSQL 65,535).
const IN_LIST_MAX: usize = 10_000;

/// Rows per multi-row INSERT of notifications (an `@room` in a big room writes one per member).
const INSERT_CHUNK: usize = 500;

/// A reply must go under a top-level message of the same room.
pub(super) fn check_thread(
    roots: &HashMap<MessageId, (RoomId, Option<MessageId>)>,
    room: RoomId,
    root: MessageId,
) -> Result<(), WriteError> {
    match roots.get(&root) {
        Some((r, None)) if *r == room => Ok(()),
        Some((r, Some(_))) if *r == room => Err(WriteError::Invalid(
            "replies go under the thread's first message".into(),
        )),
        _ => Err(WriteError::Invalid(
            "thread must be a message in the same room".into(),
        )),
    }
}

/// Whether `author` and another member of the direct conversation `room` blocked each other
/// (either way).
pub(super) fn blocked_in_direct(
    conn: &mut DbConnection,
    room: RoomId,
    author: UserId,
) -> Result<bool, DbError> {
    let others: Vec<UserId> = room_members::table
        .filter(room_members::room_id.eq(room))
        .filter(room_members::user_id.ne(author))
        .select(room_members::user_id)
        .load(conn)?;
    if others.is_empty() {
        return Ok(false);
    }
    let blocks: i64 = user_blocks::table
        .filter(
            user_blocks::user_id
                .eq(author)
                .and(user_blocks::blocked_id.eq_any(&others))
                .or(user_blocks::blocked_id
                    .eq(author)
                    .and(user_blocks::user_id.eq_any(&others))),
        )
        .count()
        .get_result(conn)?;
    Ok(blocks > 0)
}

/// One more reply under `root`: its count and last reply time, as committed.
pub(super) fn bump_root(
    conn: &mut DbConnection,
    root: MessageId,
    now: i64,
) -> Result<ThreadRoot, DbError> {
    diesel::update(messages::table.find(root))
        .set((
            messages::reply_count.eq(messages::reply_count + 1),
            messages::last_reply_at.eq(now),
        ))
        .execute(conn)?;
    let reply_count: i64 = messages::table
        .find(root)
        .select(messages::reply_count)
        .first(conn)?;
    Ok(ThreadRoot {
        id: root,
        reply_count,
        last_reply_at: now,
    })
}

#[derive(Insertable)]
#[diesel(table_name = notifications)]
struct NewNotification {
    user_id: UserId,
    kind: &'static str,
    room_id: RoomId,
    message_id: Option<MessageId>,
    seq: Option<i64>,
    actor_id: Option<UserId>,
    created_at: i64,
}

/// Writes a `mention` notification for each member the message mentions (all of them for
/// `@room`), except the author, members who muted the room, are banned from it, or blocked the
/// author. Returns who was notified.
pub(super) fn notify(
    conn: &mut DbConnection,
    message: &MessageView,
    extras: &MessageExtras,
    now: i64,
) -> Result<Vec<UserId>, DbError> {
    if extras.mentions.is_empty() && extras.mention_names.is_empty() && !extras.mention_room {
        return Ok(Vec::new());
    }
    let author = message.author.id;
    let eligible = room_members::table
        .filter(room_members::room_id.eq(message.room))
        .filter(room_members::user_id.ne(author))
        .filter(room_members::notifications_muted.eq(false))
        .filter(
            room_members::banned_until
                .is_null()
                .or(room_members::banned_until.le(now)),
        )
        .select(room_members::user_id);
    let mut users: Vec<UserId> = if extras.mention_room {
        eligible.load(conn)?
    } else {
        let mut wanted: Vec<UserId> = extras.mentions.clone();
        if !extras.mention_names.is_empty() {
            wanted.extend(
                users::table
                    .filter(users::username_lower.eq_any(&extras.mention_names))
                    .select(users::id)
                    .load::<UserId>(conn)?,
            );
        }
        if wanted.len() > IN_LIST_MAX {
            // Past what one IN list may bind (an @here in a crowded room): filter here.
            let wanted: std::collections::HashSet<UserId> = wanted.into_iter().collect();
            let all: Vec<UserId> = eligible.load(conn)?;
            all.into_iter().filter(|u| wanted.contains(u)).collect()
        } else {
            eligible
                .filter(room_members::user_id.eq_any(&wanted))
                .load(conn)?
        }
    };
    let blockers: Vec<UserId> = user_blocks::table
        .filter(user_blocks::blocked_id.eq(author))
        .select(user_blocks::user_id)
        .load(conn)?;
    users.retain(|u| !blockers.contains(u));
    users.sort_unstable();
    let rows: Vec<NewNotification> = users
        .iter()
        .map(|u| NewNotification {
            user_id: *u,
            kind: "mention",
            room_id: message.room,
            message_id: Some(message.id),
            seq: Some(message.seq),
            actor_id: Some(author),
            created_at: now,
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        // Multi-row INSERT per backend: diesel's batch insert has no MultiBackend form.
        match conn {
            DbConnection::Postgres(pg) => diesel::insert_into(notifications::table)
                .values(chunk)
                .execute(pg)?,
            DbConnection::Sqlite(lite) => diesel::insert_into(notifications::table)
                .values(chunk)
                .execute(lite)?,
        };
    }
    Ok(users)
}
