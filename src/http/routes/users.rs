//! `/api/v2/users/*`.

use super::auth::{check_rate, AccountView};
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
#[openapi(paths(me, change_password))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users/me").route(web::get().to(me)))
        .service(web::resource("/users/me/password").route(web::put().to(change_password)));
}

#[derive(Deserialize, ToSchema)]
#[schema(as = PasswordChangeBody)]
pub struct PasswordBody {
    /// Required when the account has a password.
    current_password: Option<String>,
    new_password: String,
}

/// The password changed; the caller's other logins ended.
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    /// How many other logins were ended.
    pub sessions_ended: usize,
}

/// `GET /api/v2/users/me`.
#[utoipa::path(
    get,
    path = "/api/v2/users/me",
    tag = "users",
    responses((status = 200, description = "The caller's account", body = AccountView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn me(AuthUser(who): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(AccountView {
        id: who.user_id,
        username: who.username,
        role: who.role.as_str().to_owned(),
        created_at: who.created_at,
    })
}

/// `PUT /api/v2/users/me/password {current_password?, new_password}` -> 200 `{sessions_ended}`.
#[utoipa::path(
    put,
    path = "/api/v2/users/me/password",
    tag = "users",
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Changed", body = PasswordChanged),
        (status = 403, description = "`reauth_required`: the current password is needed", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn change_password(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req).await?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let PasswordBody {
        current_password,
        new_password,
    } = body.into_inner();
    let given = current_password.is_some();
    let ended = password_guard::reauth(&state, &who.username, given, move || {
        auth.change_password(
            who.user_id,
            who.session_id,
            current_password.as_deref(),
            &new_password,
            &client,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(PasswordChanged {
        sessions_ended: ended,
    }))
}
