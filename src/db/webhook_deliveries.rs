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
use std::collections::{HashMap, HashSet};
use veza_actors::MessageId;

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
    pub message_id: MessageId,
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
    pub message_id: MessageId,
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
    /// over: one trial call at a time (over every node), not its whole backlog.
    pub circuit_threshold: i64,
    /// Calls one hook may have in flight at once (over every node), so one slow endpoint cannot
    /// take every caller while other rooms' hooks wait.
    pub per_hook: i64,
}

/// A delivery this node now holds: the row, its hook, and the claim's token (its
/// `claimed_until`), which the attempt's record must still find there.
pub struct Claimed {
    pub delivery: Delivery,
    pub hook: OutgoingWebhook,
    pub token: i64,
    /// The half-open circuit's trial call.
    pub trial: bool,
}

/// Rows looked at to find the hooks with due deliveries.
const DUE_SCAN: i64 = 1_000;

/// Claims up to `limit` due deliveries of live hooks whose circuit is not open: hooks in the
/// order their oldest due delivery has waited, at most `per_hook` in flight each (one trial for
/// a half-open circuit), each hook's oldest first.
pub fn claim_due(conn: &mut DbConnection, rules: &ClaimRules) -> Result<Vec<Claimed>, DbError> {
    let now = rules.now;
    let due: Vec<i64> = deliveries::table
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
        .limit(DUE_SCAN)
        .select(deliveries::hook_id)
        .load(conn)?;
    let mut seen = HashSet::new();
    let order: Vec<i64> = due.into_iter().filter(|h| seen.insert(*h)).collect();
    if order.is_empty() {
        return Ok(Vec::new());
    }
    let mut in_flight: HashMap<i64, i64> = HashMap::new();
    for hook in deliveries::table
        .filter(deliveries::hook_id.eq_any(&order))
        .filter(deliveries::status.eq(PENDING))
        .filter(deliveries::claimed_until.ge(now))
        .select(deliveries::hook_id)
        .load::<i64>(conn)?
    {
        *in_flight.entry(hook).or_default() += 1;
    }
    let mut hooks_by_id: HashMap<i64, OutgoingWebhook> = hooks::table
        .filter(hooks::id.eq_any(&order))
        .select(OutgoingWebhook::as_select())
        .load(conn)?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let mut claimed = Vec::new();
    for hook_id in order {
        let room_left = rules.limit - claimed.len() as i64;
        let Some(hook) = hooks_by_id.remove(&hook_id) else {
            continue;
        };
        let busy = in_flight.get(&hook_id).copied().unwrap_or(0);
        let trial = hook.consecutive_failures >= rules.circuit_threshold;
        let budget = if trial {
            if busy > 0 || !take_trial(conn, hook_id, now, rules.lease_ms)? {
                continue;
            }
            1
        } else {
            (rules.per_hook - busy).min(room_left)
        };
        if room_left <= 0 {
            break;
        }
        if budget > 0 {
            claim_for_hook(conn, hook, budget, trial, rules, &mut claimed)?;
        }
    }
    Ok(claimed)
}

/// The half-open circuit's one trial: true if this claimer won it.
fn take_trial(
    conn: &mut DbConnection,
    hook: i64,
    now: i64,
    lease_ms: i64,
) -> Result<bool, DbError> {
    let won = diesel::update(
        hooks::table
            .find(hook)
            .filter(hooks::trial_until.is_null().or(hooks::trial_until.lt(now))),
    )
    .set(hooks::trial_until.eq(now + lease_ms))
    .execute(conn)?;
    Ok(won == 1)
}

/// Claims up to `budget` of `hook`'s due deliveries, oldest first.
fn claim_for_hook(
    conn: &mut DbConnection,
    hook: OutgoingWebhook,
    budget: i64,
    trial: bool,
    rules: &ClaimRules,
    claimed: &mut Vec<Claimed>,
) -> Result<(), DbError> {
    let now = rules.now;
    let token = now + rules.lease_ms;
    let rows: Vec<Delivery> = deliveries::table
        .filter(deliveries::hook_id.eq(hook.id))
        .filter(deliveries::status.eq(PENDING))
        .filter(deliveries::next_attempt_at.le(now))
        .filter(
            deliveries::claimed_until
                .is_null()
                .or(deliveries::claimed_until.lt(now)),
        )
        .order((deliveries::next_attempt_at.asc(), deliveries::id.asc()))
        .limit(budget)
        .select(Delivery::as_select())
        .load(conn)?;
    for delivery in rows {
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
        .set(deliveries::claimed_until.eq(token))
        .execute(conn)?;
        if won == 1 {
            claimed.push(Claimed {
                delivery,
                hook: hook.clone(),
                token,
                trial,
            });
        }
    }
    Ok(())
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

/// Records an attempt and gives up the claim; false (nothing written) when the claim `token` is
/// no longer the row's: the lease ran out and another node took it, or the hook was revoked.
pub fn record(
    conn: &mut DbConnection,
    id: i64,
    token: i64,
    attempt: &Attempted,
) -> Result<bool, DbError> {
    let n = diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::status.eq(PENDING))
            .filter(deliveries::claimed_until.eq(token)),
    )
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
    Ok(n == 1)
}

/// Gives up a claim without an attempt (the store failed mid-way): the row is due again at once.
pub fn release(conn: &mut DbConnection, id: i64, token: i64) -> Result<(), DbError> {
    diesel::update(
        deliveries::table
            .find(id)
            .filter(deliveries::status.eq(PENDING))
            .filter(deliveries::claimed_until.eq(token)),
    )
    .set(deliveries::claimed_until.eq(None::<i64>))
    .execute(conn)?;
    Ok(())
}

/// Forgets finished deliveries (delivered, failed, cancelled) older than `before`.
pub fn prune(conn: &mut DbConnection, before: i64) -> Result<usize, DbError> {
    Ok(diesel::delete(
        deliveries::table
            .filter(deliveries::status.ne(PENDING))
            .filter(deliveries::finished_at.lt(before)),
    )
    .execute(conn)?)
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
