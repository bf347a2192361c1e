//! Queries on `incoming_webhooks`.

use super::schema::{incoming_webhooks, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::{RoomId, UserId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = incoming_webhooks)]
pub struct IncomingWebhook {
    pub id: i64,
    pub room_id: RoomId,
    pub user_id: UserId,
    pub secret_hash: String,
    pub created_by: UserId,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, hook: &IncomingWebhook) -> Result<(), DbError> {
    diesel::insert_into(incoming_webhooks::table)
        .values(hook)
        .execute(conn)?;
    Ok(())
}

/// The hook, its poster's username and whether that account is disabled; revoked or not.
pub fn find(
    conn: &mut DbConnection,
    id: i64,
) -> Result<Option<(IncomingWebhook, String, bool)>, DbError> {
    Ok(incoming_webhooks::table
        .inner_join(users::table)
        .filter(incoming_webhooks::id.eq(id))
        .select((
            IncomingWebhook::as_select(),
            users::username,
            users::disabled,
        ))
        .first(conn)
        .optional()?)
}

/// A room's hooks that are not revoked, with their names, oldest first.
pub fn live_in_room(
    conn: &mut DbConnection,
    room: RoomId,
) -> Result<Vec<(IncomingWebhook, String)>, DbError> {
    Ok(incoming_webhooks::table
        .inner_join(users::table)
        .filter(incoming_webhooks::room_id.eq(room))
        .filter(incoming_webhooks::revoked_at.is_null())
        .order(incoming_webhooks::id.asc())
        .select((IncomingWebhook::as_select(), users::username))
        .load(conn)?)
}

/// Revokes the hook (and disables its poster); false if it was not live in `room`.
pub fn revoke(conn: &mut DbConnection, room: RoomId, id: i64, now: i64) -> Result<bool, DbError> {
    let live = incoming_webhooks::table
        .filter(incoming_webhooks::id.eq(id))
        .filter(incoming_webhooks::room_id.eq(room))
        .filter(incoming_webhooks::revoked_at.is_null());
    let Some(user) = live
        .select(incoming_webhooks::user_id)
        .first::<UserId>(conn)
        .optional()?
    else {
        return Ok(false);
    };
    diesel::update(live)
        .set(incoming_webhooks::revoked_at.eq(now))
        .execute(conn)?;
    diesel::update(users::table.find(user))
        .set(users::disabled.eq(true))
        .execute(conn)?;
    Ok(true)
}
