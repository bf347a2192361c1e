//! `/api/v2/users/*`.

use super::auth::check_rate;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::password_guard;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users/me").route(web::get().to(me)))
        .service(web::resource("/users/me/password").route(web::put().to(change_password)));
}

#[derive(Deserialize)]
pub struct PasswordBody {
    /// Required when the account has a password.
    current_password: Option<String>,
    new_password: String,
}

/// `GET /api/v2/users/me`.
pub async fn me(AuthUser(who): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": who.user_id.to_string(),
        "username": who.username,
        "role": who.role,
        "created_at": who.created_at,
    }))
}

/// `PUT /api/v2/users/me/password {current_password?, new_password}` -> 200 `{sessions_ended}`.
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
    Ok(HttpResponse::Ok().json(json!({ "sessions_ended": ended })))
}
