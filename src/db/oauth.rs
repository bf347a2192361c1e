//! Queries on `oauth_identities` (provider accounts linked to users) and `oauth_flows` (logins in
//! progress, consumed once).

use super::schema::{oauth_flows, oauth_identities, users};
use super::users::User;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oauth_identities)]
pub struct Identity {
    pub id: i64,
    pub user_id: UserId,
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = oauth_identities)]
pub struct NewIdentity<'a> {
    pub id: i64,
    pub user_id: UserId,
    pub provider: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_flows)]
pub struct Flow {
    pub state_hash: String,
    pub kind: String,
    pub provider: String,
    pub pkce_verifier: String,
    pub nonce: Option<String>,
    pub user_id: Option<UserId>,
    pub created_at: i64,
    pub expires_at: i64,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>);

pub fn find_identity(
    conn: &mut DbConnection,
    provider: &str,
    subject: &str,
) -> Result<Option<Identity>, DbError> {
    Ok(oauth_identities::table
        .filter(oauth_identities::provider.eq(provider))
        .filter(oauth_identities::subject.eq(subject))
        .select(Identity::as_select())
        .first(conn)
        .optional()?)
}

pub fn identities_of(conn: &mut DbConnection, user: UserId) -> Result<Vec<Identity>, DbError> {
    Ok(oauth_identities::table
        .filter(oauth_identities::user_id.eq(user))
        .order(oauth_identities::provider.asc())
        .select(Identity::as_select())
        .load(conn)?)
}

/// Links a provider account; a provider account already linked (to anyone), or a second account
/// of the same provider on this user, is a unique violation.
pub fn insert_identity(conn: &mut DbConnection, new: &NewIdentity<'_>) -> Result<(), DbError> {
    diesel::insert_into(oauth_identities::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// Removes the user's link to `provider`; `false` when there was none.
pub fn delete_identity(
    conn: &mut DbConnection,
    user: UserId,
    provider: &str,
) -> Result<bool, DbError> {
    let n = diesel::delete(
        oauth_identities::table
            .filter(oauth_identities::user_id.eq(user))
            .filter(oauth_identities::provider.eq(provider)),
    )
    .execute(conn)?;
    Ok(n == 1)
}

/// The user whose address is `email` (any letter case) and was vouched for by a provider.
pub fn find_user_by_verified_email(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .filter(users::email_verified.eq(true))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Whether any account has `email` (any letter case), verified or not.
pub fn email_in_use(conn: &mut DbConnection, email: &str) -> Result<bool, DbError> {
    let n: i64 = users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Takes `email` off every account that only typed it in (never verified): a provider has just
/// shown who owns it. Returns those accounts' ids.
pub fn release_unverified_email(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Vec<UserId>, DbError> {
    let holders: Vec<UserId> = users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .filter(users::email_verified.eq(false))
        .select(users::id)
        .load(conn)?;
    if !holders.is_empty() {
        diesel::update(users::table.filter(users::id.eq_any(&holders)))
            .set(users::email.eq(None::<String>))
            .execute(conn)?;
    }
    Ok(holders)
}

/// Records a provider-verified address on an account that had none.
pub fn set_verified_email(
    conn: &mut DbConnection,
    user: UserId,
    email: &str,
    now: i64,
) -> Result<(), DbError> {
    diesel::update(users::table.find(user).filter(users::email.is_null()))
        .set((
            users::email.eq(Some(email)),
            users::email_verified.eq(true),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn insert_flow(conn: &mut DbConnection, flow: &Flow) -> Result<(), DbError> {
    diesel::insert_into(oauth_flows::table)
        .values(flow)
        .execute(conn)?;
    Ok(())
}

/// The flow keyed by `state_hash`, left in place, if it has not expired.
pub fn find_flow(
    conn: &mut DbConnection,
    state_hash: &str,
    now: i64,
) -> Result<Option<Flow>, DbError> {
    Ok(oauth_flows::table
        .find(state_hash)
        .filter(oauth_flows::expires_at.ge(now))
        .select(Flow::as_select())
        .first(conn)
        .optional()?)
}

/// Takes the flow keyed by `state_hash` out of the table: only the first caller gets it, so a
/// replayed callback finds nothing. Expired flows are swept on the way.
pub fn take_flow(
    conn: &mut DbConnection,
    state_hash: &str,
    now: i64,
) -> Result<Option<Flow>, DbError> {
    diesel::delete(oauth_flows::table.filter(oauth_flows::expires_at.lt(now))).execute(conn)?;
    let Some(flow) = oauth_flows::table
        .find(state_hash)
        .select(Flow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let n = diesel::delete(oauth_flows::table.find(state_hash)).execute(conn)?;
    Ok((n == 1).then_some(flow))
}
