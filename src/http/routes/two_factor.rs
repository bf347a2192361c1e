//! `/api/v2/auth/2fa/...`: enrol in TOTP two-factor login, confirm it, disable it, regenerate
//! backup codes. Code-taking calls share the per-IP limit of the other account endpoints, so codes
//! cannot be guessed at speed.

use super::auth::check_rate;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct CodeBody {
    code: String,
}

#[derive(Deserialize)]
pub struct DisableBody {
    password: String,
    /// A TOTP code or a backup code.
    code: String,
}

/// `POST /api/v2/auth/2fa/enroll` -> `{secret, otpauth_uri, qr_svg}` (pending until confirmed).
pub async fn enroll(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let auth = state.auth.clone();
    let e = web::block(move || auth.totp_enroll(who.user_id)).await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"secret": e.secret, "otpauth_uri": e.otpauth_uri, "qr_svg": e.qr_svg})))
}

/// `POST /api/v2/auth/2fa/confirm {"code"}` -> `{backup_codes}` (shown once).
pub async fn confirm(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let codes = web::block(move || auth.totp_confirm(who.user_id, &body.code, &client)).await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"enabled": true, "backup_codes": codes})))
}

/// `POST /api/v2/auth/2fa/disable {"password","code"}` -> 204.
pub async fn disable(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<DisableBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let body = body.into_inner();
    let _slot = state.limits.hashing.enter().await?;
    web::block(move || auth.totp_disable(who.user_id, &body.password, &body.code, &client))
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v2/auth/2fa/backup-codes {"code"}` -> `{backup_codes}`; the old ones stop working.
pub async fn backup_codes(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let codes =
        web::block(move || auth.totp_regenerate_backup_codes(who.user_id, &body.code, &client))
            .await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"backup_codes": codes})))
}
