//! `/api/v2/streams/{id}/clips`: cut the last N seconds of a live stream into an MP3 file. The cut
//! happens once that audio is segmented (a couple of seconds); until then the clip's URL answers
//! 202, then 200 with the file.

use super::streams::load;
use crate::http::error::ApiError;
use crate::http::guard::{Authorized, ClipsCreate};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use std::path::PathBuf;
use veza_actors::registry::FindStream;
use veza_actors::stream::clip::{pending_marker, ClipRefused};
use veza_actors::stream::CutClip;

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

/// `POST /api/v2/streams/{id}/clips` `{"from":30,"to":0}` -> 201 `{id,url,...}`.
pub async fn create(
    Authorized(_who, _): Authorized<ClipsCreate>,
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
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "not_live",
                "clips are cut from a live stream's DVR window; the stream is not live",
            )
        })?;
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
    let refused = match session.send(CutClip { from, to, dest }).await {
        Ok(Ok(planned)) => Ok(planned),
        Ok(Err(e @ ClipRefused::NoSource)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_clip_source",
            e.to_string(),
        )),
        Ok(Err(e)) => Err(invalid(e.to_string())),
        Err(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_live",
            "the broadcast just ended",
        )),
    };
    let planned = match refused {
        Ok(planned) => planned,
        Err(e) => {
            let _marker_cleanup = web::block(move || std::fs::remove_file(marker)).await;
            return Err(e);
        }
    };
    let url = format!("/api/v2/streams/{}/clips/{clip_id}", row.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url.clone()))
        .json(json!({
            "id": clip_id.to_string(),
            "url": url,
            "from": from,
            "to": to,
            "duration": planned.end - planned.start,
            "variant": planned.variant,
            "status": "processing",
        })))
}

/// `GET /api/v2/streams/{id}/clips/{clip}`: 200 with the MP3, 202 while it is cut, 404.
pub async fn fetch(
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
    let (file, pending) = web::block(move || {
        let marker = pending_marker(&dest);
        (std::fs::read(&dest).ok(), marker.exists())
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    match (file, pending) {
        (Some(data), false) => Ok(HttpResponse::Ok()
            .content_type("audio/mpeg")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"clip-{clip}.mp3\""),
            ))
            .body(data)),
        (_, true) => Ok(HttpResponse::Accepted()
            .insert_header((header::RETRY_AFTER, "1"))
            .json(json!({"id": clip.to_string(), "status": "processing"}))),
        _ => Err(not_found()),
    }
}
