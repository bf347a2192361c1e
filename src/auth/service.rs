//! Register, log in, refresh, log out and authenticate: the account rules over the store.
//!
//! Every method is blocking (argon2 and diesel); call them from a blocking thread.

use super::{jwt::JwtKeys, opaque, password, validation, AuthError, Role};
use crate::db::audit::{self, NewAuditEntry};
use crate::db::sessions::{self, NewRefreshToken};
use crate::db::users::{self, NewUser, User};
use crate::db::{DbConnection, DbError, DbPool};
use diesel::Connection;
use std::sync::Arc;
use veza_actors::ids::{now_ms, IdGenerator};
use veza_actors::revocation::Scope;
use veza_actors::UserId;

/// Who is asking, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A fresh token pair and the user it belongs to.
#[derive(Debug)]
pub struct Issued {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// The caller of an authenticated request, as the store sees them now (role and disabled state are
/// read from the store, not trusted from the token).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user_id: UserId,
    pub username: String,
    pub role: Role,
    pub session_id: i64,
    pub created_at: i64,
}

pub struct AuthService {
    pub(super) pool: DbPool,
    keys: JwtKeys,
    pub(super) ids: Arc<IdGenerator>,
    /// Encrypts TOTP secrets at rest.
    pub(super) secrets: super::totp::SecretBox,
    access_ttl_s: u64,
    refresh_ttl_s: u64,
    /// OAuth login providers switched on.
    pub(super) oauth: super::oauth::OAuthClients,
    /// Told of every session this service ends, so its WebSockets close on every node.
    pub revocations: super::revocation::RevocationSink,
    /// Recently checked sessions (dropped on revocation events).
    pub sessions: super::session_cache::SessionCache,
    /// How long after a login account changes need no current password (`reauth_window_s`).
    pub(super) reauth_window_ms: i64,
    /// How long a just-rotated refresh token may be presented once more (`refresh_grace_ms`).
    refresh_grace_ms: i64,
    /// Keys the digests of typed usernames in the audit log (see [`AuthService::username_digest`]).
    audit_key: [u8; 32],
}

impl AuthService {
    pub fn new(
        pool: DbPool,
        keys: JwtKeys,
        ids: Arc<IdGenerator>,
        access_ttl_s: u64,
        refresh_ttl_s: u64,
        secrets: super::totp::SecretBox,
    ) -> Self {
        Self {
            pool,
            keys,
            ids,
            secrets,
            access_ttl_s,
            refresh_ttl_s,
            oauth: Default::default(),
            revocations: Default::default(),
            sessions: Default::default(),
            reauth_window_ms: super::password_change::FRESH_LOGIN_MS,
            refresh_grace_ms: 0,
            audit_key: [0; 32],
        }
    }

    /// Derives the key for username digests in the audit log from the server's secret.
    pub fn with_audit_key(mut self, secret: &[u8]) -> Self {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(b"veza audit usernames\0");
        hasher.update(secret);
        self.audit_key = hasher.finalize().into();
        self
    }

