//! Queries on `stream_autodj`: a stream's AutoDJ settings (which playlist, how it plays).

use super::schema::{stream_autodj, streams};
use super::streams::StreamRow;
use super::write_txn::write_transaction;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::StreamId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = stream_autodj)]
pub struct AutoDjRow {
    pub stream_id: StreamId,
    pub playlist_id: i64,
    pub mode: String,
    pub crossfade_ms: i64,
    pub handover_ms: i64,
    pub enabled: bool,
    pub updated_at: i64,
}

/// Stores `row` (replacing the stream's previous settings).
pub fn put(conn: &mut DbConnection, row: &AutoDjRow) -> Result<(), DbError> {
    write_transaction(conn, |conn| {
        let updated = diesel::update(stream_autodj::table.find(row.stream_id))
            .set(row)
            .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(stream_autodj::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(())
    })
}

pub fn find(conn: &mut DbConnection, stream: StreamId) -> Result<Option<AutoDjRow>, DbError> {
    Ok(stream_autodj::table
        .find(stream)
        .select(AutoDjRow::as_select())
        .first(conn)
        .optional()?)
}

/// Turns the stream's AutoDJ off (its settings are kept); false if it had none.
pub fn disable(conn: &mut DbConnection, stream: StreamId, now: i64) -> Result<bool, DbError> {
    let n = diesel::update(stream_autodj::table.find(stream))
        .set((
            stream_autodj::enabled.eq(false),
            stream_autodj::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n > 0)
}

/// Every enabled AutoDJ with its stream (what the keeper keeps on air).
pub fn enabled(conn: &mut DbConnection) -> Result<Vec<(AutoDjRow, StreamRow)>, DbError> {
    Ok(stream_autodj::table
        .inner_join(streams::table)
        .filter(stream_autodj::enabled.eq(true))
        .select((AutoDjRow::as_select(), StreamRow::as_select()))
        .load(conn)?)
}
