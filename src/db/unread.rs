//! Read markers and unread counts. A member's unread count in a room is the messages after their
//! marker written by others, not deleted, and in the timeline (thread-only replies do not count);
//! their mention count is their unread mention notifications there. Both are counted from the
//! store when asked (a send writes nothing per member), so they are exact whatever the number of
//! concurrent senders.

use super::schema::{messages, notifications, room_members, rooms};
use super::{DbConnection, DbError};
use diesel::dsl::count_star;
use diesel::prelude::*;
use std::collections::HashMap;
use veza_actors::store::Unread;
use veza_actors::{RoomId, UserId};

/// Moves each member's marker in `room` forward to their seq (at most the room's last seq) and
/// marks their mentions up to it read: two statements per distinct seq (readers of a busy room
/// mostly send the same one), whatever the number of readers. Returns the markers as they stand
/// after the write (members only; a concurrent higher marker wins) and the room's last seq.
pub fn mark_read(
    conn: &mut DbConnection,
    room: RoomId,
    markers: &[(UserId, i64)],
    now: i64,
) -> Result<(Vec<(UserId, i64)>, i64), DbError> {
    let last: i64 = rooms::table
        .find(room)
        .select(rooms::last_seq)
        .first::<i64>(conn)
        .optional()?
        .unwrap_or(0);
    let mut by_seq: HashMap<i64, Vec<UserId>> = HashMap::new();
    for (user, seq) in markers {
        by_seq.entry((*seq).min(last)).or_default().push(*user);
    }
    for (seq, users) in &by_seq {
        diesel::update(
            room_members::table
                .filter(room_members::room_id.eq(room))
                .filter(room_members::user_id.eq_any(users))
                .filter(room_members::read_seq.lt(seq)),
        )
        .set(room_members::read_seq.eq(seq))
        .execute(conn)?;
        diesel::update(
            notifications::table
                .filter(notifications::room_id.eq(room))
                .filter(notifications::user_id.eq_any(users))
                .filter(notifications::read_at.is_null())
                .filter(notifications::seq.le(seq)),
        )
        .set(notifications::read_at.eq(now))
        .execute(conn)?;
    }
    let ids: Vec<UserId> = markers.iter().map(|(u, _)| *u).collect();
    let standing: Vec<(UserId, i64)> = room_members::table
        .filter(room_members::room_id.eq(room))
        .filter(room_members::user_id.eq_any(ids))
        .select((room_members::user_id, room_members::read_seq))
        .load(conn)?;
    Ok((standing, last))
}

/// Each of `users`' counts in `room` (members only): three queries whatever the number of users
/// (their markers, then the unread messages and the unread mentions, each counted per user in one
/// grouped query).
pub fn in_room(
    conn: &mut DbConnection,
    room: RoomId,
    users: &[UserId],
) -> Result<Vec<Unread>, DbError> {
    let ids = users;
    let markers: Vec<(UserId, i64)> = room_members::table
        .filter(room_members::room_id.eq(room))
        .filter(room_members::user_id.eq_any(ids))
        .select((room_members::user_id, room_members::read_seq))
        .load(conn)?;
    if markers.is_empty() {
        return Ok(Vec::new());
    }
    let unread: HashMap<UserId, i64> = messages::table
        .inner_join(
            room_members::table.on(room_members::room_id
                .eq(messages::room_id)
                .and(room_members::user_id.eq_any(ids))),
        )
        .filter(messages::room_id.eq(room))
        .filter(messages::seq.gt(room_members::read_seq))
        .filter(messages::author_id.ne(room_members::user_id))
        .filter(messages::deleted_at.is_null())
        .filter(
            messages::thread_id
                .is_null()
                .or(messages::also_in_room.eq(true)),
        )
        .group_by(room_members::user_id)
        .select((room_members::user_id, count_star()))
        .load::<(UserId, i64)>(conn)?
        .into_iter()
        .collect();
    let mentions: HashMap<UserId, i64> = notifications::table
        .filter(notifications::kind.eq("mention"))
        .filter(notifications::room_id.eq(room))
        .filter(notifications::user_id.eq_any(ids))
        .filter(notifications::read_at.is_null())
        .group_by(notifications::user_id)
        .select((notifications::user_id, count_star()))
        .load::<(UserId, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(markers
        .into_iter()
        .map(|(user, read_seq)| Unread {
            user,
            read_seq,
            unread: unread.get(&user).copied().unwrap_or(0),
            mentions: mentions.get(&user).copied().unwrap_or(0),
        })
        .collect())
}

/// A member's standing in one of their rooms, for the room list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoomCounts {
    pub read_seq: i64,
    pub unread: i64,
    pub mentions: i64,
    pub muted: bool,
}

/// `user`'s counts in every room they are a member of: three grouped queries, whatever the
/// number of rooms.
pub fn for_user(
    conn: &mut DbConnection,
    user: UserId,
) -> Result<HashMap<RoomId, RoomCounts>, DbError> {
    let mut out: HashMap<RoomId, RoomCounts> = room_members::table
        .filter(room_members::user_id.eq(user))
        .select((
            room_members::room_id,
            room_members::read_seq,
            room_members::notifications_muted,
        ))
        .load::<(RoomId, i64, bool)>(conn)?
        .into_iter()
        .map(|(room, read_seq, muted)| {
            (
                room,
                RoomCounts {
                    read_seq,
                    muted,
                    ..RoomCounts::default()
                },
            )
        })
        .collect();
    let unread: Vec<(RoomId, i64)> = messages::table
        .inner_join(
            room_members::table.on(room_members::room_id
                .eq(messages::room_id)
                .and(room_members::user_id.eq(user))),
        )
        .filter(messages::seq.gt(room_members::read_seq))
        .filter(messages::author_id.ne(user))
        .filter(messages::deleted_at.is_null())
        .filter(
            messages::thread_id
                .is_null()
                .or(messages::also_in_room.eq(true)),
        )
        .group_by(messages::room_id)
        .select((messages::room_id, count_star()))
        .load(conn)?;
    for (room, n) in unread {
        if let Some(c) = out.get_mut(&room) {
            c.unread = n;
        }
    }
    let mentions: Vec<(Option<RoomId>, i64)> = notifications::table
        .filter(notifications::kind.eq("mention"))
        .filter(notifications::user_id.eq(user))
        .filter(notifications::read_at.is_null())
        .group_by(notifications::room_id)
        .select((notifications::room_id, count_star()))
        .load(conn)?;
    for (room, n) in mentions {
        if let Some(c) = room.and_then(|room| out.get_mut(&room)) {
            c.mentions = n;
        }
    }
    Ok(out)
}

/// Mutes or unmutes `user`'s notifications from `room`; false if they are not a member.
pub fn set_muted(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
    muted: bool,
) -> Result<bool, DbError> {
    Ok(diesel::update(room_members::table.find((room, user)))
        .set(room_members::notifications_muted.eq(muted))
        .execute(conn)?
        > 0)
}
