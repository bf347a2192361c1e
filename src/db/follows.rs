//! Queries on `stream_follows`: who follows which stream.

use super::schema::{stream_follows, streams};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::{RoomId, StreamId, UserId};

/// Follows `stream` (again: no change).
pub fn follow(
    conn: &mut DbConnection,
    stream: StreamId,
    user: UserId,
    now: i64,
) -> Result<(), DbError> {
    let row = (
        stream_follows::stream_id.eq(stream),
        stream_follows::user_id.eq(user),
        stream_follows::created_at.eq(now),
    );
    match conn {
        DbConnection::Postgres(pg) => diesel::insert_into(stream_follows::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConnection::Sqlite(lite) => diesel::insert_into(stream_follows::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(lite)?,
    };
    Ok(())
}

pub fn unfollow(conn: &mut DbConnection, stream: StreamId, user: UserId) -> Result<(), DbError> {
    diesel::delete(stream_follows::table.find((stream, user))).execute(conn)?;
    Ok(())
}

/// Whether `user` follows `stream`, and how many do.
pub fn state(
    conn: &mut DbConnection,
    stream: StreamId,
    user: UserId,
) -> Result<(bool, i64), DbError> {
    let following = stream_follows::table
        .find((stream, user))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    let followers = stream_follows::table
        .filter(stream_follows::stream_id.eq(stream))
        .count()
        .get_result(conn)?;
    Ok((following, followers))
}

/// A followed stream: id, title, mount, room, when followed.
pub type Followed = (StreamId, String, String, Option<RoomId>, i64);

/// What `user` follows, most recent first, at most `limit`.
pub fn of_user(
    conn: &mut DbConnection,
    user: UserId,
    limit: i64,
) -> Result<Vec<Followed>, DbError> {
    Ok(stream_follows::table
        .inner_join(streams::table)
        .filter(stream_follows::user_id.eq(user))
        .order(stream_follows::created_at.desc())
        .limit(limit)
        .select((
            streams::id,
            streams::title,
            streams::mount,
            streams::room_id,
            stream_follows::created_at,
        ))
        .load(conn)?)
}
