//! The notification feed: a user's mentions and `show_starting` entries (a followed stream's
//! slot opened), newest first, each read or unread. Reading a room past a mention reads it too (`unread::mark_read`).

use super::schema::{notifications, room_members, rooms, streams, users};
use super::{messages, DbConnection, DbError};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};
use veza_actors::ids::now_ms;
use veza_actors::model::{MessageView, RoomKind, UserRef};
use veza_actors::{MessageId, RoomId, StreamId, UserId};

/// One entry of the feed.
#[derive(Debug, Clone)]
pub struct Notification {
    pub id: i64,
    pub kind: String,
    /// The room, with its name and kind (`None` for a stream without a room).
    pub room: Option<(RoomId, String, RoomKind)>,
    /// `show_starting`: the stream (id, title, mount).
    pub stream: Option<(StreamId, String, String)>,
    /// The message, unless it was deleted since.
    pub message: Option<MessageView>,
    pub actor: Option<UserRef>,
    pub created_at: i64,
    pub read_at: Option<i64>,
}

type Row = (
    i64,
    String,
    Option<RoomId>,
    Option<MessageId>,
    Option<UserId>,
    i64,
    Option<i64>,
    Option<StreamId>,
);

/// `user`'s feed: entries with id < `before`, newest first, at most `limit`.
pub fn feed(
    conn: &mut DbConnection,
    user: UserId,
    before: i64,
    limit: i64,
    unread_only: bool,
) -> Result<Vec<Notification>, DbError> {
    let base = notifications::table
        .filter(notifications::user_id.eq(user))
        .filter(notifications::id.lt(before))
        .order(notifications::id.desc())
        .limit(limit)
        .select((
            notifications::id,
            notifications::kind,
            notifications::room_id,
            notifications::message_id,
            notifications::actor_id,
            notifications::created_at,
            notifications::read_at,
            notifications::stream_id,
        ));
    let rows: Vec<Row> = if unread_only {
        base.filter(notifications::read_at.is_null()).load(conn)?
    } else {
        base.load(conn)?
    };
    let mut room_ids: Vec<RoomId> = rows.iter().filter_map(|r| r.2).collect();
    room_ids.sort_unstable();
    room_ids.dedup();
    let room_info: HashMap<RoomId, (String, String)> = rooms::table
        .filter(rooms::id.eq_any(&room_ids))
        .select((rooms::id, rooms::name, rooms::kind))
        .load::<(RoomId, String, String)>(conn)?
        .into_iter()
        .map(|(id, name, kind)| (id, (name, kind)))
        .collect();
    let readable = still_readable(conn, user, &room_ids, now_ms() as i64)?;
    let mut actor_ids: Vec<UserId> = rows.iter().filter_map(|r| r.4).collect();
    actor_ids.sort_unstable();
    actor_ids.dedup();
    let names: HashMap<UserId, String> = users::table
        .filter(users::id.eq_any(&actor_ids))
        .select((users::id, users::username))
        .load::<(UserId, String)>(conn)?
        .into_iter()
        .collect();
    let message_ids: Vec<MessageId> = rows.iter().filter_map(|r| r.3).collect();
    let found = messages::by_ids(conn, &message_ids)?;
    let stream_ids: Vec<StreamId> = rows.iter().filter_map(|r| r.7).collect();
    let stream_info: HashMap<StreamId, (String, String)> = streams::table
        .filter(streams::id.eq_any(&stream_ids))
        .select((streams::id, streams::title, streams::mount))
        .load::<(StreamId, String, String)>(conn)?
        .into_iter()
        .map(|(id, title, mount)| (id, (title, mount)))
        .collect();
    let mut views: HashMap<MessageId, MessageView> = messages::views(conn, found)?
        .into_iter()
        .filter(|v| !v.deleted)
        .map(|v| (v.id, v))
        .collect();
    Ok(rows
        .into_iter()
        .map(
            |(id, kind, room, message, actor, created_at, read_at, stream)| {
                Notification {
                    id,
                    kind,
                    room: room.map(|room| {
                        let (name, kind) = room_info.get(&room).cloned().unwrap_or_default();
                        (room, name, RoomKind::parse(&kind))
                    }),
                    stream: stream.and_then(|s| {
                        let (title, mount) = stream_info.get(&s).cloned()?;
                        Some((s, title, mount))
                    }),
                    // A room the user may no longer read (left a private one, banned) keeps its
                    // entry but not the message.
                    message: message
                        .filter(|_| room.is_some_and(|r| readable.contains(&r)))
                        .and_then(|m| views.remove(&m)),
                    actor: actor.map(|a| UserRef {
                        id: a,
                        username: names.get(&a).cloned().unwrap_or_default(),
                    }),
                    created_at,
                    read_at,
                }
            },
        )
        .collect())
}

/// Which of `rooms` `user` may read now: public rooms they are not banned from, and private rooms
/// and conversations they are a member of (not banned).
fn still_readable(
    conn: &mut DbConnection,
    user: UserId,
    room_ids: &[RoomId],
    now: i64,
) -> Result<HashSet<RoomId>, DbError> {
    let memberships: HashMap<RoomId, Option<i64>> = room_members::table
        .filter(room_members::user_id.eq(user))
        .filter(room_members::room_id.eq_any(room_ids))
        .select((room_members::room_id, room_members::banned_until))
        .load::<(RoomId, Option<i64>)>(conn)?
        .into_iter()
        .collect();
    let private: HashMap<RoomId, bool> = rooms::table
        .filter(rooms::id.eq_any(room_ids))
        .select((rooms::id, rooms::private))
        .load::<(RoomId, bool)>(conn)?
        .into_iter()
        .collect();
    Ok(room_ids
        .iter()
        .copied()
        .filter(|room| match memberships.get(room) {
            Some(banned) => !banned.is_some_and(|t| t > now),
            None => private.get(room) == Some(&false),
        })
        .collect())
}

/// How many unread entries `user` has.
pub fn unread_count(conn: &mut DbConnection, user: UserId) -> Result<i64, DbError> {
    Ok(notifications::table
        .filter(notifications::user_id.eq(user))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Marks `user`'s entries read: these ids, or all of them (`None`). Returns the rooms whose
/// counts changed.
pub fn mark_read(
    conn: &mut DbConnection,
    user: UserId,
    ids: Option<&[i64]>,
    now: i64,
) -> Result<Vec<RoomId>, DbError> {
    let unread = notifications::table
        .filter(notifications::user_id.eq(user))
        .filter(notifications::read_at.is_null());
    let rooms: Vec<Option<RoomId>> = match ids {
        Some(ids) => unread
            .filter(notifications::id.eq_any(ids))
            .select(notifications::room_id)
            .load(conn)?,
        None => unread.select(notifications::room_id).load(conn)?,
    };
    let mut rooms: Vec<RoomId> = rooms.into_iter().flatten().collect();
    rooms.sort_unstable();
    rooms.dedup();
    match ids {
        Some(ids) => diesel::update(unread.filter(notifications::id.eq_any(ids)))
            .set(notifications::read_at.eq(now))
            .execute(conn)?,
        None => diesel::update(unread)
            .set(notifications::read_at.eq(now))
            .execute(conn)?,
    };
    Ok(rooms)
}
