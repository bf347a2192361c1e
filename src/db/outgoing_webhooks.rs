//! Queries on `outgoing_webhooks`: a room's hooks and their circuit breakers.

use super::schema::outgoing_webhooks as hooks;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::{RoomId, UserId};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = hooks)]
pub struct OutgoingWebhook {
    pub id: i64,
    pub room_id: RoomId,
    pub name: String,
    pub url: String,
    /// The signing secret, sealed to the hook's id (see `auth::totp::SecretBox::seal_for`).
    pub secret_sealed: String,
    /// Space-separated event types.
    pub events: String,
    /// Space-separated first words (lowercase); empty: every message.
    pub triggers: String,
    pub created_by: UserId,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub consecutive_failures: i64,
    pub circuit_open_until: Option<i64>,
    /// While half-open: the trial call in flight holds the circuit until then.
    pub trial_until: Option<i64>,
}

impl OutgoingWebhook {
    /// Whether the hook asked for events of this type.
    pub fn wants(&self, event: &str) -> bool {
        self.events.split_whitespace().any(|e| e == event)
    }

    pub fn trigger_words(&self) -> impl Iterator<Item = &str> {
        self.triggers.split_whitespace()
    }
}

pub fn insert(conn: &mut DbConnection, hook: &OutgoingWebhook) -> Result<(), DbError> {
    diesel::insert_into(hooks::table)
        .values(hook)
        .execute(conn)?;
    Ok(())
}

/// The hook whether revoked or not.
pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<OutgoingWebhook>, DbError> {
    Ok(hooks::table
        .find(id)
        .select(OutgoingWebhook::as_select())
        .first(conn)
        .optional()?)
}

/// The live hooks of these rooms.
pub fn live_in_rooms(
    conn: &mut DbConnection,
    rooms: &[RoomId],
) -> Result<Vec<OutgoingWebhook>, DbError> {
    Ok(hooks::table
        .filter(hooks::room_id.eq_any(rooms))
        .filter(hooks::revoked_at.is_null())
        .order(hooks::id.asc())
        .select(OutgoingWebhook::as_select())
        .load(conn)?)
}

/// Revokes the hook; false if it was not live in `room`. Its deliveries still queued are
/// cancelled in the same transaction by the caller (see `webhook_deliveries::cancel_pending`).
pub fn revoke(conn: &mut DbConnection, room: RoomId, id: i64, now: i64) -> Result<bool, DbError> {
    let n = diesel::update(
        hooks::table
            .filter(hooks::id.eq(id))
            .filter(hooks::room_id.eq(room))
            .filter(hooks::revoked_at.is_null()),
    )
    .set(hooks::revoked_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

/// A delivery reached the endpoint: its circuit closes.
pub fn succeeded(conn: &mut DbConnection, id: i64) -> Result<(), DbError> {
    diesel::update(hooks::table.find(id))
        .set((
            hooks::consecutive_failures.eq(0),
            hooks::circuit_open_until.eq(None::<i64>),
            hooks::trial_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}

/// A trial call ended without telling whether the endpoint is well (a final refusal such as a
/// 404): the next delivery may be the next trial.
pub fn trial_over(conn: &mut DbConnection, id: i64) -> Result<(), DbError> {
    diesel::update(hooks::table.find(id))
        .set(hooks::trial_until.eq(None::<i64>))
        .execute(conn)?;
    Ok(())
}

/// A delivery failed in a way worth retrying: one more failure in a row; at `threshold` or more
/// the circuit opens until `open_until`. Returns the failures in a row now.
pub fn failed(
    conn: &mut DbConnection,
    id: i64,
    threshold: i64,
    open_until: i64,
) -> Result<i64, DbError> {
    diesel::update(hooks::table.find(id))
        .set((
            hooks::consecutive_failures.eq(hooks::consecutive_failures + 1),
            hooks::trial_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    diesel::update(
        hooks::table
            .find(id)
            .filter(hooks::consecutive_failures.ge(threshold)),
    )
    .set(hooks::circuit_open_until.eq(open_until))
    .execute(conn)?;
    Ok(hooks::table
        .find(id)
        .select(hooks::consecutive_failures)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// Every hook's id and sealed secret (revoked ones too: their log stays readable, and a key
/// rotation should leave nothing behind under the old key).
pub fn all_secrets(conn: &mut DbConnection) -> Result<Vec<(i64, String)>, DbError> {
    Ok(hooks::table
        .select((hooks::id, hooks::secret_sealed))
        .order(hooks::id)
        .load(conn)?)
}

/// Replaces a hook's sealed secret if it is still `old`; false if it changed meanwhile.
pub fn replace_secret(
    conn: &mut DbConnection,
    id: i64,
    old: &str,
    new: &str,
) -> Result<bool, DbError> {
    let n = diesel::update(hooks::table.find(id).filter(hooks::secret_sealed.eq(old)))
        .set(hooks::secret_sealed.eq(new))
        .execute(conn)?;
    Ok(n == 1)
}
