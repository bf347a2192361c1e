//! Queries for two-factor login: the TOTP secret and state on `users`, and `backup_codes`.

use super::schema::{backup_codes, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::UserId;

/// Stores a new (not yet enabled) secret, replacing any pending one.
pub fn set_pending_secret(
    conn: &mut DbConnection,
    user: UserId,
    sealed: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(users::table.find(user))
        .set((
            users::totp_secret.eq(Some(sealed)),
            users::totp_enabled.eq(false),
            users::totp_last_step.eq(None::<i64>),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn enable(conn: &mut DbConnection, user: UserId, now: i64) -> Result<(), DbError> {
    diesel::update(users::table.find(user))
        .set((users::totp_enabled.eq(true), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// Turns 2FA off: secret, state and backup codes go.
pub fn disable(conn: &mut DbConnection, user: UserId, now: i64) -> Result<(), DbError> {
    diesel::update(users::table.find(user))
        .set((
            users::totp_secret.eq(None::<String>),
            users::totp_enabled.eq(false),
            users::totp_last_step.eq(None::<i64>),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    diesel::delete(backup_codes::table.filter(backup_codes::user_id.eq(user))).execute(conn)?;
    Ok(())
}

/// Records `step` as used, only if it is later than the last used one: `false` means the code was
/// already spent (a replay), atomically even under concurrent logins.
pub fn claim_step(conn: &mut DbConnection, user: UserId, step: i64) -> Result<bool, DbError> {
    let n = diesel::update(
        users::table.find(user).filter(
            users::totp_last_step
                .is_null()
                .or(users::totp_last_step.lt(step)),
        ),
    )
    .set(users::totp_last_step.eq(step))
    .execute(conn)?;
    Ok(n == 1)
}

/// Replaces a user's backup codes with these (id, hash) pairs.
pub fn replace_backup_codes(
    conn: &mut DbConnection,
    user: UserId,
    codes: &[(i64, String)],
    now: i64,
) -> Result<(), DbError> {
    diesel::delete(backup_codes::table.filter(backup_codes::user_id.eq(user))).execute(conn)?;
    for (id, hash) in codes {
        diesel::insert_into(backup_codes::table)
            .values((
                backup_codes::id.eq(id),
                backup_codes::user_id.eq(user),
                backup_codes::code_hash.eq(hash),
                backup_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Spends a backup code: `true` if it was the user's and unused.
pub fn use_backup_code(
    conn: &mut DbConnection,
    user: UserId,
    hash: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(
        backup_codes::table
            .filter(backup_codes::user_id.eq(user))
            .filter(backup_codes::code_hash.eq(hash))
            .filter(backup_codes::used_at.is_null()),
    )
    .set(backup_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn unused_backup_codes(conn: &mut DbConnection, user: UserId) -> Result<i64, DbError> {
    Ok(backup_codes::table
        .filter(backup_codes::user_id.eq(user))
        .filter(backup_codes::used_at.is_null())
        .count()
        .get_result(conn)?)
}

/// Every stored TOTP secret (pending or enabled), by user.
pub fn all_secrets(conn: &mut DbConnection) -> Result<Vec<(UserId, String)>, DbError> {
    let rows: Vec<(UserId, Option<String>)> = users::table
        .filter(users::totp_secret.is_not_null())
        .select((users::id, users::totp_secret))
        .order(users::id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, s)| s.map(|s| (id, s)))
        .collect())
}

/// Swaps a user's sealed secret, only if it is still `old` (a concurrent re-enrolment wins).
pub fn replace_secret(
    conn: &mut DbConnection,
    user: UserId,
    old: &str,
    new: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(users::table.find(user).filter(users::totp_secret.eq(old)))
        .set((users::totp_secret.eq(Some(new)), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}
