//! Queries on `streams`.

use super::schema::streams;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::{RoomId, StreamId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = streams)]
pub struct StreamRow {
    pub id: StreamId,
    pub owner_id: UserId,
    pub room_id: Option<RoomId>,
    pub title: String,
    pub mount: String,
    pub key_hash: String,
    pub scheduled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub effects: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = streams)]
pub struct NewStream<'a> {
    pub id: StreamId,
    pub owner_id: UserId,
    pub room_id: Option<RoomId>,
    pub title: &'a str,
    pub mount: &'a str,
    pub key_hash: &'a str,
    pub scheduled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How many streams `owner` owns (for `max_streams_per_user`).
pub fn count_owned(conn: &mut DbConnection, owner: UserId) -> Result<i64, DbError> {
    Ok(streams::table
        .filter(streams::owner_id.eq(owner))
        .count()
        .get_result(conn)?)
}

pub fn insert(conn: &mut DbConnection, stream: &NewStream<'_>) -> Result<(), DbError> {
    diesel::insert_into(streams::table)
        .values(stream)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: StreamId) -> Result<Option<StreamRow>, DbError> {
    Ok(streams::table
        .find(id)
        .select(StreamRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_mount(conn: &mut DbConnection, mount: &str) -> Result<Option<StreamRow>, DbError> {
    Ok(streams::table
        .filter(streams::mount.eq(mount))
        .select(StreamRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn list(conn: &mut DbConnection, limit: i64) -> Result<Vec<StreamRow>, DbError> {
    Ok(streams::table
        .order(streams::id.desc())
        .limit(limit)
        .select(StreamRow::as_select())
        .load(conn)?)
}

pub fn set_key_hash(
    conn: &mut DbConnection,
    id: StreamId,
    key_hash: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(streams::table.find(id))
        .set((streams::key_hash.eq(key_hash), streams::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

pub fn set_effects(
    conn: &mut DbConnection,
    id: StreamId,
    effects: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(streams::table.find(id))
        .set((streams::effects.eq(effects), streams::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}
