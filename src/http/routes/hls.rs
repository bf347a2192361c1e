//! `/hls/{mount}/...`: HLS for MP3 and AAC variants. While a broadcast is live the playlists come
//! from its session (in memory, updated every segment); afterwards from the final playlists written
//! next to the segments, so the whole DVR window stays playable until the next broadcast.

use crate::http::error::ApiError;
use crate::http::stream_redirect::to_owner;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use rand::Rng;
use serde::Deserialize;
use std::path::PathBuf;
use utoipa::IntoParams;
use veza_actors::registry::FindStream;
use veza_actors::stream::hls::playlist::{self, in_hls, is_segment_name};
use veza_actors::stream::hls::FINAL_PLAYLIST;
use veza_actors::stream::ladder::Variant;
use veza_actors::stream::{HlsPlaylist, HlsVariants, StreamSession};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(master, media, segment))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/hls/{mount}/master.m3u8").route(web::get().to(master)))
        .service(web::resource("/hls/{mount}/{variant}/index.m3u8").route(web::get().to(media)))
        .service(web::resource("/hls/{mount}/{variant}/{segment}").route(web::get().to(segment)));
}

const PLAYLIST_TYPE: &str = "application/vnd.apple.mpegurl";

#[derive(Deserialize, IntoParams)]
pub struct ClientQuery {
    /// The listener's session id (1-32 letters and digits), which the master playlist puts in the
    /// variant URLs so that a player's polls count as one listener; one is made when absent.
    sid: Option<String>,
}

