//! Queries on `stream_follows`: who follows which stream.

use super::schema::{stream_follows, streams};
use super::{DbConnection, DbError};
use diesel::prelude::*;

/// Follows `stream` (again: no change).
pub fn follow(conn: &mut DbConnection, stream: i64, user: i64, now: i64) -> Result<(), DbError> {
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

pub fn unfollow(conn: &mut DbConnection, stream: i64, user: i64) -> Result<(), DbError> {
    diesel::delete(stream_follows::table.find((stream, user))).execute(conn)?;
    Ok(())
}

/// Whether `user` follows `stream`, and how many do.
pub fn state(conn: &mut DbConnection, stream: i64, user: i64) -> Result<(bool, i64), DbError> {
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
pub type Followed = (i64, String, String, Option<i64>, i64);

/// What `user` follows, most recent first, at most `limit`.
pub fn of_user(conn: &mut DbConnection, user: i64, limit: i64) -> Result<Vec<Followed>, DbError> {
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
