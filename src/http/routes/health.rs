//! `GET /health`: liveness. Answers as long as the process serves HTTP; it does not touch the store.

use actix_web::web;
use actix_web::HttpResponse;
use serde_json::json;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}
