//! `/api/v2/streams/{id}/clips`: cut the last N seconds of a live stream into an MP3 file. The cut
//! happens once that audio is segmented (a couple of seconds); until then the clip's URL answers
//! 202, then 200 with the file (streamed from disk, with range requests). Clips are bounded: at
//! most `clip_max_seconds` long, `clips_per_user_hour` per user, `clip_queue` in the node's pool at
//! once, and deleted `clip_expire_seconds` after they are cut.

use super::streams::load;
use crate::http::error::ApiError;
use crate::http::file_response;
use crate::http::guard::{Authorized, ClipsCreate};
use crate::limits::Class;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use utoipa::ToSchema;
use veza_actors::ids::StreamId;
use veza_actors::registry::FindStream;
use veza_actors::stream::clip::pending_marker;
use veza_actors::stream::ladder::Variant;
use veza_actors::stream::{CutClip, PlanClip};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, fetch))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/streams/{id}/clips").route(web::post().to(create)))
        .service(web::resource("/streams/{id}/clips/{clip}").route(web::get().to(fetch)));
}

fn clip_path(state: &AppState, stream_id: StreamId, clip_id: i64) -> PathBuf {
    state
        .config
        .data_dir
        .join("clips")
        .join(stream_id.to_string())
        .join(format!("{clip_id}.mp3"))
}

fn seconds(body: &Value, name: &str) -> Result<f64, ApiError> {
    body.get(name).and_then(Value::as_f64).ok_or_else(|| {
        ApiError::invalid(format!("{name} must be a number of seconds back from now"))
    })
}

/// What to cut: seconds back from now (`{"from":30,"to":0}` is the last 30 s), within the DVR
/// window and at most `clip_max_seconds` long. (The body is read as JSON and checked field by
/// field, so a missing or non-numeric bound is a 422.)
#[derive(Deserialize, ToSchema)]
pub struct ClipRequest {
    /// Where the clip starts, in seconds back from now.
    pub from: f64,
    /// Where it ends, in seconds back from now (0: now).
    pub to: f64,
}

/// A clip just asked for (201).
#[derive(Serialize, ToSchema)]
pub struct ClipCreated {
    /// The clip's id (a decimal string).
    pub id: String,
    /// Where to fetch it (also the `Location` header).
    pub url: String,
    pub from: f64,
    pub to: f64,
    /// Seconds of audio in the clip (segment boundaries may round the range).
    pub duration: f64,
    /// The variant the clip is cut from, e.g. `mp3-128`.
    #[schema(value_type = String)]
    pub variant: Variant,
    /// `processing`.
    pub status: &'static str,
}

/// A clip still being cut (202).
#[derive(Serialize, ToSchema)]
pub struct ClipProcessing {
    /// The clip's id (a decimal string).
    pub id: String,
    /// `processing`.
    pub status: &'static str,
}

fn not_live() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_live",
        "clips are cut from a live stream's DVR window; the stream is not live",
    )
}

fn ended() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "not_live", "the broadcast just ended")
}

/// 503 with `Retry-After` when this node's clip pool is full.
fn pool_full() -> ApiError {
    ApiError {
        retry_after_s: Some(5),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many clips are being cut on this server; retry shortly",
        )
    }
}

/// Cut a clip from a live stream's DVR window; it is ready a couple of seconds later at its URL.
#[utoipa::path(
    post,
    path = "/api/v2/streams/{id}/clips",
    tag = "clips",
    params(("id" = StreamId, Path, description = "The stream's id")),
    request_body = ClipRequest,
    responses(
        (status = 201, description = "The clip, being cut", body = ClipCreated,
            headers(("Location" = String, description = "The clip's URL"))),
        (status = 409, description = "The stream is not live (`not_live`) or has no clip source", body = crate::http::error::ErrorBody),
        (status = 503, description = "This node's clip pool is full (`overloaded`, with `Retry-After`)", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    Authorized(who, _): Authorized<ClipsCreate>,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, path.into_inner()).await?;
    let (from, to) = (seconds(&body, "from")?, seconds(&body, "to")?);
    let max = f64::from(state.config.clip_max_seconds);
    if from - to > max {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "clip_too_long",
            format!("a clip may be at most {max} s long"),
        ));
    }
    let session = state
        .registry
        .send(FindStream(row.mount.clone()))
        .await
        .ok()
        .flatten()
        .ok_or_else(not_live)?;
    // Refusals (a range outside the DVR window) are answered before the clip is counted.
    session
        .send(PlanClip { from, to })
        .await
        .map_err(|_| ended())?
        .map_err(ApiError::from)?;
    let user = who.user_id.to_string();
    if let Some((rule, decision)) = state.limits.check(Class::Clip, &user).await {
        if !decision.allowed {
            return Err(ApiError::limited(rule, decision, "clips from this account"));
        }
    }
    let slot = state.clips.admit().ok_or_else(pool_full)?;
    let clip_id = state.ids.next_id();
    let dest = clip_path(&state, row.id, clip_id);
    let marker = pending_marker(&dest);
    let m = marker.clone();
    web::block(move || {
        if let Some(dir) = m.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&m, b"")
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(|e| ApiError::internal(format!("clip directory: {e}")))?;
    let cut = CutClip {
        from,
        to,
        dest,
        pool: state.clips.clone(),
        slot,
    };
    let planned = match session.send(cut).await {
        Ok(Ok(planned)) => planned,
        outcome => {
            let _marker_cleanup = web::block(move || std::fs::remove_file(marker)).await;
            return Err(match outcome {
                Ok(Err(e)) => ApiError::from(e),
                _ => ended(),
            });
        }
    };
    let url = format!("/api/v2/streams/{}/clips/{clip_id}", row.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url.clone()))
        .json(ClipCreated {
            id: clip_id.to_string(),
            url,
            from,
            to,
            duration: planned.end - planned.start,
            variant: planned.variant,
            status: "processing",
        }))
}

/// A clip's MP3 (with range requests), or 202 while it is being cut. Clips expire
/// `clip_expire_seconds` after they are cut.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/clips/{clip}",
    tag = "clips",
    params(
        ("id" = StreamId, Path, description = "The stream's id"),
        ("clip" = String, Path, description = "The clip's id")
    ),
    responses(
        (status = 200, description = "The clip", content_type = "audio/mpeg"),
        (status = 206, description = "A range of the clip", content_type = "audio/mpeg"),
        (status = 202, description = "Still being cut (`Retry-After: 1`)", body = ClipProcessing)
    )
)]
pub async fn fetch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(StreamId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (stream, clip) = path.into_inner();
    let clip = clip
        .parse::<i64>()
        .map_err(|_| ApiError::not_found("no such clip"))?;
    let dest = clip_path(&state, stream, clip);
    let marker = pending_marker(&dest);
    let pending = web::block(move || marker.exists())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if pending {
        return Ok(HttpResponse::Accepted()
            .insert_header((header::RETRY_AFTER, "1"))
            .json(ClipProcessing {
                id: clip.to_string(),
                status: "processing",
            }));
    }
    file_response::mp3(&req, dest, format!("clip-{clip}.mp3"), "no such clip").await
}
