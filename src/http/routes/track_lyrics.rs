//! Lyrics of a track: `PUT /tracks/{id}/lyrics` takes LRC text (enhanced LRC word timing too),
//! parsed before it is stored (422 `invalid_lyrics` naming the line otherwise); `GET` answers the
//! parsed lines with times in ms (the raw text alongside), `DELETE` removes them. The owner's
//! alone, as the track is.

use super::tracks::owned;
use crate::db::tracks as store;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use crate::tracks::lrc::{self, Line};
use crate::tracks::TrackError;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::ids::TrackId;

/// The longest LRC text taken, in bytes.
const MAX_LRC_BYTES: usize = 256 * 1024;

#[derive(utoipa::OpenApi)]
#[openapi(paths(put, get, delete))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tracks/{id}/lyrics")
            .app_data(web::PayloadConfig::new(MAX_LRC_BYTES))
            .route(web::put().to(put))
            .route(web::get().to(get))
            .route(web::delete().to(delete)),
    );
}

/// LYRICS: a track's lyrics, parsed.
#[derive(Serialize, ToSchema)]
pub struct LyricsView {
    pub track: TrackId,
    /// In time order, the LRC `offset` applied.
    pub lines: Vec<Line>,
    /// The LRC text as it was sent.
    pub lrc: String,
}

fn view(track: TrackId, text: String) -> Result<LyricsView, ApiError> {
    let parsed = lrc::parse(&text).map_err(TrackError::from)?;
    Ok(LyricsView {
        track,
        lines: parsed.lines,
        lrc: text,
    })
}

/// Attach LRC lyrics to one of the caller's tracks (replacing any): the body is the LRC text.
#[utoipa::path(
    put,
    path = "/api/v2/tracks/{id}/lyrics",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    request_body(content = String, content_type = "text/plain", description = "LRC text"),
    responses((status = 200, description = "The lyrics as parsed", body = LyricsView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn put(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let track = path.into_inner();
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::invalid("the lyrics must be UTF-8 text"))?;
    let parsed = view(track, text)?;
    let pool = state.pool.clone();
    let stored = parsed.lrc.clone();
    web::block(move || {
        store::set_lyrics(&mut *pool.get()?, track.0, who.user_id, Some(&stored))?
            .then_some(())
            .ok_or_else(|| ApiError::from(TrackError::NotFound))
    })
    .await??;
    Ok(HttpResponse::Ok().json(parsed))
}

/// The lyrics of one of the caller's tracks; 404 when it has none.
#[utoipa::path(
    get,
    path = "/api/v2/tracks/{id}/lyrics",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    responses((status = 200, description = "The lyrics", body = LyricsView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn get(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
) -> Result<HttpResponse, ApiError> {
    let track = path.into_inner();
    let row = owned(&state, who.user_id, track).await?;
    let text = row.lyrics.ok_or(TrackError::Missing("lyrics"))?;
    Ok(HttpResponse::Ok().json(view(track, text)?))
}

/// Remove the lyrics of one of the caller's tracks.
#[utoipa::path(
    delete,
    path = "/api/v2/tracks/{id}/lyrics",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    responses((status = 204, description = "Removed (or there were none)")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delete(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
) -> Result<HttpResponse, ApiError> {
    let TrackId(id) = path.into_inner();
    let pool = state.pool.clone();
    web::block(move || {
        store::set_lyrics(&mut *pool.get()?, id, who.user_id, None)?
            .then_some(())
            .ok_or_else(|| ApiError::from(TrackError::NotFound))
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
