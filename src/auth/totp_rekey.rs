//! Rotating the key TOTP secrets are encrypted with: every stored secret is opened with the old
//! key and sealed again with the new one. Secrets the new key already opens are left alone, so an
//! interrupted rotation can simply be run again.

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
            if self.secrets.open(&sealed).is_some() {
                report.current += 1;
            } else if let Some(plain) = old.open(&sealed) {
                let resealed = self.secrets.seal(&plain);
                two_factor::replace_secret(&mut conn, user, &sealed, &resealed, now_ms() as i64)?;
                report.rekeyed += 1;
            } else {
                report.unreadable += 1;
            }
        }
        Ok(report)
    }
}
