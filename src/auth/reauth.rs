//! Proof that whoever asks for an account change (2FA on or off, an OAuth link or unlink, a first
//! password) holds the account now, not only a stolen access token: the current password, or a
//! login younger than the re-authentication window (`reauth_window_s`). A refusal is audited
//! (`reauth.failed`, with the action and why); the change's own audit row says how it was proved.

use super::service::{AuthService, ClientInfo};
use super::{password, AuthError};
use crate::db::users::User;
use crate::db::{sessions, DbConnection};
use serde_json::json;
use veza_actors::ids::now_ms;
use veza_actors::UserId;

/// How the caller proved it, for the audit row of the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Password,
    FreshLogin,
}

impl Proof {
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Password => "password",
            Proof::FreshLogin => "fresh_login",
        }
    }
}

impl AuthService {
    /// Checks `current_password` when one is given (a wrong one fails even from a fresh login),
    /// else that the session began within the window. Returns the user with the proof.
    pub(super) fn reauthenticate(
        &self,
        conn: &mut DbConnection,
        user_id: UserId,
        session_id: i64,
        current_password: Option<&str>,
        action: &str,
        client: &ClientInfo,
    ) -> Result<(User, Proof), AuthError> {
        let (session, user) = sessions::find_with_user(conn, session_id)?
            .filter(|(s, _)| s.user_id == user_id)
            .ok_or(AuthError::InvalidToken("invalid access token"))?;
        let refused = |this: &Self, conn: &mut DbConnection, reason: &str| {
            let detail = json!({"action": action, "reason": reason});
            this.audit_user(conn, user_id, "reauth.failed", client, detail)
        };
        match current_password.filter(|p| !p.is_empty()) {
            Some(given) => {
                let ok = if user.has_password() {
                    password::verify(given, &user.password_hash)?
                } else {
                    password::verify_dummy(given);
                    false
                };
                if !ok {
                    refused(self, conn, "bad_password")?;
                    return Err(AuthError::InvalidCredentials);
                }
                Ok((user, Proof::Password))
            }
            None if now_ms() as i64 - session.created_at <= self.reauth_window_ms => {
                Ok((user, Proof::FreshLogin))
            }
            None => {
                refused(self, conn, "stale_login")?;
                Err(AuthError::ReauthRequired)
            }
        }
    }
}
