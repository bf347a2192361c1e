//! `GET /api/v2/status`: what this node is and holds.

use crate::http::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::registry::RegistryStats;
use veza_actors::Stats;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(status))]
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

/// What this node is and holds.
#[derive(Serialize, ToSchema)]
pub struct NodeStatus {
    /// The server's version.
    pub version: &'static str,
    /// Seconds since this node started.
    pub uptime_s: u64,
    /// The store's backend: `postgres` or `sqlite`.
    pub store: &'static str,
    /// `off` (single node), `up` or `down`: the cluster bus and shared limits.
    pub redis: &'static str,
    /// WebSocket connections on this node.
    pub connections: u64,
    /// Rooms active (with a running room actor) on this node.
    pub rooms: u64,
    /// Streams on air on this node.
    pub live_streams: u64,
}

/// This node's version, store, cluster state and counts.
#[utoipa::path(
    get,
    path = "/api/v2/status",
    tag = "status",
    responses((status = 200, description = "This node", body = NodeStatus))
)]
pub async fn status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = node_stats(&state).await?;
    Ok(HttpResponse::Ok().json(NodeStatus {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: state.started.elapsed().as_secs(),
        store: state.pool.backend().as_str(),
        redis: state.redis_state(),
        connections: stats.connections,
        rooms: stats.rooms,
        live_streams: stats.live_streams,
    }))
}
