//! `/api/v2/streams/{id}/effects`: the live effects chain (EQ, echo, reverb, compressor, gain).
//! Stored with the stream, applied when it goes live, and switched while on air (the decoder
//! crossfades to the new chain).

use super::streams::{load, owner_only};
use crate::db::streams;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use veza_actors::ids::{now_ms, StreamId};
use veza_actors::registry::FindStream;
use veza_actors::stream::effects::EffectsSpec;
use veza_actors::stream::SetEffects;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(show, replace))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/streams/{id}/effects")
            .route(web::get().to(show))
            .route(web::put().to(replace)),
    );
}

/// The chain as stored, with whether it reached a live broadcast.
#[derive(Serialize, ToSchema)]
pub struct EffectsApplied {
    #[serde(flatten)]
    pub spec: EffectsSpec,
    /// The stream is live (on this node) and switched to the new chain.
    pub applied_live: bool,
}

/// The stream's effects chain (empty when none is set).
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/effects",
    tag = "effects",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses((status = 200, description = "The chain", body = EffectsSpec))
)]
pub async fn show(
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    let spec: EffectsSpec = serde_json::from_str(&row.effects).unwrap_or_default();
    Ok(HttpResponse::Ok().json(spec))
}

/// Replace the effects chain (owner or `streams.manage`), e.g.
/// `{"chain":[{"type":"echo","delay_ms":250}]}`; an empty chain turns every effect off. A live
/// broadcast crossfades to it. A chain that does not parse or is out of range is a 422.
#[utoipa::path(
    put,
    path = "/api/v2/streams/{id}/effects",
    tag = "effects",
    params(("id" = StreamId, Path, description = "The stream's id")),
    request_body = EffectsSpec,
    responses((status = 200, description = "The chain now stored", body = EffectsApplied)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn replace(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    owner_only(&state, &who, &row)?;
    let spec: EffectsSpec =
        serde_json::from_value(body.into_inner()).map_err(|e| ApiError::invalid(e.to_string()))?;
    spec.validate().map_err(|e| ApiError::invalid(e.0))?;
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
    Ok(HttpResponse::Ok().json(EffectsApplied {
        spec,
        applied_live: on_air,
    }))
}
