//! `/api/v2/auth/*`: register, login, refresh, logout. Each handler validates shape, then runs the
//! blocking [`AuthService`](crate::auth::AuthService) call on a blocking thread.

use crate::auth::Issued;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::password_guard::{self, Attempt};
use crate::limits::Class;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use utoipa::ToSchema;
use veza_actors::ids::UserId;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(register, login, refresh, logout))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/register").route(web::post().to(register)))
        .service(web::resource("/auth/login").route(web::post().to(login)))
        .service(web::resource("/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)));
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    /// 3-32 letters, digits, `_` or `-`.
    username: String,
    password: String,
    email: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    username: String,
    password: String,
    /// Required (or `backup_code`) when the account has two-factor login on.
    totp_code: Option<String>,
    backup_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshBody {
    refresh_token: String,
}

/// An account as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: UserId,
    pub username: String,
    #[schema(value_type = crate::auth::Role)]
    pub role: String,
    pub created_at: i64,
}

/// A new login: the account and its token pair.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub user: AccountView,
    /// A JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Renews the pair at `POST /api/v2/auth/refresh` (once: each use issues a new one).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Create an account (rate limited per IP); it is logged in at once.
#[utoipa::path(
    post,
    path = "/api/v2/auth/register",
    tag = "auth",
    request_body = RegisterBody,
    responses((status = 201, description = "The new account, logged in", body = TokenPair))
)]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let RegisterBody {
        username,
        password,
        email,
    } = body.into_inner();
    let _slot = state.limits.hashing.enter().await?;
    let issued = web::block(move || auth.register(&username, &password, email.as_deref(), &client))
        .await??;
    Ok(HttpResponse::Created().json(token_body(issued)))
}

/// Log in with a password (and a second factor when the account has two-factor login on).
#[utoipa::path(
    post,
    path = "/api/v2/auth/login",
    tag = "auth",
    request_body = LoginBody,
    responses((status = 200, description = "Logged in", body = TokenPair))
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let LoginBody {
        username,
        password,
        totp_code,
        backup_code,
    } = body.into_inner();
    let account = username.clone();
    let check = move || {
        let second = (totp_code.as_deref(), backup_code.as_deref());
        auth.login(&username, &password, second, &client)
    };
    let issued = match password_guard::attempt(&state, &account, check).await? {
        Attempt::Done(result) => result?,
        Attempt::Throttled(wait) => {
            let (auth, client) = (state.auth.clone(), client_info(&req));
            web::block(move || auth.record_throttled(&account, &client)).await??;
            return Err(password_guard::throttled(wait));
        }
    };
    Ok(HttpResponse::Ok().json(token_body(issued)))
}

/// Trade a refresh token for a new token pair (the old refresh token is spent).
#[utoipa::path(
    post,
    path = "/api/v2/auth/refresh",
    tag = "auth",
    request_body = RefreshBody,
    responses((status = 200, description = "A new token pair", body = TokenPair))
)]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req);
    let auth = state.auth.clone();
    let token = body.into_inner().refresh_token;
    let issued = web::block(move || auth.refresh(&token, &client)).await??;
    Ok(HttpResponse::Ok().json(token_body(issued)))
}

/// End the login the refresh token belongs to.
#[utoipa::path(
    post,
    path = "/api/v2/auth/logout",
    tag = "auth",
    request_body = RefreshBody,
    responses((status = 204, description = "Logged out"))
)]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req);
    let auth = state.auth.clone();
    let token = body.into_inner().refresh_token;
    web::block(move || auth.logout(&token, &client)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Applies the tight per-IP limit of the account endpoints (register, login, 2FA codes).
pub(crate) async fn check_rate(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let ip = crate::http::client_ip::of(req).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    match state.limits.check_ip(Class::Auth, Some(ip)).await {
        Some((rule, decision)) if !decision.allowed => Err(ApiError::limited(
            rule,
            decision,
            "account requests from this address",
        )),
        _ => Ok(()),
    }
}

pub(crate) fn token_body(issued: Issued) -> TokenPair {
    TokenPair {
        user: AccountView {
            id: issued.user.id,
            username: issued.user.username,
            role: issued.user.role,
            created_at: issued.user.created_at,
        },
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }
}
