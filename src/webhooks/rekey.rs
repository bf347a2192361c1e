//! Rotating the server key (`totp_key`) also seals the outgoing webhooks' signing secrets again:
//! each is opened with the old key and sealed with the new one, bound to its hook. Secrets the new
//! key opens already are left alone, so an interrupted rotation can be run again.

use crate::auth::totp::SecretBox;
use crate::db::outgoing_webhooks;
use crate::db::{DbError, DbPool};

/// What a rotation did to the webhook secrets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    pub resealed: usize,
    pub current: usize,
    /// Opened by neither key (those hooks' calls fail until the hook is made again).
    pub unreadable: usize,
}

/// Seals every hook's secret under `current` that `old` (or `current`) opens.
pub fn reseal_secrets(
    pool: &DbPool,
    current: &SecretBox,
    old: &SecretBox,
) -> Result<Resealed, DbError> {
    let conn = &mut *pool.get()?;
    let mut report = Resealed::default();
    for (hook, sealed) in outgoing_webhooks::all_secrets(conn)? {
        if current.open_for(hook, &sealed).is_some() {
            report.current += 1;
        } else if let Some(plain) = old.open_for(hook, &sealed) {
            let resealed = current.seal_for(hook, &plain);
            if outgoing_webhooks::replace_secret(conn, hook, &sealed, &resealed)? {
                report.resealed += 1;
            }
        } else {
            report.unreadable += 1;
        }
    }
    Ok(report)
}
