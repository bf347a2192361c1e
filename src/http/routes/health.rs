//! `GET /health`: liveness. Answers as long as the process serves HTTP; it does not touch the store.

use actix_web::HttpResponse;
use serde_json::json;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}
