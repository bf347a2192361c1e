//! The append-only audit log: the application inserts and reads, never updates or deletes.

use super::schema::audit_log;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::{RoomId, UserId};

#[derive(Debug, Default, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub id: i64,
    pub actor_id: Option<UserId>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub room_id: Option<RoomId>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub details: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub room_id: Option<RoomId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: Option<String>,
    pub created_at: i64,
}

pub fn record(conn: &mut DbConnection, entry: &NewAuditEntry<'_>) -> Result<(), DbError> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)?;
    Ok(())
}

/// The newest entries first, optionally only one action.
pub fn recent(
    conn: &mut DbConnection,
    action: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>, DbError> {
    let mut query = audit_log::table
        .select(AuditEntry::as_select())
        .order(audit_log::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(action) = action {
        query = query.filter(audit_log::action.eq(action));
    }
    Ok(query.load(conn)?)
}

/// Filters for the admin audit query; `before` pages back by id (newest first).
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_id: Option<UserId>,
    pub target_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
}

pub fn query(conn: &mut DbConnection, f: &AuditFilter) -> Result<Vec<AuditEntry>, DbError> {
    let mut q = audit_log::table
        .select(AuditEntry::as_select())
        .order(audit_log::id.desc())
        .limit(f.limit)
        .into_boxed();
    if let Some(action) = &f.action {
        q = q.filter(audit_log::action.eq(action.clone()));
    }
    if let Some(actor) = f.actor_id {
        q = q.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(target) = &f.target_id {
        q = q.filter(audit_log::target_id.eq(target.clone()));
    }
    if let Some(since) = f.since {
        q = q.filter(audit_log::created_at.ge(since));
    }
    if let Some(until) = f.until {
        q = q.filter(audit_log::created_at.lt(until));
    }
    if let Some(before) = f.before {
        q = q.filter(audit_log::id.lt(before));
    }
    Ok(q.load(conn)?)
}