    /// What the audit log keeps of a username typed at login that matches no account: a keyed
    /// digest (16 hex digits), never the text itself. Attempts on one name still correlate; the
    /// log holds no attacker-chosen text and no password typed into the wrong field.
    fn username_digest(&self, typed: &str) -> String {
        use hmac::Mac;
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.audit_key) else {
            return String::new();
        };
        mac.update(typed.trim().to_lowercase().as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// Sets the refresh grace window: two tabs refreshing with the same token at once both get
    /// a pair instead of the second one revoking the login as token reuse.
    pub fn with_refresh_grace(mut self, grace: std::time::Duration) -> Self {
        self.refresh_grace_ms = grace.as_millis().min(i64::MAX as u128) as i64;
        self
    }

    /// Sets the re-authentication window (see [`super::reauth`]).
    pub fn with_reauth_window(mut self, window: std::time::Duration) -> Self {
        self.reauth_window_ms = window.as_millis().min(i64::MAX as u128) as i64;
        self
    }

    /// Sessions this service ended: out of the cache now (so the very next request is refused),
    /// and their sockets closed on every node.
    pub(super) fn sessions_ended(&self, user: UserId, scope: Scope, reason: &str) {
        let revoke = veza_actors::revocation::Revoke {
            user,
            scope,
            reason: reason.to_owned(),
        };
        self.sessions.forget(Some(&revoke));
        self.revocations.revoked(revoke);
    }

    /// Switches OAuth login on for the configured providers.
    pub fn with_oauth(mut self, oauth: super::oauth::OAuthClients) -> Self {
        self.oauth = oauth;
        self
    }

    pub fn oauth_providers(&self) -> Vec<crate::config::oauth::Provider> {
        self.oauth.enabled()
    }

    pub fn oauth_base_url(&self) -> &str {
        self.oauth.base_url()
    }

    pub fn register(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Issued, AuthError> {
        validation::username(username)?;
        validation::password(password)?;
        if let Some(email) = email {
            validation::email(email)?;
        }
        let hash = password::hash(password)?;
        let mut conn = self.pool.get()?;
        let now = now_ms() as i64;
        let id = UserId(self.ids.next_id());
        let lower = username.to_lowercase();
        let new_user = NewUser {
            id,
            username,
            username_lower: &lower,
            email,
            password_hash: &hash,
            role: Role::User.as_str(),
            disabled: false,
            created_at: now,
            updated_at: now,
            email_verified: false,
        };
        conn.transaction(|conn| {
            users::insert(conn, &new_user).map_err(|e| {
                if e.is_unique_violation() {
                    AuthError::UsernameTaken
                } else {
                    e.into()
                }
            })?;
            self.audit(conn, Some(id), "user.register", Some(id), client, None)?;
            let user = users::find_by_id(conn, id)?
                .ok_or_else(|| AuthError::Internal("user vanished after insert".into()))?;
            self.start_session(conn, user)
        })
    }

    /// Password, then (for accounts with 2FA on) `totp_code` or `backup_code`.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        second_factor: (Option<&str>, Option<&str>),
        client: &ClientInfo,
    ) -> Result<Issued, AuthError> {
        let mut conn = self.pool.get()?;
        let Some(user) = users::find_by_username(&mut conn, username)? else {
            password::verify_dummy(password);
            let detail = serde_json::json!({
                "username_digest": self.username_digest(username),
                "reason": "unknown_user",
            });
            self.audit(&mut conn, None, "login.failure", None, client, Some(detail))?;
            return Err(AuthError::InvalidCredentials);
        };
        let matches = if user.has_password() {
            password::verify(password, &user.password_hash)?
        } else {
            // Created by an OAuth provider: no password to match; spend the same time anyway.
            password::verify_dummy(password);
            false
        };
        if !matches || user.disabled {
            let reason = match (user.disabled, user.has_password()) {
                (true, _) => "disabled",
                (false, false) => "no_password",
                (false, true) => "bad_password",
            };
            let detail = serde_json::json!({"reason": reason});
            self.audit_user(&mut conn, user.id, "login.failure", client, detail)?;
            return Err(AuthError::InvalidCredentials);
        }
        self.finish_login(&mut conn, user, second_factor, client, "password")
    }

    /// The end of every login once the first factor (password or provider) is good: the second
    /// factor for accounts with 2FA on, the audit, then a new session.
    pub(super) fn finish_login(
        &self,
        conn: &mut DbConnection,
        user: User,
        second_factor: (Option<&str>, Option<&str>),
        client: &ClientInfo,
        method: &str,
    ) -> Result<Issued, AuthError> {
        if let Err(e) = self.check_second_factor(conn, &user, second_factor.0, second_factor.1) {
            let reason = match e {
                AuthError::TotpRequired => "totp_missing",
                _ => "bad_totp",
            };
            let detail = serde_json::json!({"method": method, "reason": reason});
            self.audit_user(conn, user.id, "login.failure", client, detail)?;
            return Err(e);
        }
        conn.transaction(|conn| {
            let detail = serde_json::json!({"method": method});
            self.audit_user(conn, user.id, "login.success", client, detail)?;
            self.start_session(conn, user)
        })
    }

    /// Audits a login refused before checking the password: the account is in its slow-down.
    pub fn record_throttled(&self, username: &str, client: &ClientInfo) -> Result<(), AuthError> {
        let mut conn = self.pool.get()?;
        let user = users::find_by_username(&mut conn, username)?.map(|u| u.id);
        // The account names who it was; for no account, the digest (no typed text is kept).
        let detail = match user {
            Some(_) => serde_json::json!({"reason": "throttled"}),
            None => serde_json::json!({
                "username_digest": self.username_digest(username),
                "reason": "throttled",
            }),
        };
        self.audit(
            &mut conn,
            user,
            "login.throttled",
            user,
            client,
            Some(detail),
        )?;
        Ok(())
    }

    /// Rotates a refresh token. Presenting a token that was already rotated (or revoked) is treated as
    /// theft: the whole family is revoked and the call fails.
    pub fn refresh(&self, token: &str, client: &ClientInfo) -> Result<Issued, AuthError> {
        let mut conn = self.pool.get()?;
        let hash = opaque::hash(token);
        let stored = sessions::find_refresh_token(&mut conn, &hash)?
            .ok_or(AuthError::InvalidToken("invalid refresh token"))?;
        let now = now_ms() as i64;
        let result = conn.transaction(|conn| {
            if !sessions::consume_refresh_token(conn, stored.id, now)?
                && !self.just_rotated(conn, &hash, now)?
            {
                return Err(AuthError::TokenReuse);
            }
            if stored.expires_at <= now {
                return Err(AuthError::InvalidToken("refresh token expired"));
            }
            let (session, user) = sessions::find_with_user(conn, stored.session_id)?
                .ok_or(AuthError::InvalidToken("invalid refresh token"))?;
            if session.revoked_at.is_some() || user.disabled {
                return Err(AuthError::InvalidToken("session revoked"));
            }
            self.issue_pair(conn, user, session.id, now)
        });
        if let Err(AuthError::TokenReuse) = result {
            // Outside the failed transaction, so the revocation and its audit row stick.
            sessions::revoke_session(&mut conn, stored.session_id, now, "refresh_token_reuse")?;
            let detail = serde_json::json!({"session": stored.session_id.to_string()});
            self.audit_user(&mut conn, stored.user_id, "token.reuse", client, detail)?;
            self.sessions_ended(
                stored.user_id,
                Scope::Session(stored.session_id),
                "session revoked: a used refresh token was presented again",
            );
        }
        result
    }

    /// Whether the token (already used) was rotated within the grace window: another tab
    /// refreshing at the same time, not reuse. Read again here, since the other refresh may
    /// have committed after this one looked the token up. The session checks still apply.
    fn just_rotated(
        &self,
        conn: &mut DbConnection,
        hash: &str,
        now: i64,
    ) -> Result<bool, AuthError> {
        let rotated_at = sessions::find_refresh_token(conn, hash)?.and_then(|t| t.revoked_at);
        Ok(self.refresh_grace_ms > 0
            && rotated_at.is_some_and(|at| now - at <= self.refresh_grace_ms))
    }

    /// Ends the login the refresh token belongs to: every token of its family stops working.
    pub fn logout(&self, token: &str, client: &ClientInfo) -> Result<(), AuthError> {
        let mut conn = self.pool.get()?;
        let stored = sessions::find_refresh_token(&mut conn, &opaque::hash(token))?
            .ok_or(AuthError::InvalidToken("invalid refresh token"))?;
        let now = now_ms() as i64;
        sessions::revoke_session(&mut conn, stored.session_id, now, "logout")?;
        self.sessions_ended(
            stored.user_id,
            Scope::Session(stored.session_id),
            "logged out",
        );
        self.audit(
            &mut conn,
            Some(stored.user_id),
            "logout",
            Some(stored.user_id),
            client,
            None,
        )?;
        Ok(())
    }

    /// Checks an access token and that its session and user are still in good standing.
    pub fn authenticate(&self, access_token: &str) -> Result<Authenticated, AuthError> {
        let claims = self.keys.verify(access_token)?;
        let invalid = || AuthError::InvalidToken("invalid access token");
        let user_id: UserId = claims.sub.parse().map_err(|_| invalid())?;
        let session_id: i64 = claims.sid.parse().map_err(|_| invalid())?;
        if let Some(who) = self
            .sessions
            .get(session_id)
            .filter(|w| w.user_id == user_id)
        {
            return Ok(who);
        }
        let read_at = self.sessions.generation();
        let mut conn = self.pool.get()?;
        let (session, user) =
            sessions::find_with_user(&mut conn, session_id)?.ok_or_else(invalid)?;
        if session.user_id != user_id {
            return Err(invalid());
        }
        if session.revoked_at.is_some() {
            return Err(AuthError::InvalidToken("session revoked"));
        }
        if user.disabled {
            return Err(AuthError::InvalidToken("account disabled"));
        }
        let who = Authenticated {
            user_id,
            role: user.role.parse().map_err(AuthError::Internal)?,
            username: user.username,
            session_id,
            created_at: user.created_at,
        };
        self.sessions.put(&who, read_at);
        Ok(who)
    }

    /// Creates a user with `role`, or resets the role and password of an existing one (for the
    /// operator's `veza admin create-user`). Returns the user and whether it was created.
    pub fn upsert_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
    ) -> Result<(User, bool), AuthError> {
        validation::username(username)?;
        validation::password(password)?;
        let hash = password::hash(password)?;
        let mut conn = self.pool.get()?;
        let now = now_ms() as i64;
        conn.transaction(|conn| {
            let created = match users::find_by_username(conn, username)? {
                Some(existing) => {
                    users::update_role_and_password(conn, existing.id, role.as_str(), &hash, now)?;
                    false
                }
                None => {
                    let lower = username.to_lowercase();
                    users::insert(
                        conn,
                        &NewUser {
                            id: UserId(self.ids.next_id()),
                            username,
                            username_lower: &lower,
                            email: None,
                            password_hash: &hash,
                            role: role.as_str(),
                            disabled: false,
                            created_at: now,
                            updated_at: now,
                            email_verified: false,
                        },
                    )?;
                    true
                }
            };
            let user = users::find_by_username(conn, username)?
                .ok_or_else(|| AuthError::Internal("user vanished after upsert".into()))?;
            let detail = serde_json::json!({"role": role.as_str(), "created": created});
            self.audit(
                conn,
                None,
                "admin.user_upsert",
                Some(user.id),
                &ClientInfo::default(),
                Some(detail),
            )?;
            Ok((user, created))
        })
    }

