//! A stream's AutoDJ: `PUT|GET|DELETE /api/v2/streams/{id}/autodj` (turn it on with a playlist and
//! settings, see what it plays, turn it off), `POST .../autodj/skip`, `POST .../autodj/queue`
//! (play a track next). Owner or `streams.manage`. The programme plays on one node (the one holding
//! the mount's lease); a request reaching another node while it is on air there is redirected to
//! it (`307`), as listeners are.

use super::streams::{load, owner_only};
use crate::autodj::keeper::{ensure_on_air, picker_of, settings_of};
use crate::autodj::library::track_to_play;
use crate::autodj::mixer::Control;
use crate::autodj::picker::PlayMode;
use crate::autodj::programmes::{ControlProgramme, OnAir, ProgrammeStatus};
use crate::db::autodj::{self, AutoDjRow};
use crate::db::streams::StreamRow;
use crate::db::{playlists, tracks};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veza_actors::ids::{now_ms, StreamId};
use veza_actors::ids::{PlaylistId, TrackId};

/// Crossfade between tracks: default and bounds (ms).
const CROSSFADE_DEFAULT: i64 = 4000;
const CROSSFADE_MAX: i64 = 15_000;
/// Handover to a live source and back: default and bounds (ms).
const HANDOVER_DEFAULT: i64 = 500;
const HANDOVER_MIN: i64 = 50;
const HANDOVER_MAX: i64 = 1500;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(show, enable, disable, skip, queue))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/streams/{id}/autodj")
            .route(web::get().to(show))
            .route(web::put().to(enable))
            .route(web::delete().to(disable)),
    )
    .service(web::resource("/streams/{id}/autodj/skip").route(web::post().to(skip)))
    .service(web::resource("/streams/{id}/autodj/queue").route(web::post().to(queue)));
}

/// Turn the AutoDJ on (or change its settings).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnableAutoDj {
    /// The playlist to play (the stream's owner must own it or edit it).
    playlist: PlaylistId,
    /// `loop` (in order, default) or `shuffle`.
    #[serde(default)]
    mode: Option<PlayMode>,
    /// Crossfade between tracks, 0 (gapless) to 15000 ms; default 4000.
    #[serde(default)]
    crossfade_ms: Option<i64>,
    /// Crossfade to a live source and back, 50 to 1500 ms; default 500.
    #[serde(default)]
    handover_ms: Option<i64>,
}

/// A stream's AutoDJ.
#[derive(Serialize, ToSchema)]
pub struct AutoDjView {
    stream: StreamId,
    playlist: PlaylistId,
    mode: PlayMode,
    crossfade_ms: i64,
    handover_ms: i64,
    enabled: bool,
    /// On air on this node now (false while a live-only broadcast has the mount, or on another
    /// node: ask that one, this request would have been redirected).
    on_air: bool,
    /// What it plays (null when not on air here).
    #[schema(required = true)]
    now: Option<OnAir>,
}

/// Play a track next.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueTrack {
    track: TrackId,
}

/// The stream, its owner checked, or a redirect to the node playing it.
async fn owned(
    state: &AppState,
    who: &crate::auth::Authenticated,
    id: StreamId,
    req: &HttpRequest,
) -> Result<Result<StreamRow, HttpResponse>, ApiError> {
    let stream = load(state, id).await?;
    owner_only(state, who, &stream)?;
    if let Some(redirect) = crate::http::stream_redirect::to_owner(state, &stream.mount, req).await
    {
        return Ok(Err(redirect));
    }
    Ok(Ok(stream))
}

async fn row_of(state: &AppState, stream: StreamId) -> Result<Option<AutoDjRow>, ApiError> {
    let pool = state.pool.clone();
    Ok(web::block(move || autodj::find(&mut *pool.get()?, stream)).await??)
}

async fn view(state: &AppState, row: &AutoDjRow, stream: &StreamRow) -> AutoDjView {
    let now = state
        .programmes
        .send(ProgrammeStatus(stream.mount.clone()))
        .await
        .ok()
        .flatten();
    AutoDjView {
        stream: row.stream_id,
        playlist: PlaylistId(row.playlist_id),
        mode: settings_of(row).mode,
        crossfade_ms: row.crossfade_ms,
        handover_ms: row.handover_ms,
        enabled: row.enabled,
        on_air: now.is_some(),
        now,
    }
}

