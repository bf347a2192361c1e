//! `/api/v2/streams/{id}/effects`: the live effects chain (EQ, echo, reverb, compressor, gain).
//! Stored with the stream, applied when it goes live, and switched while on air (the decoder
//! crossfades to the new chain).

use super::streams::{load, owner_only};
use crate::db::streams;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use veza_actors::ids::now_ms;
use veza_actors::registry::FindStream;
use veza_actors::stream::effects::EffectsSpec;
use veza_actors::stream::SetEffects;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/streams/{id}/effects")
            .route(web::get().to(show))
            .route(web::put().to(replace)),
    );
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        message,
    )
}

/// `GET /api/v2/streams/{id}/effects`.
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
    let spec: EffectsSpec = serde_json::from_str(&row.effects).unwrap_or_default();
    Ok(HttpResponse::Ok().json(spec))
}

/// `PUT /api/v2/streams/{id}/effects` `{"chain":[{"type":"echo","delay_ms":250},...]}`; an empty
/// chain turns every effect off.
pub async fn replace(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
    owner_only(&state, &who, &row)?;
    let spec: EffectsSpec =
        serde_json::from_value(body.into_inner()).map_err(|e| invalid(e.to_string()))?;
    spec.validate().map_err(|e| invalid(e.0))?;
    let stored = serde_json::to_string(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
    let pool = state.pool.clone();
    let id = row.id;
    web::block(move || streams::set_effects(&mut *pool.get()?, id, &stored, now_ms() as i64))
        .await??;
    let live = state
        .registry
        .send(FindStream(row.mount))
        .await
        .ok()
        .flatten();
    let on_air = live.is_some();
    if let Some(session) = live {
        session.do_send(SetEffects(spec.clone()));
    }
    let mut body = json!(spec);
    body["applied_live"] = json!(on_air);
    Ok(HttpResponse::Ok().json(body))
}
