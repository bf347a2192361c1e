//! `/api/v2/users/*`.

use crate::http::extract::AuthUser;
use actix_web::HttpResponse;
use serde_json::json;

/// `GET /api/v2/users/me`.
pub async fn me(AuthUser(who): AuthUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": who.user_id.to_string(),
        "username": who.username,
        "role": who.role,
        "created_at": who.created_at,
    }))
}
