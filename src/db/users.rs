//! Queries on `users`.

use super::schema::users;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub username_lower: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Encrypted TOTP secret (see `auth::totp::SecretBox`); set from enrolment on.
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    /// A provider vouched for `email` (accounts created or linked by OAuth login).
    pub email_verified: bool,
}

impl User {
    /// Accounts created by an OAuth provider have no password until one is set.
    pub fn has_password(&self) -> bool {
        !self.password_hash.is_empty()
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: UserId,
    pub username: &'a str,
    pub username_lower: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub email_verified: bool,
}

impl<'a> NewUser<'a> {
    /// An account of the `bot` role (a bot, an incoming webhook's poster): no email, no password
    /// (nothing verifies against an empty hash), so it can only act through its own credential.
    pub fn bot_account(id: UserId, username: &'a str, username_lower: &'a str, now: i64) -> Self {
        NewUser {
            id,
            username,
            username_lower,
            email: None,
            password_hash: "",
            role: "bot",
            disabled: false,
            created_at: now,
            updated_at: now,
            email_verified: false,
        }
    }
}

/// Inserts a user; a taken username (in any letter case) is a unique violation.
pub fn insert(conn: &mut DbConnection, user: &NewUser<'_>) -> Result<(), DbError> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    Ok(())
}

/// Looks a user up by name, ignoring letter case.
pub fn find_by_username(conn: &mut DbConnection, name: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(users::username_lower.eq(name.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConnection, id: UserId) -> Result<Option<User>, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Sets a user's global role and password (used by `veza admin create-user` on an existing name).
pub fn update_role_and_password(
    conn: &mut DbConnection,
    id: UserId,
    role: &str,
    password_hash: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::role.eq(role),
            users::password_hash.eq(password_hash),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Users whose name contains `query` (any case), oldest first, for the admin API.
pub fn search(
    conn: &mut DbConnection,
    query: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<User>, DbError> {
    let mut q = users::table
        .select(User::as_select())
        .order(users::id.asc())
        .limit(limit)
        .offset(offset)
        .into_boxed();
    if let Some(text) = query.filter(|t| !t.is_empty()) {
        // LIKE metacharacters in the query are matched literally.
        let escaped = text
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        q = q.filter(
            users::username_lower
                .like(format!("%{escaped}%"))
                .escape('\\'),
        );
    }
    Ok(q.load(conn)?)
}

/// Disables or enables an account; `false` if there is no such user.
pub fn set_disabled(
    conn: &mut DbConnection,
    id: UserId,
    disabled: bool,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(users::table.find(id))
        .set((users::disabled.eq(disabled), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Changes a user's global role; `false` if there is no such user.
pub fn set_role(
    conn: &mut DbConnection,
    id: UserId,
    role: &str,
    now: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(users::table.find(id))
        .set((users::role.eq(role), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Bumps `updated_at`: a write that locks the row for the rest of the transaction.
pub fn touch(conn: &mut DbConnection, id: UserId, now: i64) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set(users::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// How many accounts there are.
pub fn count(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(users::table.count().get_result(conn)?)
}

/// Replaces a user's password hash.
pub fn set_password(
    conn: &mut DbConnection,
    id: UserId,
    password_hash: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(password_hash),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
