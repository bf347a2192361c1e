//! Rotating the key TOTP secrets are encrypted with: every stored secret is opened with the old
//! key and sealed again with the new one, bound to its user. Secrets the new key already opens
//! bound are left alone, so an interrupted rotation can simply be run again. With the same key
//! as old and new it binds rows sealed before binding existed (`bind_totp_secrets`, at start).

use super::service::AuthService;
use super::totp::SecretBox;
use super::AuthError;
use crate::db::two_factor;
use veza_actors::ids::now_ms;

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rekeyed {
    /// Sealed again under the new key.
    pub rekeyed: usize,
    /// Already under the new key.
    pub current: usize,
    /// Opened by neither key (left as they are; those users must enrol again).
    pub unreadable: usize,
}

impl AuthService {
    /// Re-encrypts every stored TOTP secret from `old` to this service's key.
    pub fn rekey_totp_secrets(&self, old: &SecretBox) -> Result<Rekeyed, AuthError> {
        let mut conn = self.pool.get()?;
        let mut report = Rekeyed::default();
        for (user, sealed) in two_factor::all_secrets(&mut conn)? {
            if SecretBox::is_bound(&sealed) && self.secrets.open_for(user.0, &sealed).is_some() {
                report.current += 1;
            } else if let Some(plain) = self
                .secrets
                .open_for(user.0, &sealed)
                .or_else(|| old.open_for(user.0, &sealed))
            {
                // Under the old key, or under this one but not yet bound to its user.
                let resealed = self.secrets.seal_for(user.0, &plain);
                two_factor::replace_secret(&mut conn, user, &sealed, &resealed, now_ms() as i64)?;
                report.rekeyed += 1;
            } else {
                report.unreadable += 1;
            }
        }
        Ok(report)
    }

    /// Seals again, bound to their users, the secrets stored before binding (run at start; a
    /// no-op once every row is bound).
    pub fn bind_totp_secrets(&self) -> Result<Rekeyed, AuthError> {
        let same = self.secrets.clone();
        self.rekey_totp_secrets(&same)
    }
}