/// Passes `control` to the programme on `mount`: 204, or 409 `not_on_air` if none plays here.
async fn send_control(
    state: &AppState,
    mount: String,
    control: Control,
) -> Result<HttpResponse, ApiError> {
    let sent = state
        .programmes
        .send(ControlProgramme { mount, control })
        .await
        .unwrap_or(false);
    if !sent {
        return Err(not_on_air());
    }
    Ok(HttpResponse::NoContent().finish())
}

fn not_on_air() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_on_air",
        "the AutoDJ is not on air (turn it on, or wait for the live source to leave)",
    )
}

/// The stream's AutoDJ settings and what it plays.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/autodj",
    tag = "autodj",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses(
        (status = 200, description = "The AutoDJ", body = AutoDjView),
        (status = 307, description = "It plays on another node: ask that one"),
        (status = 404, description = "No such stream, or it has no AutoDJ", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn show(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let stream = match owned(&state, &who, path.into_inner(), &req).await? {
        Ok(stream) => stream,
        Err(redirect) => return Ok(redirect),
    };
    let row = row_of(&state, stream.id)
        .await?
        .ok_or_else(|| ApiError::not_found("this stream has no AutoDJ"))?;
    Ok(HttpResponse::Ok().json(view(&state, &row, &stream).await))
}

fn parse(body: &EnableAutoDj, stream: StreamId) -> Result<AutoDjRow, ApiError> {
    let crossfade_ms = body.crossfade_ms.unwrap_or(CROSSFADE_DEFAULT);
    if !(0..=CROSSFADE_MAX).contains(&crossfade_ms) {
        return Err(ApiError::invalid(format!(
            "crossfade_ms must be 0 to {CROSSFADE_MAX}"
        )));
    }
    let handover_ms = body.handover_ms.unwrap_or(HANDOVER_DEFAULT);
    if !(HANDOVER_MIN..=HANDOVER_MAX).contains(&handover_ms) {
        return Err(ApiError::invalid(format!(
            "handover_ms must be {HANDOVER_MIN} to {HANDOVER_MAX}"
        )));
    }
    Ok(AutoDjRow {
        stream_id: stream,
        playlist_id: body.playlist.0,
        mode: body.mode.unwrap_or(PlayMode::Loop).as_str().to_owned(),
        crossfade_ms,
        handover_ms,
        enabled: true,
        updated_at: now_ms() as i64,
    })
}

/// Turn the AutoDJ on with a playlist (or change its settings while it plays: a new playlist or
/// mode applies from the next track, crossfade and handover at once).
#[utoipa::path(
    put,
    path = "/api/v2/streams/{id}/autodj",
    tag = "autodj",
    params(("id" = StreamId, Path, description = "The stream's id")),
    request_body = EnableAutoDj,
    responses(
        (status = 200, description = "The AutoDJ (on air unless a live-only broadcast has the mount)", body = AutoDjView),
        (status = 307, description = "It plays on another node: ask that one"),
        (status = 422, description = "Unknown playlist, or a setting out of bounds", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn enable(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    body: web::Json<EnableAutoDj>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let stream = match owned(&state, &who, path.into_inner(), &req).await? {
        Ok(stream) => stream,
        Err(redirect) => return Ok(redirect),
    };
    let row = parse(&body, stream.id)?;
    let (pool, owner, playlist) = (state.pool.clone(), stream.owner_id, body.playlist);
    let stored = row.clone();
    let previous = web::block(move || {
        let conn = &mut *pool.get()?;
        if !playlists::member_of(conn, playlist, owner)? {
            return Ok(Err(()));
        }
        let previous = autodj::find(conn, stored.stream_id)?;
        autodj::put(conn, &stored)?;
        Ok::<_, crate::db::DbError>(Ok(previous))
    })
    .await??
    .map_err(|()| ApiError::invalid("no such playlist (the stream's owner must own or edit it)"))?;
    let settings = settings_of(&row);
    let control = |control| ControlProgramme {
        mount: stream.mount.clone(),
        control,
    };
    let on_air_here = state
        .programmes
        .send(ProgrammeStatus(stream.mount.clone()))
        .await
        .ok()
        .flatten()
        .is_some();
    if on_air_here {
        if previous.as_ref().map(|p| p.playlist_id) != Some(row.playlist_id) {
            state
                .programmes
                .do_send(control(Control::SetPicker(picker_of(&state, &row))));
        } else {
            state
                .programmes
                .do_send(control(Control::SetMode(settings.mode)));
        }
        state
            .programmes
            .do_send(control(Control::SetCrossfade(settings.crossfade)));
        state
            .programmes
            .do_send(control(Control::SetHandover(settings.handover)));
    } else {
        ensure_on_air(&state, &row, &stream).await;
    }
    Ok(HttpResponse::Ok().json(view(&state, &row, &stream).await))
}

/// Turn the AutoDJ off (its settings are kept; a live source on air stays on air).
#[utoipa::path(
    delete,
    path = "/api/v2/streams/{id}/autodj",
    tag = "autodj",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses(
        (status = 204, description = "Off"),
        (status = 307, description = "It plays on another node: ask that one"),
        (status = 404, description = "No such stream, or it has no AutoDJ", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn disable(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let stream = match owned(&state, &who, path.into_inner(), &req).await? {
        Ok(stream) => stream,
        Err(redirect) => return Ok(redirect),
    };
    let (pool, id) = (state.pool.clone(), stream.id);
    let had = web::block(move || autodj::disable(&mut *pool.get()?, id, now_ms() as i64)).await??;
    if !had {
        return Err(ApiError::not_found("this stream has no AutoDJ"));
    }
    state.programmes.do_send(ControlProgramme {
        mount: stream.mount,
        control: Control::Stop,
    });
    Ok(HttpResponse::NoContent().finish())
}

/// End the track on air (a one-second crossfade into the next).
#[utoipa::path(
    post,
    path = "/api/v2/streams/{id}/autodj/skip",
    tag = "autodj",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses(
        (status = 204, description = "Skipped"),
        (status = 307, description = "It plays on another node: ask that one"),
        (status = 409, description = "The AutoDJ is not on air (`not_on_air`)", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn skip(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let stream = match owned(&state, &who, path.into_inner(), &req).await? {
        Ok(stream) => stream,
        Err(redirect) => return Ok(redirect),
    };
    send_control(&state, stream.mount, Control::Skip).await
}

/// Play a track next (after other queued ones): one of the stream owner's tracks, or one of the
/// AutoDJ's playlist.
#[utoipa::path(
    post,
    path = "/api/v2/streams/{id}/autodj/queue",
    tag = "autodj",
    params(("id" = StreamId, Path, description = "The stream's id")),
    request_body = QueueTrack,
    responses(
        (status = 204, description = "Queued"),
        (status = 307, description = "It plays on another node: ask that one"),
        (status = 409, description = "The AutoDJ is not on air (`not_on_air`)", body = crate::http::error::ErrorBody),
        (status = 422, description = "No such track for this stream, or its file is not on this node", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn queue(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
    body: web::Json<QueueTrack>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let stream = match owned(&state, &who, path.into_inner(), &req).await? {
        Ok(stream) => stream,
        Err(redirect) => return Ok(redirect),
    };
    let row = row_of(&state, stream.id).await?.ok_or_else(not_on_air)?;
    let (pool, track, owner) = (state.pool.clone(), body.track, stream.owner_id);
    let (store, target) = (state.tracks.store.clone(), state.config.autodj.target_lufs);
    let playlist = PlaylistId(row.playlist_id);
    let found = web::block(move || {
        let conn = &mut *pool.get()?;
        let Some(found) = tracks::find(conn, track.0)? else {
            return Ok(None);
        };
        let allowed = found.owner_id == owner
            || playlists::playing_order(conn, playlist)?
                .iter()
                .any(|item| item.track_id == track);
        // Opening the file to find it is blocking too.
        Ok::<_, crate::db::DbError>(
            allowed
                .then(|| track_to_play(&found, store.as_ref(), target))
                .flatten(),
        )
    })
    .await??;
    let track = found
        .ok_or_else(|| ApiError::invalid("no such track for this stream's AutoDJ on this node"))?;
    send_control(&state, stream.mount, Control::QueueNext(track)).await
}
