//! The append-only audit log: the application inserts and reads, never updates or deletes.

use super::schema::audit_log;
use super::{DbConnection, DbError};
use diesel::prelude::*;

#[derive(Debug, Default, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<String>,
    pub room_id: Option<i64>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub details: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub room_id: Option<i64>,
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