    pub(super) fn start_session(
        &self,
        conn: &mut DbConnection,
        user: User,
    ) -> Result<Issued, AuthError> {
        let now = now_ms() as i64;
        let session_id = self.ids.next_id();
        sessions::create_session(conn, session_id, user.id, now)?;
        self.issue_pair(conn, user, session_id, now)
    }

    fn issue_pair(
        &self,
        conn: &mut DbConnection,
        user: User,
        session_id: i64,
        now: i64,
    ) -> Result<Issued, AuthError> {
        let (refresh_token, hash) = opaque::generate();
        sessions::insert_refresh_token(
            conn,
            &NewRefreshToken {
                id: self.ids.next_id(),
                session_id,
                user_id: user.id,
                token_hash: &hash,
                created_at: now,
                expires_at: now + (self.refresh_ttl_s as i64) * 1000,
            },
        )?;
        let role: Role = user.role.parse().map_err(AuthError::Internal)?;
        let (access_token, _) = self.keys.issue(
            user.id,
            role,
            session_id,
            now as u64 / 1000,
            self.access_ttl_s,
        )?;
        Ok(Issued {
            user,
            access_token,
            refresh_token,
            expires_in: self.access_ttl_s,
        })
    }

    /// Audits what a user did to their own account.
    pub(super) fn audit_user(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        action: &str,
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> Result<(), DbError> {
        self.audit(conn, Some(user), action, Some(user), client, Some(details))
    }

    pub(super) fn audit(
        &self,
        conn: &mut DbConnection,
        actor: Option<UserId>,
        action: &str,
        target_user: Option<UserId>,
        client: &ClientInfo,
        details: Option<serde_json::Value>,
    ) -> Result<(), DbError> {
        audit::record(
            conn,
            &NewAuditEntry {
                id: self.ids.next_id(),
                actor_id: actor,
                action,
                target_type: target_user.map(|_| "user"),
                target_id: target_user.map(|id| id.to_string()),
                room_id: None,
                ip: client.ip.as_deref(),
                user_agent: client.user_agent.as_deref(),
                details: details.map(|d| d.to_string()),
                created_at: now_ms() as i64,
            },
        )
    }
}
