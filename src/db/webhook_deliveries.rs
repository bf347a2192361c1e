//! Queries on `webhook_deliveries`: the durable queue of outgoing webhook calls and, once they
//! are done, their log.
//!
//! A row is `pending` until it is `delivered`, `failed` (out of attempts, or refused for good) or
//! `cancelled` (its hook was revoked). Any node's dispatcher may take a due row: it claims it for a
//! lease (`claimed_until`) with an UPDATE that only one claimer can win, so a row is worked on by
//! one node at a time, and a node that dies mid-call leaves it to be retried after the lease.

use super::outgoing_webhooks::OutgoingWebhook;
use super::schema::{outgoing_webhooks as hooks, webhook_deliveries as deliveries};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use std::collections::HashSet;

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// Rows one multi-row INSERT carries.
const INSERT_CHUNK: usize = 500;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = deliveries)]
pub struct NewDelivery {
    pub hook_id: i64,
    pub event: &'static str,
    pub message_id: i64,
    pub detail: Option<String>,
    pub status: &'static str,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: i64,
    pub hook_id: i64,
    pub event: String,
    pub message_id: i64,
    pub detail: Option<String>,
    pub payload: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub latency_ms: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

pub fn insert_many(conn: &mut DbConnection, rows: &[NewDelivery]) -> Result<(), DbError> {
    // Multi-row INSERT is written per backend: diesel's batch insert has no MultiBackend form.
    for chunk in rows.chunks(INSERT_CHUNK) {
        match conn {
            DbConnection::Postgres(pg) => diesel::insert_into(deliveries::table)
                .values(chunk)
                .execute(pg)?,
            DbConnection::Sqlite(lite) => diesel::insert_into(deliveries::table)
                .values(chunk)
                .execute(lite)?,
        };
    }
    Ok(())
}

/// What a dispatcher may take now.
pub struct ClaimRules {
    pub now: i64,
    /// How long a claim holds before another node may take the row.
    pub lease_ms: i64,
    pub limit: i64,
    /// Failures in a row from which a hook's circuit counts as half-open once its open time is
    /// over: one trial call at a time, not its whole backlog.
    pub circuit_threshold: i64,
}

/// Claims up to `limit` due deliveries of live hooks whose circuit is not open, oldest due first,
/// with their hooks. At most one per hook whose circuit is half-open.
pub fn claim_due(
    conn: &mut DbConnection,
    rules: &ClaimRules,
) -> Result<Vec<(Delivery, OutgoingWebhook)>, DbError> {
    let now = rules.now;
    let candidates: Vec<(Delivery, OutgoingWebhook)> = deliveries::table
        .inner_join(hooks::table)
        .filter(deliveries::status.eq(PENDING))
        .filter(deliveries::next_attempt_at.le(now))
        .filter(
            deliveries::claimed_until
                .is_null()
                .or(deliveries::claimed_until.lt(now)),
        )
        .filter(hooks::revoked_at.is_null())
        .filter(
            hooks::circuit_open_until
                .is_null()
                .or(hooks::circuit_open_until.le(now)),
        )
        .order((deliveries::next_attempt_at.asc(), deliveries::id.asc()))
        .limit(rules.limit * 4)
        .select((Delivery::as_select(), OutgoingWebhook::as_select()))
        .load(conn)?;
    let mut trial_taken: HashSet<i64> = HashSet::new();
    let mut claimed = Vec::new();
    for (delivery, hook) in candidates {
        if claimed.len() as i64 >= rules.limit {
            break;
        }
        let half_open = hook.consecutive_failures >= rules.circuit_threshold;
        if half_open && !trial_taken.insert(hook.id) {
            continue;
        }
        let won = diesel::update(
            deliveries::table
                .find(delivery.id)
                .filter(deliveries::status.eq(PENDING))
                .filter(
                    deliveries::claimed_until
                        .is_null()
                        .or(deliveries::claimed_until.lt(now)),
                ),
        )
        .set(deliveries::claimed_until.eq(now + rules.lease_ms))
        .execute(conn)?;
        if won == 1 {
            claimed.push((delivery, hook));
        }
    }
    Ok(claimed)
}

/// The body sent on every attempt, fixed at the first.
pub fn set_payload(conn: &mut DbConnection, id: i64, payload: &str) -> Result<(), DbError> {
    diesel::update(deliveries::table.find(id))
        .set(deliveries::payload.eq(payload))
        .execute(conn)?;
    Ok(())
}

/// A delivery that turned out not to be wanted (its message does not start with a trigger).
pub fn remove(conn: &mut DbConnection, id: i64) -> Result<(), DbError> {
    diesel::delete(deliveries::table.find(id)).execute(conn)?;
    Ok(())
}

/// What one attempt did to its row.
#[derive(Debug, Clone)]
pub struct Attempted {
    pub status: &'static str,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub latency_ms: i64,
    pub finished_at: Option<i64>,
}

/// Records an attempt and gives up the claim.
pub fn record(conn: &mut DbConnection, id: i64, attempt: &Attempted) -> Result<(), DbError> {
    diesel::update(deliveries::table.find(id))
        .set((
            deliveries::status.eq(attempt.status),
            deliveries::attempts.eq(attempt.attempts),
            deliveries::next_attempt_at.eq(attempt.next_attempt_at),
            deliveries::last_status.eq(attempt.last_status),
            deliveries::last_error.eq(attempt.last_error.as_deref()),
            deliveries::latency_ms.eq(attempt.latency_ms),
            deliveries::finished_at.eq(attempt.finished_at),
            deliveries::claimed_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Gives up a claim without an attempt (the store failed mid-way): the row is due again at once.
pub fn release(conn: &mut DbConnection, id: i64) -> Result<(), DbError> {
    diesel::update(deliveries::table.find(id))
        .set(deliveries::claimed_until.eq(None::<i64>))
        .execute(conn)?;
    Ok(())
}

/// The revoked hook's queued deliveries will not be made.
pub fn cancel_pending(conn: &mut DbConnection, hook: i64, now: i64) -> Result<usize, DbError> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::hook_id.eq(hook))
            .filter(deliveries::status.eq(PENDING)),
    )
    .set((
        deliveries::status.eq(CANCELLED),
        deliveries::finished_at.eq(now),
        deliveries::claimed_until.eq(None::<i64>),
    ))
    .execute(conn)?)
}

/// The hook's deliveries, newest first, with ids below `before`.
pub fn for_hook(
    conn: &mut DbConnection,
    hook: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Delivery>, DbError> {
    Ok(deliveries::table
        .filter(deliveries::hook_id.eq(hook))
        .filter(deliveries::id.lt(before.unwrap_or(i64::MAX)))
        .order(deliveries::id.desc())
        .limit(limit)
        .select(Delivery::as_select())
        .load(conn)?)
}
