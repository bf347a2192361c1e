//! Every password check a request causes (login, and the current password of an account change)
//! runs under the same two guards: the per-account slow-down, reserved before the check so that
//! parallel guesses cannot all pass it (`limits::account`), and the bound on concurrent hashing
//! (`limits::hashing`, 503 when full). A stolen access token is then no faster password oracle
//! than the login form.

use super::error::ApiError;
use super::AppState;
use crate::auth::AuthError;
use actix_web::web;
use std::time::Duration;

/// What became of a password attempt.
pub enum Attempt<T> {
    /// The account is in its slow-down: nothing was checked.
    Throttled(Duration),
    Done(Result<T, AuthError>),
}

/// Runs `check` (blocking: it hashes) for `account` under both guards. A success resets the
/// account's slow-down; a wrong password or second factor counts as a failure; anything else
/// (a missing second factor, an error, a full hashing queue) gives the reserved attempt back.
pub async fn attempt<T: Send + 'static>(
    state: &AppState,
    account: &str,
    check: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<Attempt<T>, ApiError> {
    if let Err(wait) = state.limits.login_reserve(account).await {
        count_refusal("login_slowdown");
        return Ok(Attempt::Throttled(wait));
    }
    let slot = match state.limits.hashing.enter().await {
        Ok(slot) => slot,
        Err(busy) => {
            count_refusal("hashing_busy");
            state.limits.login_released(account).await;
            return Err(busy.into());
        }
    };
    let result = web::block(check).await;
    drop(slot);
    match &result {
        Ok(Ok(_)) => state.limits.login_succeeded(account).await,
        // The reservation stands: it was a failure.
        Ok(Err(AuthError::InvalidCredentials | AuthError::InvalidSecondFactor)) => {}
        _ => state.limits.login_released(account).await,
    }
    Ok(Attempt::Done(result?))
}

/// The 429 of an account in its slow-down.
pub fn throttled(wait: Duration) -> ApiError {
    ApiError::rate_limited(wait).with_message(format!(
        "too many failed password attempts for this account; retry in {} s",
        wait.as_secs().max(1)
    ))
}

/// An account change that may carry `current_password`: with one, it is checked under both guards
/// (the caller's own account is the one slowed); without, `change` runs under the hashing bound
/// only (it may hash a new password; the auth layer then asks for a fresh login).
pub async fn reauth<T: Send + 'static>(
    state: &AppState,
    username: &str,
    password_given: bool,
    change: impl FnOnce() -> Result<T, AuthError> + Send + 'static,
) -> Result<T, ApiError> {
    if !password_given {
        let _slot = state.limits.hashing.enter().await?;
        return Ok(web::block(change).await??);
    }
    match attempt(state, username, change).await? {
        Attempt::Throttled(wait) => Err(throttled(wait)),
        Attempt::Done(result) => Ok(result?),
    }
}

fn count_refusal(class: &str) {
    veza_actors::metrics::metrics()
        .rate_limited
        .with(&[class])
        .inc();
}
