//! `/api/v2/auth/2fa/...`: enrol in TOTP two-factor login, confirm it, disable it, regenerate
//! backup codes. Code-taking calls share the per-IP limit of the other account endpoints, so codes
//! cannot be guessed at speed.

use super::auth::check_rate;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::password_guard;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(enroll, confirm, disable, backup_codes))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/2fa/enroll").route(web::post().to(enroll)))
        .service(web::resource("/auth/2fa/confirm").route(web::post().to(confirm)))
        .service(web::resource("/auth/2fa/disable").route(web::post().to(disable)))
        .service(web::resource("/auth/2fa/backup-codes").route(web::post().to(backup_codes)));
}

#[derive(Deserialize, ToSchema)]
#[schema(as = TwoFactorCodeBody)]
pub struct CodeBody {
    /// A TOTP code from the authenticator.
    code: String,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = TwoFactorConfirmBody)]
pub struct ConfirmBody {
    /// A TOTP code from the authenticator, proving it holds the secret.
    code: String,
    /// Needed unless the login is younger than `reauth_window_s`.
    current_password: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(as = TwoFactorDisableBody)]
pub struct DisableBody {
    /// Required when the account has a password; without one, a fresh login is.
    password: Option<String>,
    /// A TOTP code or a backup code.
    code: String,
}

/// A pending enrolment: the secret in three forms.
#[derive(Serialize, ToSchema)]
pub struct TwoFactorEnrollment {
    /// Base32, for typing into an authenticator by hand.
    pub secret: String,
    /// `otpauth://totp/...`, what the QR code holds.
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
}

/// Two-factor login is on; the backup codes are shown this once.
#[derive(Serialize, ToSchema)]
pub struct TwoFactorEnabled {
    /// Always true.
    pub enabled: bool,
    pub backup_codes: Vec<String>,
}

/// New backup codes (shown this once); the old ones stopped working.
#[derive(Serialize, ToSchema)]
pub struct BackupCodes {
    pub backup_codes: Vec<String>,
}

/// `POST /api/v2/auth/2fa/enroll` -> `{secret, otpauth_uri, qr_svg}` (pending until confirmed).
#[utoipa::path(
    post,
    path = "/api/v2/auth/2fa/enroll",
    tag = "two_factor",
    responses((status = 200, description = "The secret to enrol an authenticator with; two-factor login is off until confirmed", body = TwoFactorEnrollment)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn enroll(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let auth = state.auth.clone();
    let e = web::block(move || auth.totp_enroll(who.user_id)).await??;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TwoFactorEnrollment {
            secret: e.secret,
            otpauth_uri: e.otpauth_uri,
            qr_svg: e.qr_svg,
        }))
}

/// `POST /api/v2/auth/2fa/confirm {"code","current_password"?}` -> `{backup_codes}` (shown once);
/// 403 `reauth_required` without the password from a login older than `reauth_window_s`.
#[utoipa::path(
    post,
    path = "/api/v2/auth/2fa/confirm",
    tag = "two_factor",
    request_body = ConfirmBody,
    responses(
        (status = 200, description = "Two-factor login is on", body = TwoFactorEnabled),
        (status = 403, description = "`reauth_required`: the current password is needed", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn confirm(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let ConfirmBody {
        code,
        current_password,
    } = body.into_inner();
    let given = current_password.as_deref().is_some_and(|p| !p.is_empty());
    let ids = (who.user_id, who.session_id);
    let codes = password_guard::reauth(&state, &who.username, given, move || {
        auth.totp_confirm(ids, &code, current_password.as_deref(), &client)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TwoFactorEnabled {
            enabled: true,
            backup_codes: codes,
        }))
}

/// `POST /api/v2/auth/2fa/disable {"password"?,"code"}` -> 204 (the password is required when the
/// account has one; without one, a fresh login is).
#[utoipa::path(
    post,
    path = "/api/v2/auth/2fa/disable",
    tag = "two_factor",
    request_body = DisableBody,
    responses((status = 204, description = "Two-factor login is off")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn disable(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<DisableBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let DisableBody { password, code } = body.into_inner();
    let given = password.as_deref().is_some_and(|p| !p.is_empty());
    let ids = (who.user_id, who.session_id);
    password_guard::reauth(&state, &who.username, given, move || {
        auth.totp_disable(ids, password.as_deref(), &code, &client)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v2/auth/2fa/backup-codes {"code"}` -> `{backup_codes}`; the old ones stop working.
#[utoipa::path(
    post,
    path = "/api/v2/auth/2fa/backup-codes",
    tag = "two_factor",
    request_body = CodeBody,
    responses((status = 200, description = "New backup codes", body = BackupCodes)),
    security(("bearer" = []), ("bot" = []))
)]
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
        .json(BackupCodes {
            backup_codes: codes,
        }))
}
