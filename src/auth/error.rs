//! The auth layer's error type. The HTTP layer maps it to statuses and codes in one place.

use crate::db::DbError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AuthError {
    /// Wrong password, unknown user or disabled account: deliberately one error, so a caller cannot
    /// tell which.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("that username is taken")]
    UsernameTaken,
    #[error("{0}")]
    Validation(String),
    /// A missing, malformed, expired, forged or revoked token.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// A refresh token presented after it was rotated: its whole family is now revoked.
    #[error("refresh token reuse detected; the session has been revoked")]
    TokenReuse,
    /// The password was right; this account also needs `totp_code` (or `backup_code`).
    #[error("two-factor login is on for this account: send totp_code (or a backup_code)")]
    TotpRequired,
    #[error("the two-factor code is wrong, expired or already used")]
    InvalidSecondFactor,
    #[error("{0}")]
    Conflict(String),
    /// The account owns as many of something as it may.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    NotFound(String),
    /// The action needs a login younger than this session: log in again first.
    #[error("log in again first: this needs a fresh login")]
    ReauthRequired,
    /// The provider is not switched on in the configuration.
    #[error("{0} login is not configured on this server")]
    OAuthNotConfigured(String),
    /// A callback whose `state` is unknown, expired, already used, for another provider or not
    /// this browser's: a forged, replayed or cross-site callback.
    #[error("{0}")]
    OAuthState(&'static str),
    /// The provider said no: the user declined, or it refused the code (replayed, expired, wrong
    /// PKCE verifier), or its id_token did not check out.
    #[error("{0}")]
    OAuthFailed(String),
    /// The provider could not be reached or answered nonsense.
    #[error("{0}")]
    OAuthProvider(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        AuthError::Db(DbError::Query(e))
    }
}
