//! Direct and group conversations: private rooms whose members are fixed when they are opened.
//! `member_key` (the members' ids, sorted) is unique, so opening a conversation with the same
//! people again returns the same room, even when two people open it at the same moment.

use super::rooms::{self, RoomRow};
use super::schema::{room_members, rooms as rooms_table, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use std::collections::HashMap;
use veza_actors::model::{RoomKind, RoomRole, UserRef};
use veza_actors::{RoomId, UserId};

/// The unique key of a conversation between these users (any order, repeats ignored).
pub fn member_key(users: &[UserId]) -> String {
    let mut ids = users.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.iter()
        .map(UserId::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The conversation between exactly these users, if there is one.
pub fn find(conn: &mut DbConnection, users: &[UserId]) -> Result<Option<RoomRow>, DbError> {
    Ok(rooms_table::table
        .filter(rooms_table::member_key.eq(member_key(users)))
        .select(RoomRow::as_select())
        .first(conn)
        .optional()?)
}

/// Opens the conversation of `creator` with `others`: the existing one (false), or a new one
/// (true) with id `id`: `direct` for two people, `group` for more. The creator owns a group; in a
/// direct conversation both are plain members.
pub fn open(
    conn: &mut DbConnection,
    id: RoomId,
    creator: UserId,
    others: &[UserId],
    now: i64,
) -> Result<(RoomRow, bool), DbError> {
    let mut everyone = others.to_vec();
    everyone.push(creator);
    everyone.sort_unstable();
    everyone.dedup();
    if let Some(row) = find(conn, &everyone)? {
        return Ok((row, false));
    }
    let kind = if everyone.len() == 2 {
        RoomKind::Direct
    } else {
        RoomKind::Group
    };
    let created = super::write_txn::write_transaction(conn, |conn| {
        diesel::insert_into(rooms_table::table)
            .values((
                rooms_table::id.eq(id),
                rooms_table::name.eq(""),
                rooms_table::private.eq(true),
                rooms_table::owner_id.eq(creator),
                rooms_table::last_seq.eq(0),
                rooms_table::slow_mode_s.eq(0),
                rooms_table::created_at.eq(now),
                rooms_table::updated_at.eq(now),
                rooms_table::kind.eq(kind.as_str()),
                rooms_table::member_key.eq(member_key(&everyone)),
            ))
            .execute(conn)?;
        for user in &everyone {
            let role = if kind == RoomKind::Group && *user == creator {
                RoomRole::Owner
            } else {
                RoomRole::Member
            };
            diesel::insert_into(room_members::table)
                .values((
                    room_members::room_id.eq(id),
                    room_members::user_id.eq(user),
                    room_members::role.eq(role.as_str()),
                    room_members::joined_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok::<_, DbError>(())
    });
    match created {
        Ok(()) => {}
        // Someone opened the same conversation at the same moment: theirs it is.
        Err(e) if e.is_unique_violation() => {
            if let Some(row) = find(conn, &everyone)? {
                return Ok((row, false));
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    }
    let row = rooms::find(conn, id)?
        .ok_or_else(|| DbError::Inconsistent("a conversation vanished after its commit".into()))?;
    Ok((row, true))
}

/// The members of each of these rooms, by room, ordered by name.
pub fn members_of(
    conn: &mut DbConnection,
    rooms: &[RoomId],
) -> Result<HashMap<RoomId, Vec<UserRef>>, DbError> {
    if rooms.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(RoomId, UserId, String)> = room_members::table
        .inner_join(users::table.on(users::id.eq(room_members::user_id)))
        .filter(room_members::room_id.eq_any(rooms))
        .order((room_members::room_id, users::username_lower))
        .select((room_members::room_id, users::id, users::username))
        .load(conn)?;
    let mut out: HashMap<RoomId, Vec<UserRef>> = HashMap::new();
    for (room, id, username) in rows {
        out.entry(room).or_default().push(UserRef { id, username });
    }
    Ok(out)
}

/// The conversations `user` is in, newest first.
pub fn of_user(conn: &mut DbConnection, user: UserId, limit: i64) -> Result<Vec<RoomRow>, DbError> {
    let mine = room_members::table
        .filter(room_members::user_id.eq(user))
        .select(room_members::room_id);
    Ok(rooms_table::table
        .filter(rooms_table::kind.ne(RoomKind::Room.as_str()))
        .filter(rooms_table::id.eq_any(mine))
        .order(rooms_table::id.desc())
        .limit(limit)
        .select(RoomRow::as_select())
        .load(conn)?)
}
