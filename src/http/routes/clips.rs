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
use serde::Serialize;
use serde_json::Value;
use std::path::PathBuf;
use veza_actors::registry::FindStream;
use veza_actors::stream::clip::{pending_marker, ClipRefused};
use veza_actors::stream::ladder::Variant;
use veza_actors::stream::{CutClip, PlanClip};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/streams/{id}/clips").route(web::post().to(create)))
        .service(web::resource("/streams/{id}/clips/{clip}").route(web::get().to(fetch)));
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        message,
    )
}

fn clip_path(state: &AppState, stream_id: i64, clip_id: i64) -> PathBuf {
    state
        .config
        .data_dir
        .join("clips")
        .join(stream_id.to_string())
        .join(format!("{clip_id}.mp3"))
}

fn seconds(body: &Value, name: &str) -> Result<f64, ApiError> {
    body.get(name)
        .and_then(Value::as_f64)
        .ok_or_else(|| invalid(format!("{name} must be a number of seconds back from now")))
}

/// A clip just asked for (201).
#[derive(Serialize)]
struct ClipCreated {
    id: String,
    url: String,
    from: f64,
    to: f64,
    duration: f64,
    variant: Variant,
    status: &'static str,
}

/// A clip still being cut (202).
#[derive(Serialize)]
struct ClipProcessing {
    id: String,
    status: &'static str,
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

fn refusal(e: ClipRefused) -> ApiError {
    match e {
        ClipRefused::NoSource => {
            ApiError::new(StatusCode::CONFLICT, "no_clip_source", e.to_string())
        }
        ClipRefused::BadRange | ClipRefused::OutOfWindow { .. } => invalid(e.to_string()),
    }
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

/// `POST /api/v2/streams/{id}/clips` `{"from":30,"to":0}` -> 201 `{id,url,...}`.
pub async fn create(
    Authorized(who, _): Authorized<ClipsCreate>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let row = load(&state, &path).await?;
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
        .map_err(refusal)?;
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
                Ok(Err(e)) => refusal(e),
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

/// `GET /api/v2/streams/{id}/clips/{clip}`: 200 (or 206 for a range) with the MP3, 202 while it
/// is cut, 404.
pub async fn fetch(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (stream, clip) = path.into_inner();
    let not_found = || ApiError::not_found("no such clip");
    let (stream, clip) = match (stream.parse::<i64>(), clip.parse::<i64>()) {
        (Ok(s), Ok(c)) => (s, c),
        _ => return Err(not_found()),
    };
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
