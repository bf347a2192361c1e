//! `/api/v2/auth/oauth/*` and `/api/v2/users/me/identities`: log in with a provider, link and
//! unlink provider accounts. The browser carries the flow's `state` in a short-lived cookie scoped
//! to these paths, so a callback only completes in the browser that started it.

use super::auth::{check_rate, token_body, TokenPair};
use crate::auth::oauth::flow::Callback;
use crate::auth::AuthError;
use crate::config::oauth::Provider;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::password_guard;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, complete, start, link, callback, identities, unlink))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/oauth/providers").route(web::get().to(list)))
        .service(web::resource("/auth/oauth/complete").route(web::post().to(complete)))
        .service(web::resource("/auth/oauth/{provider}/start").route(web::get().to(start)))
        .service(web::resource("/auth/oauth/{provider}/link").route(web::post().to(link)))
        .service(web::resource("/auth/oauth/{provider}/callback").route(web::get().to(callback)))
        .service(web::resource("/users/me/identities").route(web::get().to(identities)))
        .service(web::resource("/users/me/identities/{provider}").route(web::delete().to(unlink)));
}

const STATE_COOKIE: &str = "veza_oauth_state";
const COOKIE_PATH: &str = "/api/v2/auth/oauth";

#[derive(Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// The flow's state, checked against the browser's cookie.
    state: Option<String>,
    /// The provider's authorization code.
    code: Option<String>,
    /// The provider's error, when the user refused.
    error: Option<String>,
}

/// The optional body of an account change: the current password, needed unless the login is
/// younger than `reauth_window_s`.
#[derive(Deserialize, Default, ToSchema)]
#[schema(as = OAuthReauthBody)]
pub struct ReauthBody {
    current_password: Option<String>,
}

/// The body may be left out (a fresh login needs none); one that cannot be read counts as none.
fn reauth_body(body: Option<web::Json<ReauthBody>>) -> Option<String> {
    body.and_then(|b| b.into_inner().current_password)
        .filter(|p| !p.is_empty())
}

#[derive(Deserialize, ToSchema)]
#[schema(as = OAuthCompleteBody)]
pub struct CompleteBody {
    /// The `oauth_ticket` from the callback's redirect.
    ticket: String,
    /// Required (or `backup_code`) when the account has two-factor login on.
    totp_code: Option<String>,
    backup_code: Option<String>,
}

/// The providers one can log in with here.
#[derive(Serialize, ToSchema)]
pub struct OAuthProviders {
    pub providers: Vec<&'static str>,
}

/// Where to send the browser to link a provider account.
#[derive(Serialize, ToSchema)]
pub struct OAuthLinkStart {
    /// The provider's consent page.
    pub authorize_url: String,
}

/// How the caller can log in.
#[derive(Serialize, ToSchema)]
pub struct LoginMethodsView {
    /// Whether the account has a password.
    pub password: bool,
    pub identities: Vec<IdentityView>,
}

/// A provider account linked to the caller's.
#[derive(Serialize, ToSchema)]
pub struct IdentityView {
    pub provider: String,
    /// The email the provider gave, if any.
    #[schema(required = true)]
    pub email: Option<String>,
    pub linked_at: i64,
}

fn provider(name: &str) -> Result<Provider, ApiError> {
    Provider::parse(name).ok_or_else(|| AuthError::OAuthNotConfigured(name.to_owned()).into())
}

/// The state cookie: HttpOnly, SameSite=Lax (the provider's redirect back is a top-level
/// cross-site navigation, which Strict would strip), Secure when the site is HTTPS.
fn state_cookie(state: &AppState, value: &str, max_age_s: u32) -> String {
    let secure = state.auth.oauth_base_url().starts_with("https://");
    format!(
        "{STATE_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

fn cookie<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `GET /api/v2/auth/oauth/providers` -> `{providers: ["github", ...]}` (those switched on).
#[utoipa::path(
    get,
    path = "/api/v2/auth/oauth/providers",
    tag = "oauth",
    responses((status = 200, description = "The providers switched on", body = OAuthProviders))
)]
pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    let names: Vec<_> = state
        .auth
        .oauth_providers()
        .into_iter()
        .map(Provider::as_str)
        .collect();
    HttpResponse::Ok().json(OAuthProviders { providers: names })
}

