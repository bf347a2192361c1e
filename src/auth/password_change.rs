//! Changing one's password, or setting a first one on an account a provider created. With a
//! password, the current one is required. Without one, only a fresh login may set it (the session
//! began within the re-authentication window, `reauth_window_s`), so a stolen access token cannot
//! add a lasting way in.
//! Every other session of the user is ended: whoever knew the old password is logged out.

use super::service::{AuthService, ClientInfo};
use super::{password, validation, AuthError};
use crate::db::{sessions, users};
use diesel::Connection;
use serde_json::json;
use veza_actors::ids::now_ms;
use veza_actors::UserId;

/// The re-authentication window when none is configured (`reauth_window_s`' default).
pub const FRESH_LOGIN_MS: i64 = 5 * 60 * 1000;

impl AuthService {
    /// Sets `new` as the password of the user of `session_id`; returns how many other sessions
    /// were ended.
    pub fn change_password(
        &self,
        user_id: UserId,
        session_id: i64,
        current: Option<&str>,
        new: &str,
        client: &ClientInfo,
    ) -> Result<usize, AuthError> {
        validation::password(new)?;
        let mut conn = self.pool.get()?;
        let (session, user) = sessions::find_with_user(&mut conn, session_id)?
            .filter(|(s, _)| s.user_id == user_id)
            .ok_or(AuthError::InvalidToken("invalid access token"))?;
        let now = now_ms() as i64;
        if user.has_password() {
            let ok = match current {
                Some(current) => password::verify(current, &user.password_hash)?,
                None => {
                    password::verify_dummy(new);
                    false
                }
            };
            if !ok {
                let detail = json!({"reason": "bad_password"});
                self.audit_user(&mut conn, user_id, "password.change_failed", client, detail)?;
                return Err(AuthError::InvalidCredentials);
            }
        } else if now - session.created_at > self.reauth_window_ms {
            let detail = json!({"action": "password.change", "reason": "stale_login"});
            self.audit_user(&mut conn, user_id, "reauth.failed", client, detail)?;
            return Err(AuthError::ReauthRequired);
        }
        let hash = password::hash(new)?;
        let ended = conn.transaction(|conn| {
            users::set_password(conn, user_id, &hash, now)?;
            let ended =
                sessions::revoke_all_but(conn, user_id, Some(session_id), now, "password_changed")?;
            let detail = json!({"first": !user.has_password(), "sessions_ended": ended});
            self.audit_user(conn, user_id, "password.changed", client, detail)?;
            Ok::<_, AuthError>(ended)
        })?;
        self.sessions_ended(
            user_id,
            veza_actors::revocation::Scope::AllExcept(session_id),
            "the password was changed: log in again",
        );
        Ok(ended)
    }
}
