//! Users blocking users: a block stops direct messages both ways and mentions of the blocker by
//! the blocked.

use super::schema::{user_blocks, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::model::UserRef;
use veza_actors::UserId;

/// `user` blocks `target` (again: nothing changes).
pub fn block(
    conn: &mut DbConnection,
    user: UserId,
    target: UserId,
    now: i64,
) -> Result<(), DbError> {
    let exists = user_blocks::table
        .find((user, target))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !exists {
        let inserted = diesel::insert_into(user_blocks::table)
            .values((
                user_blocks::user_id.eq(user),
                user_blocks::blocked_id.eq(target),
                user_blocks::created_at.eq(now),
            ))
            .execute(conn)
            .map_err(DbError::from);
        match inserted {
            // Blocked twice at the same moment: once is what was asked.
            Err(e) if e.is_unique_violation() => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Lifts a block; false if there was none.
pub fn unblock(conn: &mut DbConnection, user: UserId, target: UserId) -> Result<bool, DbError> {
    Ok(diesel::delete(user_blocks::table.find((user, target))).execute(conn)? > 0)
}

/// Whom `user` blocked, and when, newest first.
pub fn of_user(conn: &mut DbConnection, user: UserId) -> Result<Vec<(UserRef, i64)>, DbError> {
    let rows: Vec<(UserId, String, i64)> = user_blocks::table
        .inner_join(users::table.on(users::id.eq(user_blocks::blocked_id)))
        .filter(user_blocks::user_id.eq(user))
        .order(user_blocks::created_at.desc())
        .select((users::id, users::username, user_blocks::created_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, username, at)| (UserRef { id, username }, at))
        .collect())
}

/// Whether `user` and any of `others` blocked each other (either way).
pub fn between(conn: &mut DbConnection, user: UserId, others: &[UserId]) -> Result<bool, DbError> {
    if others.is_empty() {
        return Ok(false);
    }
    let n: i64 = user_blocks::table
        .filter(
            user_blocks::user_id
                .eq(user)
                .and(user_blocks::blocked_id.eq_any(others))
                .or(user_blocks::blocked_id
                    .eq(user)
                    .and(user_blocks::user_id.eq_any(others))),
        )
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
