//! `GET /api/v2/status`: what this node is and holds.

use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;
use veza_actors::registry::RegistryStats;
use veza_actors::Stats;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/status", web::get().to(status));
}

/// This node's connections, rooms and live streams, from the registry.
pub async fn node_stats(state: &AppState) -> Result<RegistryStats, ApiError> {
    state
        .registry
        .send(Stats)
        .await
        .map_err(|e| ApiError::internal(format!("registry unreachable: {e}")))
}

pub async fn status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = node_stats(&state).await?;
    Ok(HttpResponse::Ok().json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs(),
        "store": state.pool.backend().as_str(),
        // "off" (single node), "up" or "down": the cluster bus and shared limits.
        "redis": state.redis_state(),
        "connections": stats.connections,
        "rooms": stats.rooms,
        "live_streams": stats.live_streams,
    })))
}
