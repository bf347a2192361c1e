//! The `AuthUser` extractor: a handler that takes one is only called for a valid, unrevoked access
//! token (`Authorization: Bearer`, or `?access_token=` for browsers opening a WebSocket).

use super::access_log::LoggedUser;
use super::error::ApiError;
use crate::auth::Authenticated;
use crate::limits::Class;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

#[derive(Debug, Clone)]
pub struct AuthUser(pub Authenticated);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let token = bearer_token(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let token = token?;
            let state = state.ok_or_else(|| ApiError::internal("AppState missing"))?;
            let auth = state.auth.clone();
            let who = web::block(move || auth.authenticate(&token)).await??;
            req.extensions_mut().insert(LoggedUser(who.user_id));
            // Per user, and per endpoint class for requests that change something.
            let user = who.user_id.to_string();
            let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            let classes: &[Class] = if writes {
                &[Class::User, Class::Write]
            } else {
                &[Class::User]
            };
            for class in classes {
                if let Some((rule, decision)) = state.limits.check(*class, &user).await {
                    if !decision.allowed {
                        let what = if *class == Class::Write {
                            "changes"
                        } else {
                            "requests"
                        };
                        return Err(ApiError::limited(
                            rule,
                            decision,
                            &format!("{what} from this account"),
                        ));
                    }
                }
            }
            Ok(AuthUser(who))
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
        return match value.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(token.trim().to_owned())
            }
            _ => Err(ApiError::unauthorized(
                "Authorization must be `Bearer <access_token>`",
            )),
        };
    }
    web::Query::<AccessTokenQuery>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("missing access token"))
}

#[derive(serde::Deserialize)]
struct AccessTokenQuery {
    access_token: Option<String>,
}