/// Mounts are slugs (`[a-z0-9-]`): anything else cannot name a directory of ours.
fn valid_mount(mount: &str) -> bool {
    (1..=64).contains(&mount.len())
        && mount
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn no_such(what: &str) -> ApiError {
    ApiError::not_found(format!("no such {what}"))
}

fn hls_variant(name: &str) -> Result<Variant, ApiError> {
    name.parse::<Variant>()
        .ok()
        .filter(in_hls)
        .ok_or_else(|| no_such("HLS variant"))
}

fn variant_dir(state: &AppState, mount: &str, variant: &Variant) -> PathBuf {
    state
        .config
        .data_dir
        .join("hls")
        .join(mount)
        .join(variant.to_string())
}

async fn live_session(state: &AppState, mount: &str) -> Option<actix::Addr<StreamSession>> {
    state
        .registry
        .send(FindStream(mount.to_owned()))
        .await
        .ok()
        .flatten()
}

async fn read(path: PathBuf) -> Option<Bytes> {
    web::block(move || std::fs::read(path).ok())
        .await
        .ok()
        .flatten()
        .map(Bytes::from)
}

fn playlist_response(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(PLAYLIST_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The client's `sid`, if it sent a well-formed one.
fn given_sid(query: &ClientQuery) -> Option<&str> {
    query
        .sid
        .as_deref()
        .filter(|s| (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A listener id for the variant URLs, so playlist polls count as one listener.
fn session_id(query: &ClientQuery) -> String {
    given_sid(query)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", rand::thread_rng().gen::<u64>()))
}

/// The HLS master playlist: the stream's MP3 and AAC variants, live or (after the broadcast) its
/// DVR window. A stream live on another node answers 307 to that node.
#[utoipa::path(
    get,
    path = "/hls/{mount}/master.m3u8",
    tag = "hls",
    params(("mount" = String, Path, description = "The stream's mount"), ClientQuery),
    responses(
        (status = 200, description = "The master playlist", content_type = "application/vnd.apple.mpegurl"),
        (status = 307, description = "Live on another node: the same path there",
            headers(("Location" = String, description = "The owning node's URL")))
    )
)]
pub async fn master(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ClientQuery>,
) -> Result<HttpResponse, ApiError> {
    let mount = path.into_inner();
    if !valid_mount(&mount) {
        return Err(no_such("stream"));
    }
    let variants = match live_session(&state, &mount).await {
        Some(session) => session
            .send(HlsVariants)
            .await
            .map_err(|_| no_such("stream"))?,
        None => {
            if let Some(redirect) = to_owner(&state, &mount, &req).await {
                return Ok(redirect);
            }
            let mut found = Vec::new();
            for v in state.config.stream_ladder.iter().filter(|v| in_hls(v)) {
                let file = variant_dir(&state, &mount, v).join(FINAL_PLAYLIST);
                if web::block(move || file.exists()).await.unwrap_or(false) {
                    found.push(*v);
                }
            }
            found
        }
    };
    if variants.is_empty() {
        return Err(no_such("HLS stream"));
    }
    let query = format!("?sid={}", session_id(&query));
    Ok(playlist_response(Bytes::from(playlist::master(
        &variants, &query,
    ))))
}

/// A variant's media playlist: live (updated every segment) or the final one of the last broadcast.
#[utoipa::path(
    get,
    path = "/hls/{mount}/{variant}/index.m3u8",
    tag = "hls",
    params(
        ("mount" = String, Path, description = "The stream's mount"),
        ("variant" = String, Path, description = "An MP3 or AAC variant, e.g. `mp3-128`, `aac-64`"),
        ClientQuery
    ),
    responses(
        (status = 200, description = "The media playlist", content_type = "application/vnd.apple.mpegurl"),
        (status = 307, description = "Live on another node: the same path there",
            headers(("Location" = String, description = "The owning node's URL")))
    )
)]
pub async fn media(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ClientQuery>,
) -> Result<HttpResponse, ApiError> {
    let (mount, variant) = path.into_inner();
    if !valid_mount(&mount) {
        return Err(no_such("stream"));
    }
    let variant = hls_variant(&variant)?;
    if let Some(session) = live_session(&state, &mount).await {
        let client = Some(session_id(&query));
        if let Ok(Some(text)) = session.send(HlsPlaylist { variant, client }).await {
            // A live poll with a sid is an HLS listener session (analytics).
            if let Some(sid) = given_sid(&query) {
                state.analytics.hls_poll(&mount, variant, sid);
            }
            if text.is_empty() {
                // Live, but the first segment is not cut yet: an empty live playlist.
                return Ok(playlist_response(Bytes::from(playlist::media(
                    &[],
                    variant.codec,
                    state.config.hls_segment_seconds,
                    false,
                ))));
            }
            return Ok(playlist_response(text));
        }
    } else if let Some(redirect) = to_owner(&state, &mount, &req).await {
        return Ok(redirect);
    }
    let file = variant_dir(&state, &mount, &variant).join(FINAL_PLAYLIST);
    read(file)
        .await
        .map(playlist_response)
        .ok_or_else(|| no_such("HLS stream"))
}

/// A segment of audio (`seg-N.mp3` or `seg-N.aac`) while it is in the DVR window.
#[utoipa::path(
    get,
    path = "/hls/{mount}/{variant}/{segment}",
    tag = "hls",
    params(
        ("mount" = String, Path, description = "The stream's mount"),
        ("variant" = String, Path, description = "An MP3 or AAC variant, e.g. `mp3-128`, `aac-64`"),
        ("segment" = String, Path, description = "The segment's name from the media playlist, `seg-N.mp3` or `seg-N.aac`")
    ),
    responses(
        (status = 200, description = "The segment", content(("audio/mpeg"), ("audio/aac"))),
        (status = 307, description = "Cut on another node: the same path there",
            headers(("Location" = String, description = "The owning node's URL")))
    )
)]
pub async fn segment(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (mount, variant, name) = path.into_inner();
    if !valid_mount(&mount) || !is_segment_name(&name) {
        return Err(no_such("segment"));
    }
    let variant = hls_variant(&variant)?;
    let Some(body) = read(variant_dir(&state, &mount, &variant).join(&name)).await else {
        // Segments are on the disk of the node that cuts them.
        if let Some(redirect) = to_owner(&state, &mount, &req).await {
            return Ok(redirect);
        }
        return Err(no_such("segment (it may have left the DVR window)"));
    };
    Ok(HttpResponse::Ok()
        .content_type(variant.content_type())
        // Names repeat from one broadcast to the next.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::valid_mount;

    #[test]
    fn only_slug_mounts_reach_the_disk() {
        assert!(valid_mount("jazz-night-3f9a2c"));
        for bad in ["", "..", "a/b", "A", "a.b", "a%2f"] {
            assert!(!valid_mount(bad), "{bad}");
        }
    }
}
