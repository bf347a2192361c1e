//! The `AuthUser`, `WsUser` and `MediaUser` extractors: a handler that takes one is only called
//! for a valid, unrevoked access token. REST routes take it from `Authorization: Bearer` only;
//! `GET /ws` also takes `?access_token=`, since a browser cannot set headers on a WebSocket, and
//! so do the upload GETs (`MediaUser`), since `<img src>` and download links cannot either. Bots
//! sign in with `Authorization: Bot <token>` on all of them.

use super::access_log::LoggedUser;
use super::error::ApiError;
use crate::auth::Authenticated;
use crate::limits::Class;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

/// The caller of a REST route, authenticated by `Authorization: Bearer`.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Authenticated);

/// The caller opening `GET /ws`: `Authorization: Bearer`, or `?access_token=` for browsers. Only the
/// WebSocket takes the query token: on REST routes it would end up in access logs, browser history
/// and `Referer` headers, a URL worth a login.
#[derive(Debug, Clone)]
pub struct WsUser(pub Authenticated);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token =
            header_credential(req).and_then(|token| token.ok_or_else(|| no_header_token(req)));
        let who = authenticate(req, token);
        Box::pin(async move { who.await.map(AuthUser) })
    }
}

/// The caller of an upload's GET routes (`/api/v2/uploads/{id}`, `.../content`,
/// `.../thumbnail`): `Authorization`, or `?access_token=` for `<img src>` and download links.
/// The access log records paths without their query, and every response says
/// `Referrer-Policy: no-referrer`, so the token goes no further than the URL the page built.
#[derive(Debug, Clone)]
pub struct MediaUser(pub Authenticated);

impl FromRequest for WsUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let who = authenticate(req, header_or_query_credential(req));
        Box::pin(async move { who.await.map(WsUser) })
    }
}

impl FromRequest for MediaUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let who = authenticate(req, header_or_query_credential(req));
        Box::pin(async move { who.await.map(MediaUser) })
    }
}

/// The `Authorization` credential, else `?access_token=` as a bearer token.
fn header_or_query_credential(req: &HttpRequest) -> Result<Credential, ApiError> {
    header_credential(req).and_then(|token| {
        token
            .or_else(|| query_token(req).map(Credential::Bearer))
            .ok_or_else(|| ApiError::unauthorized("missing access token"))
    })
}

/// What the caller signs in with.
enum Credential {
    /// A user's access token (JWT).
    Bearer(String),
    /// A bot's long-lived token.
    Bot(String),
}

/// Checks `token` against the store and applies the per-account rate limits.
fn authenticate(
    req: &HttpRequest,
    token: Result<Credential, ApiError>,
) -> LocalBoxFuture<'static, Result<Authenticated, ApiError>> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let req = req.clone();
    Box::pin(async move {
        let token = token?;
        let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
        let auth = state.auth.clone();
        let who = web::block(move || match token {
            Credential::Bearer(token) => auth.authenticate(&token),
            Credential::Bot(token) => auth.authenticate_bot(&token),
        })
        .await??;
        req.extensions_mut().insert(LoggedUser(who.user_id.0));
        // Per user, and per endpoint class for requests that change something.
        let user = who.user_id.to_string();
        let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let classes: &[Class] = if who.role == crate::auth::Role::Bot {
            &[Class::Bot]
        } else if writes {
            &[Class::User, Class::Write]
        } else {
            &[Class::User]
        };
        for class in classes {
            if let Some((rule, decision)) = state.limits.check(*class, &user).await {
                if !decision.allowed {
                    let what = match class {
                        Class::Write => "changes",
                        Class::Bot => "requests from this bot",
                        _ => "requests",
                    };
                    return Err(ApiError::limited(
                        rule,
                        decision,
                        &format!("{what} from this account"),
                    ));
                }
            }
        }
        Ok(who)
    })
}

/// The `Authorization: Bearer` or `Bot` token, `None` without the header, an error for another
/// scheme.
fn header_credential(req: &HttpRequest) -> Result<Option<Credential>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if !token.trim().is_empty() => {
            let token = token.trim().to_owned();
            if scheme.eq_ignore_ascii_case("bearer") {
                Ok(Some(Credential::Bearer(token)))
            } else if scheme.eq_ignore_ascii_case("bot") {
                Ok(Some(Credential::Bot(token)))
            } else {
                Err(scheme_error())
            }
        }
        _ => Err(scheme_error()),
    }
}

fn scheme_error() -> ApiError {
    ApiError::unauthorized("Authorization must be `Bearer <access_token>` or `Bot <bot_token>`")
}

fn query_token(req: &HttpRequest) -> Option<String> {
    web::Query::<AccessTokenQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().access_token)
        .filter(|t| !t.is_empty())
}

/// Why a REST request without the header is refused: say so when it brought a query token instead.
fn no_header_token(req: &HttpRequest) -> ApiError {
    match query_token(req) {
        Some(_) => ApiError::unauthorized(
            "`?access_token=` is accepted on the WebSocket (`/ws`) and the upload downloads \
             only; send `Authorization: Bearer <access_token>`",
        ),
        None => ApiError::unauthorized("missing access token"),
    }
}

#[derive(serde::Deserialize)]
struct AccessTokenQuery {
    access_token: Option<String>,
}
