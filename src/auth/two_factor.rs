//! Two-factor login with TOTP: enrol (secret, `otpauth://` URI, QR code), confirm with a code
//! (which turns it on and issues ten one-time backup codes, stored hashed), disable with password
//! and code, regenerate backup codes; and the second-factor check `login` runs. A TOTP code is
//! accepted within ±1 step and only once (the used step is claimed atomically in the store).

use super::service::{AuthService, ClientInfo};
use super::{opaque, password, totp, AuthError};
use crate::db::users::User;
use crate::db::{two_factor, users, DbConnection};
use diesel::Connection;
use rand::Rng;
use veza_actors::ids::now_ms;
use veza_actors::UserId;

pub const BACKUP_CODES: usize = 10;
pub const ISSUER: &str = "Veza";

pub struct Enrollment {
    /// Base32, for typing into an authenticator by hand.
    pub secret: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

/// `ABCDE-FGHJK`: ten characters from an alphabet without look-alikes (about 50 bits).
fn new_backup_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let chars: String = (0..10)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// What is hashed: upper case, no separators, so `abcde fghjk` matches `ABCDE-FGHJK`.
fn normalise_backup(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn now_step() -> i64 {
    totp::step_of(now_ms() as i64 / 1000)
}

impl AuthService {
    fn user(&self, conn: &mut DbConnection, id: UserId) -> Result<User, AuthError> {
        users::find_by_id(conn, id)?.ok_or(AuthError::InvalidToken("no such user"))
    }

    fn secret_of(&self, user: &User) -> Result<Vec<u8>, AuthError> {
        let sealed = user
            .totp_secret
            .as_deref()
            .ok_or_else(|| AuthError::Validation("enrol in two-factor login first".into()))?;
        self.secrets.open_for(user.id.0, sealed).ok_or_else(|| {
            AuthError::Internal("the TOTP secret does not decrypt: was totp_key changed?".into())
        })
    }

    /// A TOTP code, claimed so it cannot be used again.
    fn take_totp(
        &self,
        conn: &mut DbConnection,
        user: &User,
        code: &str,
    ) -> Result<bool, AuthError> {
        let secret = self.secret_of(user)?;
        match totp::verify(&secret, code, now_step(), user.totp_last_step) {
            Some(step) => Ok(two_factor::claim_step(conn, user.id, step)?),
            None => Ok(false),
        }
    }

    /// A backup code, used up. Codes issued before digests were keyed are stored as plain
    /// SHA-256; they still work once each (they cannot be converted without the codes).
    fn take_backup(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        code: &str,
        now: i64,
    ) -> Result<bool, AuthError> {
        let normalised = normalise_backup(code);
        let keyed = self.secrets.backup_digest(user.0, &normalised);
        Ok(two_factor::use_backup_code(conn, user, &keyed, now)?
            || two_factor::use_backup_code(conn, user, &opaque::hash(&normalised), now)?)
    }

    fn new_backup_codes(
        &self,
        conn: &mut DbConnection,
        user: UserId,
        now: i64,
    ) -> Result<Vec<String>, AuthError> {
        let codes: Vec<String> = (0..BACKUP_CODES).map(|_| new_backup_code()).collect();
        let rows: Vec<(i64, String)> = codes
            .iter()
            .map(|c| {
                (
                    self.ids.next_id(),
                    self.secrets.backup_digest(user.0, &normalise_backup(c)),
                )
            })
            .collect();
        two_factor::replace_backup_codes(conn, user, &rows, now)?;
        Ok(codes)
    }

    /// Starts enrolment: a new secret, pending until confirmed.
    pub fn totp_enroll(&self, user_id: UserId) -> Result<Enrollment, AuthError> {
        let mut conn = self.pool.get()?;
        let user = self.user(&mut conn, user_id)?;
        if user.totp_enabled {
            return Err(AuthError::Conflict(
                "two-factor login is already on; disable it first".into(),
            ));
        }
        let secret = totp::new_secret();
        two_factor::set_pending_secret(
            &mut conn,
            user_id,
            &self.secrets.seal_for(user_id.0, &secret),
            now_ms() as i64,
        )?;
        let uri = totp::otpauth_uri(ISSUER, &user.username, &secret);
        Ok(Enrollment {
            secret: totp::base32(&secret),
            qr_svg: totp::qr_svg(&uri).unwrap_or_default(),
            otpauth_uri: uri,
        })
    }

    /// Confirms enrolment with a code from the app, which turns 2FA on; returns the backup codes
    /// (shown once). Needs `current_password` or a fresh login ([`super::reauth`]): a stolen
    /// access token must not lock the owner out behind the thief's authenticator.
    pub fn totp_confirm(
        &self,
        who: (UserId, i64),
        code: &str,
        current_password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Vec<String>, AuthError> {
        let (user_id, session_id) = who;
        let mut conn = self.pool.get()?;
        let (user, proof) = self.reauthenticate(
            &mut conn,
            user_id,
            session_id,
            current_password,
            "2fa.enable",
            client,
        )?;
        if user.totp_enabled {
            return Err(AuthError::Conflict("two-factor login is already on".into()));
        }
        conn.transaction(|conn| {
            if !self.take_totp(conn, &user, code)? {
                return Err(AuthError::InvalidSecondFactor);
            }
            let now = now_ms() as i64;
            two_factor::enable(conn, user_id, now)?;
            let codes = self.new_backup_codes(conn, user_id, now)?;
            let detail = serde_json::json!({"reauth": proof.as_str()});
            self.audit_user(conn, user_id, "2fa.enabled", client, detail)?;
            Ok(codes)
        })
    }

    /// Turns 2FA off; needs a TOTP or backup code and the password, or, for accounts without one
    /// (made by an OAuth provider), a fresh login ([`super::reauth`]).
    pub fn totp_disable(
        &self,
        who: (UserId, i64),
        password_text: Option<&str>,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let (user_id, session_id) = who;
        let mut conn = self.pool.get()?;
        let user = self.user(&mut conn, user_id)?;
        if !user.totp_enabled {
            return Err(AuthError::Conflict("two-factor login is not on".into()));
        }
        let proof = if user.has_password() {
            let given = password_text.unwrap_or_default();
            if !password::verify(given, &user.password_hash)? {
                let detail = serde_json::json!({"reason": "bad_password"});
                self.audit_user(&mut conn, user_id, "2fa.disable_failed", client, detail)?;
                return Err(AuthError::InvalidCredentials);
            }
            super::reauth::Proof::Password
        } else {
            let action = "2fa.disable";
            self.reauthenticate(&mut conn, user_id, session_id, None, action, client)?
                .1
        };
        conn.transaction(|conn| {
            let now = now_ms() as i64;
            let ok =
                self.take_totp(conn, &user, code)? || self.take_backup(conn, user_id, code, now)?;
            if !ok {
                return Err(AuthError::InvalidSecondFactor);
            }
            two_factor::disable(conn, user_id, now)?;
            let detail = serde_json::json!({"reauth": proof.as_str()});
            self.audit_user(conn, user_id, "2fa.disabled", client, detail)
                .map_err(AuthError::from)
        })
    }

    /// New backup codes (the old ones stop working); needs a current TOTP code.
    pub fn totp_regenerate_backup_codes(
        &self,
        user_id: UserId,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, AuthError> {
        let mut conn = self.pool.get()?;
        let user = self.user(&mut conn, user_id)?;
        if !user.totp_enabled {
            return Err(AuthError::Conflict("two-factor login is not on".into()));
        }
        conn.transaction(|conn| {
            if !self.take_totp(conn, &user, code)? {
                return Err(AuthError::InvalidSecondFactor);
            }
            let codes = self.new_backup_codes(conn, user_id, now_ms() as i64)?;
            self.audit(
                conn,
                Some(user_id),
                "2fa.backup_codes_regenerated",
                Some(user_id),
                client,
                None,
            )?;
            Ok(codes)
        })
    }

    /// The second factor of a login, for a user whose password was right.
    pub(super) fn check_second_factor(
        &self,
        conn: &mut DbConnection,
        user: &User,
        totp_code: Option<&str>,
        backup_code: Option<&str>,
    ) -> Result<(), AuthError> {
        if !user.totp_enabled {
            return Ok(());
        }
        let ok = match (
            totp_code.filter(|c| !c.is_empty()),
            backup_code.filter(|c| !c.is_empty()),
        ) {
            (Some(code), _) => self.take_totp(conn, user, code)?,
            (None, Some(code)) => self.take_backup(conn, user.id, code, now_ms() as i64)?,
            (None, None) => return Err(AuthError::TotpRequired),
        };
        if ok {
            Ok(())
        } else {
            Err(AuthError::InvalidSecondFactor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{new_backup_code, normalise_backup};

    #[test]
    fn backup_codes_are_ten_characters_and_forgiving_to_type() {
        let code = new_backup_code();
        assert_eq!(code.len(), 11);
        assert_eq!(
            normalise_backup(&code.to_lowercase().replace('-', " ")),
            normalise_backup(&code)
        );
        assert_ne!(new_backup_code(), new_backup_code());
    }
}
