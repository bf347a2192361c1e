//! `POST /api/v2/streams/{id}/lyrics`: a live broadcaster pushes the line being sung now; it goes
//! to the stream's linked room as a `lyrics` event stamped with the stream clock (the newest audio
//! encoded), as AutoDJ's timed lines are. Owner or `streams.manage`; the stream must be live on this
//! node (another node's live stream: `307` to it).

use super::streams::{live_info, load, owner_only};
use crate::autodj::lyrics::{event, TimedLine};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veza_actors::stream::NotifyRoom;
use veza_actors::StreamId;

/// Longest line accepted, in characters.
const MAX_LINE: usize = 500;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(push))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/streams/{id}/lyrics").route(web::post().to(push)));
}

/// The line sung now.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushLine {
    /// At most 500 characters; empty clears the line shown.
    text: String,
}

/// Where the line sits on the stream clock.
#[derive(Serialize, ToSchema)]
pub struct PushedLine {
    /// Seconds since the broadcast began.
    stream_time: f64,
    /// Wall-clock ms of the line (the broadcast's start plus `stream_time`).
    at: i64,
}

/// Push the current lyrics line of a live broadcast to its linked room.
#[utoipa::path(
    post,
    path = "/api/v2/streams/{id}/lyrics",
    tag = "streams",
    params(("id" = StreamId, Path, description = "The stream's id")),
    request_body = PushLine,
    responses(
        (status = 200, description = "Sent to the linked room", body = PushedLine),
        (status = 307, description = "Live on another node: push there"),
        (status = 409, description = "Not live, or no linked room (`not_live`, `no_room`)", body = crate::http::error::ErrorBody),
        (status = 422, description = "The line is too long", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn push(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    body: web::Json<PushLine>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let stream = load(&state, path.into_inner()).await?;
    owner_only(&state, &who, &stream)?;
    if body.text.chars().count() > MAX_LINE {
        return Err(ApiError::invalid(format!(
            "text: at most {MAX_LINE} characters"
        )));
    }
    if let Some(redirect) =
        crate::http::stream_redirect::to_owner(&state, &stream.mount, &req).await
    {
        return Ok(redirect);
    }
    let room = stream.room_id.ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_room",
            "the stream has no linked room to show lyrics in",
        )
    })?;
    let live = live_info(&state, &stream.mount)
        .await
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "not_live", "the stream is not live"))?;
    // Milliseconds, as the event has it.
    let stream_time = (live.edge * 1000.0).round() / 1000.0;
    let line = TimedLine {
        stream_time,
        track: None,
        text: body.text.chars().filter(|c| !c.is_control()).collect(),
        words: Vec::new(),
        word_times: Vec::new(),
    };
    let frame = event(room, stream.id, live.started_at, &line);
    state.registry.do_send(NotifyRoom { room, frame });
    Ok(HttpResponse::Ok().json(PushedLine {
        stream_time,
        at: live.started_at + (stream_time * 1000.0).round() as i64,
    }))
}