/// `GET /api/v2/auth/oauth/{provider}/start` -> 302 to the provider's consent page.
#[utoipa::path(
    get,
    path = "/api/v2/auth/oauth/{provider}/start",
    tag = "oauth",
    params(("provider" = String, Path, description = "The provider: `google`, `github` or `discord`")),
    responses((status = 302, description = "To the provider's consent page (sets the flow's state cookie)"))
)]
pub async fn start(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let provider = provider(&path)?;
    let auth = state.auth.clone();
    let started = web::block(move || auth.oauth_start(provider, None)).await??;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, started.authorize_url))
        .insert_header((
            header::SET_COOKIE,
            state_cookie(&state, &started.state, 600),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `POST /api/v2/auth/oauth/{provider}/link {current_password?}` (logged in) -> `{authorize_url}`:
/// open it in this browser to link that provider account to yours. 403 `reauth_required` without
/// the password from a login older than `reauth_window_s`.
#[utoipa::path(
    post,
    path = "/api/v2/auth/oauth/{provider}/link",
    tag = "oauth",
    params(("provider" = String, Path, description = "The provider: `google`, `github` or `discord`")),
    request_body = Option<ReauthBody>,
    responses(
        (status = 200, description = "The consent page to open in this browser (sets the flow's state cookie)", body = OAuthLinkStart),
        (status = 403, description = "`reauth_required`: the current password is needed", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn link(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Option<web::Json<ReauthBody>>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let provider = provider(&path)?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let password = reauth_body(body);
    let ids = (who.user_id, who.session_id);
    let started = password_guard::reauth(&state, &who.username, password.is_some(), move || {
        auth.oauth_link_start(ids, provider, password.as_deref(), &client)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::SET_COOKIE,
            state_cookie(&state, &started.state, 600),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(OAuthLinkStart {
            authorize_url: started.authorize_url,
        }))
}

/// `GET /api/v2/auth/oauth/{provider}/callback?state&code` (or `&error`): 303 to the web page with
/// `#oauth_ticket=T` (redeem at `/complete`) or `#oauth_linked=PROVIDER`; a JSON error otherwise.
#[utoipa::path(
    get,
    path = "/api/v2/auth/oauth/{provider}/callback",
    tag = "oauth",
    params(("provider" = String, Path, description = "The provider: `google`, `github` or `discord`"), CallbackQuery),
    responses((status = 303, description = "To the web page, with `#oauth_ticket=T` (redeem at `/api/v2/auth/oauth/complete`) or `#oauth_linked=PROVIDER`"))
)]
pub async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let provider = provider(&path)?;
    let client = client_info(&req);
    let browser_state = cookie(&req, STATE_COOKIE).map(str::to_owned);
    let auth = state.auth.clone();
    let CallbackQuery {
        state: flow_state,
        code,
        error,
    } = query.into_inner();
    let outcome = web::block(move || {
        auth.oauth_callback(
            provider,
            flow_state.as_deref().unwrap_or_default(),
            browser_state.as_deref(),
            code.as_deref(),
            error.as_deref(),
            &client,
        )
    })
    .await?;
    // On an error the cookie is left to expire: its state is spent either way.
    let fragment = match outcome? {
        Callback::Ticket(ticket) => format!("oauth_ticket={ticket}"),
        Callback::Linked(p) => format!("oauth_linked={}", p.as_str()),
    };
    Ok(HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{}/#{fragment}", state.auth.oauth_base_url()),
        ))
        .insert_header((header::SET_COOKIE, state_cookie(&state, "", 0)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// `POST /api/v2/auth/oauth/complete {ticket, totp_code?|backup_code?}` -> the token pair, as login.
#[utoipa::path(
    post,
    path = "/api/v2/auth/oauth/complete",
    tag = "oauth",
    request_body = CompleteBody,
    responses((status = 200, description = "Logged in", body = TokenPair))
)]
pub async fn complete(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CompleteBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let CompleteBody {
        ticket,
        totp_code,
        backup_code,
    } = body.into_inner();
    let issued = web::block(move || {
        auth.oauth_complete(
            &ticket,
            (totp_code.as_deref(), backup_code.as_deref()),
            &client,
        )
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(token_body(issued)))
}

/// `GET /api/v2/users/me/identities` -> `{password, identities: [{provider, email, linked_at}]}`.
#[utoipa::path(
    get,
    path = "/api/v2/users/me/identities",
    tag = "oauth",
    responses((status = 200, description = "The caller's ways to log in", body = LoginMethodsView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn identities(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let auth = state.auth.clone();
    let methods = web::block(move || auth.login_methods(who.user_id)).await??;
    let identities = methods
        .identities
        .into_iter()
        .map(|i| IdentityView {
            provider: i.provider,
            email: i.email,
            linked_at: i.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(LoginMethodsView {
        password: methods.has_password,
        identities,
    }))
}

/// `DELETE /api/v2/users/me/identities/{provider} {current_password?}` -> 204; 409 when it is the
/// last way to log in; 403 `reauth_required` without the password from an old login.
#[utoipa::path(
    delete,
    path = "/api/v2/users/me/identities/{provider}",
    tag = "oauth",
    params(("provider" = String, Path, description = "The provider: `google`, `github` or `discord`")),
    request_body = Option<ReauthBody>,
    responses(
        (status = 204, description = "Unlinked"),
        (status = 409, description = "It is the account's last way to log in", body = crate::http::error::ErrorBody),
        (status = 403, description = "`reauth_required`: the current password is needed", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn unlink(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: Option<web::Json<ReauthBody>>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let provider = provider(&path)?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let password = reauth_body(body);
    let ids = (who.user_id, who.session_id);
    password_guard::reauth(&state, &who.username, password.is_some(), move || {
        auth.oauth_unlink(ids, provider, password.as_deref(), &client)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
