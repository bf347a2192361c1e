//! Expiry of raw listener sessions: those that ended longer ago than the retention are folded into
//! `listener_minutes` and deleted, in one transaction per batch. Safe with every node running it:
//! a batch is claimed by deleting its rows, and a transaction that deleted fewer rows than it read
//! (another node got there first) is rolled back, so no session is ever counted twice.

use super::error::AnalyticsError;
use super::minutes::{add_session, Minutes};
use crate::db::analytics::{self, MinuteRow};
use crate::db::write_txn::write_transaction;
use crate::db::DbConnection;
use std::collections::HashMap;
use veza_actors::StreamId;

/// Sessions folded per transaction.
pub const FOLD_BATCH: i64 = 1000;

/// Folds every session that ended before `cutoff` (ms); returns how many. `Claimed` when another
/// node is folding the same sessions (this node's current batch changed nothing).
pub fn fold_expired(conn: &mut DbConnection, cutoff: i64) -> Result<usize, AnalyticsError> {
    let mut folded = 0;
    loop {
        let n = write_transaction(conn, |conn| fold_batch(conn, cutoff))?;
        folded += n;
        if (n as i64) < FOLD_BATCH {
            return Ok(folded);
        }
    }
}

fn fold_batch(conn: &mut DbConnection, cutoff: i64) -> Result<usize, AnalyticsError> {
    let batch = analytics::ended_before(conn, cutoff, FOLD_BATCH)?;
    if batch.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = batch.iter().map(|s| s.id).collect();
    if analytics::delete_sessions(conn, &ids)? != ids.len() {
        return Err(AnalyticsError::Claimed);
    }
    let mut per_stream: HashMap<StreamId, Minutes> = HashMap::new();
    for s in &batch {
        let end = s.ended_at.unwrap_or(s.started_at);
        let minutes = per_stream.entry(s.stream_id).or_default();
        add_session(minutes, &s.variant, s.started_at, end, 0, i64::MAX);
    }
    for (stream_id, minutes) in per_stream {
        for ((minute, variant), counts) in minutes {
            analytics::add_to_minute(
                conn,
                &MinuteRow {
                    stream_id,
                    minute,
                    variant,
                    listeners: counts.listeners,
                    sessions_started: counts.sessions_started,
                    listen_ms: counts.listen_ms,
                },
            )?;
        }
    }
    Ok(batch.len())
}
