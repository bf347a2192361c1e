//! Queries on `sessions` (refresh-token families) and `refresh_tokens`.

use super::schema::{refresh_tokens, sessions, users};
use super::users::User;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::store::SessionStanding;
use veza_actors::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: i64,
    pub user_id: UserId,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: i64,
    pub session_id: i64,
    pub user_id: UserId,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub id: i64,
    pub session_id: i64,
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn create_session(
    conn: &mut DbConnection,
    id: i64,
    user_id: UserId,
    now: i64,
) -> Result<(), DbError> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(id),
            sessions::user_id.eq(user_id),
            sessions::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn insert_refresh_token(
    conn: &mut DbConnection,
    token: &NewRefreshToken<'_>,
) -> Result<(), DbError> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

pub fn find_refresh_token(
    conn: &mut DbConnection,
    token_hash: &str,
) -> Result<Option<RefreshToken>, DbError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()?)
}

/// Marks a token used. Returns false if it was already used or revoked: the caller then treats the
/// presentation as reuse. Done as one conditional UPDATE so two racing refreshes cannot both win.
pub fn consume_refresh_token(conn: &mut DbConnection, id: i64, now: i64) -> Result<bool, DbError> {
    let updated = diesel::update(
        refresh_tokens::table
            .find(id)
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Revokes a whole family: the session and every refresh token in it.
pub fn revoke_session(
    conn: &mut DbConnection,
    session_id: i64,
    now: i64,
    reason: &str,
) -> Result<(), DbError> {
    conn.transaction(|conn| {
        diesel::update(
            sessions::table
                .find(session_id)
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(now),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(conn)?;
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::session_id.eq(session_id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)?;
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}

/// The session and its user, as checked on every authenticated request.
pub fn find_with_user(
    conn: &mut DbConnection,
    session_id: i64,
) -> Result<Option<(Session, User)>, DbError> {
    Ok(sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .select((Session::as_select(), User::as_select()))
        .first(conn)
        .optional()?)
}

/// Revokes every open session of a user (and their refresh tokens); returns how many.
pub fn revoke_all_for_user(
    conn: &mut DbConnection,
    user_id: UserId,
    now: i64,
    reason: &str,
) -> Result<usize, DbError> {
    revoke_all_but(conn, user_id, None, now, reason)
}

/// Revokes every open session of a user except `keep`; returns how many.
pub fn revoke_all_but(
    conn: &mut DbConnection,
    user_id: UserId,
    keep: Option<i64>,
    now: i64,
    reason: &str,
) -> Result<usize, DbError> {
    let open: Vec<i64> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::id.ne(keep.unwrap_or(-1)))
        .select(sessions::id)
        .load(conn)?;
    for id in &open {
        revoke_session(conn, *id, now, reason)?;
    }
    Ok(open.len())
}

/// How each of `ids` stands: ended (revoked, or its user disabled) and the user's global role.
pub fn standing(conn: &mut DbConnection, ids: &[i64]) -> Result<Vec<SessionStanding>, DbError> {
    let mut all = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, Option<i64>, bool, String)> = sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq_any(chunk))
            .select((
                sessions::id,
                sessions::revoked_at,
                users::disabled,
                users::role,
            ))
            .load(conn)?;
        all.extend(
            rows.into_iter()
                .map(|(session, revoked_at, disabled, role)| SessionStanding {
                    session,
                    ended: revoked_at.is_some() || disabled,
                    role,
                }),
        );
    }
    Ok(all)
}
