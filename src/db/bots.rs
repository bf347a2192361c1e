//! Queries on `bots`: the token (hashed) and owner of each bot account.

use super::schema::{bots, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use std::collections::HashMap;
use veza_actors::UserId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = bots)]
pub struct Bot {
    pub user_id: UserId,
    pub owner_id: UserId,
    pub token_hash: String,
    pub token_hint: String,
    pub session_id: i64,
    pub created_at: i64,
    pub rotated_at: i64,
}

/// A bot with its own and its owner's names, for listings.
#[derive(Debug, Clone)]
pub struct Listed {
    pub bot: Bot,
    pub username: String,
    pub owner_name: String,
}

pub fn insert(conn: &mut DbConnection, bot: &Bot) -> Result<(), DbError> {
    diesel::insert_into(bots::table).values(bot).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut DbConnection, user_id: UserId) -> Result<Option<Bot>, DbError> {
    Ok(bots::table
        .find(user_id)
        .select(Bot::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_token_hash(conn: &mut DbConnection, hash: &str) -> Result<Option<Bot>, DbError> {
    Ok(bots::table
        .filter(bots::token_hash.eq(hash))
        .select(Bot::as_select())
        .first(conn)
        .optional()?)
}

pub fn count_owned(conn: &mut DbConnection, owner: UserId) -> Result<i64, DbError> {
    Ok(bots::table
        .filter(bots::owner_id.eq(owner))
        .count()
        .get_result(conn)?)
}

/// Bots owned by `owner` (every bot when `None`), oldest first, with the names.
pub fn list(conn: &mut DbConnection, owner: Option<UserId>) -> Result<Vec<Listed>, DbError> {
    let mut query = bots::table
        .select(Bot::as_select())
        .order(bots::created_at.asc())
        .into_boxed();
    if let Some(owner) = owner {
        query = query.filter(bots::owner_id.eq(owner));
    }
    let rows: Vec<Bot> = query.load(conn)?;
    let ids: Vec<UserId> = rows.iter().flat_map(|b| [b.user_id, b.owner_id]).collect();
    let names: HashMap<UserId, String> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::username))
        .load::<(UserId, String)>(conn)?
        .into_iter()
        .collect();
    let name = |id: UserId| names.get(&id).cloned().unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|bot| Listed {
            username: name(bot.user_id),
            owner_name: name(bot.owner_id),
            bot,
        })
        .collect())
}

/// Puts a new token (and its session) in place of the old one.
pub fn replace_token(
    conn: &mut DbConnection,
    user_id: UserId,
    token_hash: &str,
    token_hint: &str,
    session_id: i64,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(bots::table.find(user_id))
        .set((
            bots::token_hash.eq(token_hash),
            bots::token_hint.eq(token_hint),
            bots::session_id.eq(session_id),
            bots::rotated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn delete(conn: &mut DbConnection, user_id: UserId) -> Result<bool, DbError> {
    Ok(diesel::delete(bots::table.find(user_id)).execute(conn)? == 1)
}
