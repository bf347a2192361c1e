//! Recordings of finished broadcasts: `GET /api/v2/streams/{id}/recording` (the newest one's
//! audio), `/recordings` (all of them, with their loudness figures) and `/recordings/{rec}`. The
//! audio is streamed from disk with range requests (`file_response`).

use super::streams::load;
use crate::http::error::ApiError;
use crate::http::file_response;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use std::path::PathBuf;
use utoipa::ToSchema;
use veza_actors::ids::StreamId;
use veza_actors::stream::recording::{self, Recording};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(latest, list, show))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/streams/{id}/recording").route(web::get().to(latest)))
        .service(web::resource("/streams/{id}/recordings").route(web::get().to(list)))
        .service(web::resource("/streams/{id}/recordings/{rec}").route(web::get().to(show)));
}

fn root(state: &AppState) -> PathBuf {
    state.config.data_dir.join("recordings")
}

async fn entries(state: &AppState, stream_id: StreamId) -> Result<Vec<Recording>, ApiError> {
    let root = root(state);
    web::block(move || recording::list(&root, stream_id.0))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// One recording of a stream: `status` says whether it is `ready`, `processing` or `failed`.
#[derive(Serialize, ToSchema)]
pub struct RecordingView {
    #[serde(flatten)]
    pub entry: Recording,
    /// Where its audio is (only when ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordingList {
    /// Newest first.
    pub recordings: Vec<RecordingView>,
}

fn entry_view(stream_id: StreamId, entry: &Recording) -> RecordingView {
    let url = matches!(entry, Recording::Ready(_))
        .then(|| format!("/api/v2/streams/{stream_id}/recordings/{}", entry.id()));
    RecordingView {
        entry: entry.clone(),
        url,
    }
}

/// 200 with the audio when ready, 202 while the broadcast is on air or being processed.
async fn respond(
    req: &HttpRequest,
    state: &AppState,
    stream_id: StreamId,
    entry: &Recording,
) -> Result<HttpResponse, ApiError> {
    match entry {
        Recording::Ready(meta) => {
            let rec: i64 = meta
                .id
                .parse()
                .map_err(|_| ApiError::not_found("no such recording"))?;
            let path = recording::audio_path(&root(state), stream_id.0, rec);
            let name = format!("recording-{stream_id}-{rec}.mp3");
            file_response::mp3(req, path, name, "no such recording").await
        }
        Recording::Processing { .. } => Ok(HttpResponse::Accepted()
            .insert_header((header::RETRY_AFTER, "5"))
            .json(entry_view(stream_id, entry))),
        Recording::Failed { error, .. } => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "recording_failed",
            format!("this recording could not be processed: {error}"),
        )),
    }
}

/// The newest broadcast's recording: its MP3 (with range requests) once processed, 202 before.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/recording",
    tag = "recordings",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses(
        (status = 200, description = "The recording", content_type = "audio/mpeg"),
        (status = 206, description = "A range of the recording", content_type = "audio/mpeg"),
        (status = 202, description = "On air or being processed (`Retry-After: 5`)", body = RecordingView)
    )
)]
pub async fn latest(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    let all = entries(&state, row.id).await?;
    let newest = all
        .first()
        .ok_or_else(|| ApiError::not_found("this stream has no recording yet"))?;
    respond(&req, &state, row.id, newest).await
}

/// A stream's recordings, with their loudness figures.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/recordings",
    tag = "recordings",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses((status = 200, description = "The recordings", body = RecordingList))
)]
pub async fn list(
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    let all = entries(&state, row.id).await?;
    let recordings = all.iter().map(|e| entry_view(row.id, e)).collect();
    Ok(HttpResponse::Ok().json(RecordingList { recordings }))
}

/// One recording's MP3 (with range requests) once processed, 202 before.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/recordings/{rec}",
    tag = "recordings",
    params(
        ("id" = StreamId, Path, description = "The stream's id"),
        ("rec" = String, Path, description = "The recording's id (its broadcast's start, ms since the epoch)")
    ),
    responses(
        (status = 200, description = "The recording", content_type = "audio/mpeg"),
        (status = 206, description = "A range of the recording", content_type = "audio/mpeg"),
        (status = 202, description = "Being processed (`Retry-After: 5`)", body = RecordingView)
    )
)]
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(StreamId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (stream, rec) = path.into_inner();
    let row = load(&state, stream).await?;
    let all = entries(&state, row.id).await?;
    let entry = all
        .iter()
        .find(|e| e.id() == rec)
        .ok_or_else(|| ApiError::not_found("no such recording"))?;
    respond(&req, &state, row.id, entry).await
}
