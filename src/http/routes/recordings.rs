//! Recordings of finished broadcasts: `GET /api/v2/streams/{id}/recording` (the newest one's
//! audio), `/recordings` (all of them, with their loudness figures) and `/recordings/{rec}`. The
//! audio is streamed from disk with range requests (`file_response`).

use super::streams::load;
use crate::http::error::ApiError;
use crate::http::file_response;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::path::PathBuf;
use veza_actors::stream::recording::{self, Recording};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/streams/{id}/recording").route(web::get().to(latest)))
        .service(web::resource("/streams/{id}/recordings").route(web::get().to(list)))
        .service(web::resource("/streams/{id}/recordings/{rec}").route(web::get().to(show)));
}

fn root(state: &AppState) -> PathBuf {
    state.config.data_dir.join("recordings")
}

async fn entries(state: &AppState, stream_id: i64) -> Result<Vec<Recording>, ApiError> {
    let root = root(state);
    web::block(move || recording::list(&root, stream_id))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn entry_json(stream_id: i64, entry: &Recording) -> Value {
    let mut value = serde_json::to_value(entry).unwrap_or_default();
    if matches!(entry, Recording::Ready(_)) {
        value["url"] = json!(format!(
            "/api/v2/streams/{stream_id}/recordings/{}",
            entry.id()
        ));
    }
    value
}

/// 200 with the audio when ready, 202 while the broadcast is on air or being processed.
async fn respond(
    req: &HttpRequest,
    state: &AppState,
    stream_id: i64,
    entry: &Recording,
) -> Result<HttpResponse, ApiError> {
    match entry {
        Recording::Ready(meta) => {
            let rec: i64 = meta
                .id
                .parse()
                .map_err(|_| ApiError::not_found("no such recording"))?;
            let path = recording::audio_path(&root(state), stream_id, rec);
            let name = format!("recording-{stream_id}-{rec}.mp3");
            file_response::mp3(req, path, name, "no such recording").await
        }
        Recording::Processing { .. } => Ok(HttpResponse::Accepted()
            .insert_header((header::RETRY_AFTER, "5"))
            .json(entry_json(stream_id, entry))),
        Recording::Failed { error, .. } => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "recording_failed",
            format!("this recording could not be processed: {error}"),
        )),
    }
}

/// `GET /api/v2/streams/{id}/recording`: the newest broadcast's recording.
pub async fn latest(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
    let all = entries(&state, row.id).await?;
    let newest = all
        .first()
        .ok_or_else(|| ApiError::not_found("this stream has no recording yet"))?;
    respond(&req, &state, row.id, newest).await
}

/// `GET /api/v2/streams/{id}/recordings`.
pub async fn list(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
    let all = entries(&state, row.id).await?;
    let items: Vec<Value> = all.iter().map(|e| entry_json(row.id, e)).collect();
    Ok(HttpResponse::Ok().json(json!({ "recordings": items })))
}

/// `GET /api/v2/streams/{id}/recordings/{rec}`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (stream, rec) = path.into_inner();
    let row = load(&state, &stream).await?;
    let all = entries(&state, row.id).await?;
    let entry = all
        .iter()
        .find(|e| e.id() == rec)
        .ok_or_else(|| ApiError::not_found("no such recording"))?;
    respond(&req, &state, row.id, entry).await
}
