//! `GET /health`: liveness. Answers as long as the process serves HTTP; it does not touch the store.

use actix_web::web;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(health))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

/// The process is up.
#[derive(Serialize, ToSchema)]
pub struct HealthStatus {
    /// Always `ok`.
    pub status: &'static str,
}

/// Liveness: answers while the process serves HTTP (the store is not checked).
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses((status = 200, description = "Alive", body = HealthStatus))
)]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "ok" })
}
