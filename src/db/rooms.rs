//! Queries on `rooms` and `room_members`.

use super::schema::{room_members, rooms, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use std::collections::HashMap;
use veza_actors::model::{MemberState, RoomInfo, RoomKind, RoomRole};
use veza_actors::{RoomId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rooms)]
pub struct RoomRow {
    pub id: RoomId,
    pub name: String,
    pub topic: Option<String>,
    pub private: bool,
    pub owner_id: UserId,
    pub last_seq: i64,
    pub slow_mode_s: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub kind: String,
    pub member_key: Option<String>,
}

impl RoomRow {
    pub fn kind(&self) -> RoomKind {
        RoomKind::parse(&self.kind)
    }

    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            id: self.id,
            name: self.name.clone(),
            topic: self.topic.clone(),
            private: self.private,
            owner: self.owner_id,
            slow_mode_s: self.slow_mode_s,
            last_seq: self.last_seq,
            kind: self.kind(),
        }
    }
}

/// How many rooms `owner` owns (for `max_rooms_per_user`).
pub fn count_owned(conn: &mut DbConnection, owner: UserId) -> Result<i64, DbError> {
    Ok(rooms::table
        .filter(rooms::owner_id.eq(owner))
        .count()
        .get_result(conn)?)
}

/// Creates a room owned by `owner`, with the owner's membership row.
pub fn create(
    conn: &mut DbConnection,
    id: RoomId,
    name: &str,
    topic: Option<&str>,
    private: bool,
    owner: UserId,
    now: i64,
) -> Result<RoomRow, DbError> {
    conn.transaction(|conn| {
        diesel::insert_into(rooms::table)
            .values((
                rooms::id.eq(id),
                rooms::name.eq(name),
                rooms::topic.eq(topic),
                rooms::private.eq(private),
                rooms::owner_id.eq(owner),
                rooms::last_seq.eq(0),
                rooms::slow_mode_s.eq(0),
                rooms::created_at.eq(now),
                rooms::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::insert_into(room_members::table)
            .values((
                room_members::room_id.eq(id),
                room_members::user_id.eq(owner),
                room_members::role.eq(RoomRole::Owner.as_str()),
                room_members::joined_at.eq(now),
            ))
            .execute(conn)?;
        rooms::table
            .find(id)
            .select(RoomRow::as_select())
            .first(conn)
    })
    .map_err(DbError::from)
}

pub fn find(conn: &mut DbConnection, id: RoomId) -> Result<Option<RoomRow>, DbError> {
    Ok(rooms::table
        .find(id)
        .select(RoomRow::as_select())
        .first(conn)
        .optional()?)
}

/// Public rooms and the private rooms `user` belongs to, newest first.
pub fn visible_to(
    conn: &mut DbConnection,
    user: UserId,
    limit: i64,
) -> Result<Vec<RoomRow>, DbError> {
    let mine = room_members::table
        .filter(room_members::user_id.eq(user))
        .select(room_members::room_id);
    Ok(rooms::table
        .filter(rooms::private.eq(false).or(rooms::id.eq_any(mine)))
        .order(rooms::id.desc())
        .limit(limit)
        .select(RoomRow::as_select())
        .load(conn)?)
}

/// `user`'s membership row in `room`: (role, banned_until).
pub fn membership(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
) -> Result<Option<(String, Option<i64>)>, DbError> {
    Ok(room_members::table
        .find((room, user))
        .select((room_members::role, room_members::banned_until))
        .first(conn)
        .optional()?)
}

/// (user id, username, role, banned until, muted until, kicked at).
type MemberRow = (
    UserId,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Every membership row of a room, with usernames.
pub fn members(
    conn: &mut DbConnection,
    room: RoomId,
) -> Result<HashMap<UserId, MemberState>, DbError> {
    let rows: Vec<MemberRow> = room_members::table
        .inner_join(users::table.on(users::id.eq(room_members::user_id)))
        .filter(room_members::room_id.eq(room))
        .select((
            room_members::user_id,
            users::username,
            room_members::role,
            room_members::banned_until,
            room_members::muted_until,
            room_members::kicked_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, username, role, banned_until, muted_until, kicked_at)| {
                (
                    id,
                    MemberState {
                        username,
                        role: RoomRole::parse(&role),
                        banned_until,
                        muted_until,
                        kicked_at,
                    },
                )
            },
        )
        .collect())
}

/// Reserves `count` sequence numbers in `room`; returns the first. The UPDATE takes the row lock
/// (PostgreSQL) or the write lock (SQLite) first, so concurrent writers cannot get the same numbers,
/// and a rolled-back transaction gives them back: no gaps.
pub fn reserve_seqs(
    conn: &mut DbConnection,
    room: RoomId,
    count: i64,
) -> Result<Option<i64>, DbError> {
    let updated = diesel::update(rooms::table.find(room))
        .set(rooms::last_seq.eq(rooms::last_seq + count))
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    let last: i64 = rooms::table
        .find(room)
        .select(rooms::last_seq)
        .first(conn)?;
    Ok(Some(last - count + 1))
}

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: RoomId,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last_seq: i64,
}

/// [`reserve_seqs`] for several rooms at once: (room, count) pairs, sorted by room; returns each
/// found room's first number (a room missing from the answer does not exist). On PostgreSQL two
/// statements whatever the number of rooms (a batch spread over 100 rooms was 200 round trips):
/// the rows are locked in room order first, so writers on other nodes cannot deadlock with this
/// one, then moved on together. SQLite holds the write lock already: one UPDATE per room, in
/// process.
pub fn reserve_seqs_many(
    conn: &mut DbConnection,
    wants: &[(RoomId, i64)],
) -> Result<HashMap<RoomId, i64>, DbError> {
    use diesel::sql_types::{Array, BigInt};
    let pg = match conn {
        DbConnection::Postgres(pg) if wants.len() > 1 => pg,
        _ => {
            let mut first = HashMap::new();
            for &(room, count) in wants {
                if let Some(seq) = reserve_seqs(conn, room, count)? {
                    first.insert(room, seq);
                }
            }
            return Ok(first);
        }
    };
    let (ids, counts): (Vec<RoomId>, Vec<i64>) = wants.iter().copied().unzip();
    diesel::sql_query("SELECT id FROM rooms WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind::<Array<BigInt>, _>(&ids)
        .execute(pg)?;
    let moved: Vec<Reserved> = diesel::sql_query(
        "UPDATE rooms SET last_seq = rooms.last_seq + u.n \
         FROM unnest($1::bigint[], $2::bigint[]) AS u(id, n) WHERE rooms.id = u.id \
         RETURNING rooms.id, rooms.last_seq",
    )
    .bind::<Array<BigInt>, _>(&ids)
    .bind::<Array<BigInt>, _>(&counts)
    .load(pg)?;
    let count: HashMap<RoomId, i64> = wants.iter().copied().collect();
    Ok(moved
        .into_iter()
        .filter_map(|r| Some((r.id, r.last_seq - count.get(&r.id)? + 1)))
        .collect())
}

/// Creates or updates a membership row; `None` fields keep their value.
pub fn upsert_member(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
    role: Option<RoomRole>,
    banned_until: Option<Option<i64>>,
    muted_until: Option<Option<i64>>,
    now: i64,
) -> Result<(), DbError> {
    let exists = room_members::table
        .find((room, user))
        .select(room_members::user_id)
        .first::<UserId>(conn)
        .optional()?
        .is_some();
    if !exists {
        // A new member starts with everything so far read.
        let read_seq: i64 = rooms::table
            .find(room)
            .select(rooms::last_seq)
            .first(conn)
            .optional()?
            .unwrap_or(0);
        diesel::insert_into(room_members::table)
            .values((
                room_members::room_id.eq(room),
                room_members::user_id.eq(user),
                room_members::role.eq(role.unwrap_or(RoomRole::Member).as_str()),
                room_members::joined_at.eq(now),
                room_members::banned_until.eq(banned_until.flatten()),
                room_members::muted_until.eq(muted_until.flatten()),
                room_members::read_seq.eq(read_seq),
            ))
            .execute(conn)?;
        return Ok(());
    }
    let target = room_members::table.find((room, user));
    if let Some(role) = role {
        diesel::update(target)
            .set(room_members::role.eq(role.as_str()))
            .execute(conn)?;
    }
    if let Some(until) = banned_until {
        diesel::update(target)
            .set(room_members::banned_until.eq(until))
            .execute(conn)?;
    }
    if let Some(until) = muted_until {
        diesel::update(target)
            .set(room_members::muted_until.eq(until))
            .execute(conn)?;
    }
    Ok(())
}

/// Records a kick on the membership row (none is created); true if there was one.
pub fn kick(
    conn: &mut DbConnection,
    room: RoomId,
    user: UserId,
    now: i64,
) -> Result<bool, DbError> {
    Ok(diesel::update(room_members::table.find((room, user)))
        .set(room_members::kicked_at.eq(now))
        .execute(conn)?
        == 1)
}

pub fn set_topic(
    conn: &mut DbConnection,
    room: RoomId,
    topic: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    Ok(diesel::update(rooms::table.find(room))
        .set((rooms::topic.eq(topic), rooms::updated_at.eq(now)))
        .execute(conn)?
        == 1)
}

pub fn set_slow_mode(
    conn: &mut DbConnection,
    room: RoomId,
    seconds: i64,
    now: i64,
) -> Result<bool, DbError> {
    Ok(diesel::update(rooms::table.find(room))
        .set((rooms::slow_mode_s.eq(seconds), rooms::updated_at.eq(now)))
        .execute(conn)?
        == 1)
}
