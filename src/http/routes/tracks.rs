//! The track library over REST: `POST /tracks` (multipart, one `file` part) streams an audio file
//! into the tracks' blob store (413 past `track_max_bytes` or the owner's `track_quota_bytes`),
//! then sniffs, decodes and measures it off the async workers (415 for what is not MP3, FLAC,
//! Ogg Vorbis/Opus or WAV, 422 for a file that does not decode; nothing is kept either way).
//! `GET /tracks` lists the caller's tracks newest first, `GET|PATCH|DELETE /tracks/{id}` one of
//! them, `.../audio` and `.../artwork` serve its files. A track is its owner's: anyone else gets
//! 404. Lyrics are in `track_lyrics`.

use super::playlists::announce_item;
use super::uploads::{declared_length, on_its_node, serve, FRAMING_BYTES};
use crate::db::tracks::{self as store, NewTrack, TagEdit, TrackRow};
use crate::db::write_txn::write_transaction;
use crate::http::error::ApiError;
use crate::http::extract::{AuthUser, MediaUser};
use crate::playlists::edit::unlink_track;
use crate::playlists::event::Kind;
use crate::state::AppState;
use crate::tracks::analyse::{self, AudioFormat};
use crate::tracks::{self, TrackError};
use crate::uploads::receive::{stream_into_store, Budget};
use crate::uploads::storage::{BlobKey, ThumbFormat};
use crate::uploads::{filename, UploadError};
use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::io::Write;
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::{now_ms, TrackId, UserId};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, show, edit, delete, audio, artwork))]
pub struct Api;

/// The routes under `/api/v2`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/tracks")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(
        web::resource("/tracks/{id}")
            .route(web::get().to(show))
            .route(web::patch().to(edit))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/tracks/{id}/audio").route(web::get().to(audio)))
    .service(web::resource("/tracks/{id}/artwork").route(web::get().to(artwork)));
}

/// TRACK: an audio file of its owner's library.
#[derive(Serialize, ToSchema)]
pub struct TrackView {
    pub id: TrackId,
    /// The uploaded file's (cleaned) name.
    pub filename: String,
    /// Read from the file's bytes: `audio/mpeg`, `audio/flac`, `audio/ogg; codecs=vorbis`,
    /// `audio/ogg; codecs=opus` or `audio/wav`.
    pub content_type: String,
    /// In bytes.
    pub size: i64,
    /// From the file's tags (its filename when it has none); editable.
    pub title: String,
    #[schema(required = true)]
    pub artist: Option<String>,
    #[schema(required = true)]
    pub album: Option<String>,
    #[schema(required = true)]
    pub year: Option<i64>,
    #[schema(required = true)]
    pub track_no: Option<i64>,
    /// Measured by decoding the whole file on upload.
    pub duration_ms: i64,
    /// EBU R128 integrated loudness in LUFS, measured on upload (`null` for digital silence).
    #[schema(required = true)]
    pub loudness_lufs: Option<f64>,
    /// The bytes (`GET /api/v2/tracks/{id}/audio`).
    pub audio_url: String,
    /// The embedded front cover, when the file has one.
    #[schema(required = true)]
    pub artwork_url: Option<String>,
    /// Whether LRC lyrics are attached (`GET /api/v2/tracks/{id}/lyrics`).
    pub has_lyrics: bool,
    pub created_at: i64,
}

impl From<&TrackRow> for TrackView {
    fn from(row: &TrackRow) -> Self {
        TrackView {
            id: TrackId(row.id),
            filename: row.filename.clone(),
            content_type: row.content_type.clone(),
            size: row.size_bytes,
            title: row.title.clone(),
            artist: row.artist.clone(),
            album: row.album.clone(),
            year: row.year,
            track_no: row.track_no,
            duration_ms: row.duration_ms,
            loudness_lufs: row.loudness_lufs,
            audio_url: store::audio_url(row.id),
            artwork_url: row.artwork_key.as_ref().map(|_| store::artwork_url(row.id)),
            has_lyrics: row.lyrics.is_some(),
            created_at: row.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TrackCreated {
    pub track: TrackView,
}

/// The form of a track upload: one part.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TrackForm {
    /// The audio file; its type is read from its bytes.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Upload an audio file to the caller's library (`multipart/form-data`, one part named `file`):
/// 413 past the size limit or the quota, 415 if it is not MP3, FLAC, Ogg Vorbis/Opus or WAV, 422
/// if it does not decode to its end. Its duration and loudness are measured and its tags read.
#[utoipa::path(
    post,
    path = "/api/v2/tracks",
    tag = "tracks",
    request_body(content = TrackForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The track", body = TrackCreated)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    mut parts: Multipart,
) -> Result<HttpResponse, ApiError> {
    let limits = state.tracks.config.clone();
    if declared_length(&req).is_some_and(|n| n > limits.max_bytes + FRAMING_BYTES) {
        return Err(too_large(limits.max_bytes));
    }
    let owner = who.user_id;
    let pool = state.pool.clone();
    let used = web::block(move || {
        let conn = &mut *pool.get()?;
        Ok::<_, ApiError>(store::used_bytes(conn, owner)?.max(0) as u64)
    })
    .await??;
    let budget = budget(limits.max_bytes, limits.quota_bytes, used)?;
    let field = match parts.next().await {
        Some(Ok(field)) if field.name() == Some("file") => field,
        Some(Ok(_)) => return Err(shape("the form must have one part, named `file`")),
        Some(Err(e)) => return Err(shape(format!("not a multipart/form-data upload: {e}"))),
        None => return Err(shape("the form has no `file` part")),
    };
    let name = filename::of_part(field.content_disposition());
    let id = state.ids.next_id();
    let blobs = state.tracks.store.clone();
    let received = stream_into_store(field, blobs.clone(), id, &budget).await?;
    let key = BlobKey::upload(id);
    if parts.next().await.is_some() {
        tracks::discard(blobs.as_ref(), [key]);
        return Err(shape("the form must have one part, named `file`"));
    }
    let Some(format) = AudioFormat::sniff(&received.head) else {
        tracks::discard(blobs.as_ref(), [key]);
        return Err(TrackError::Unsupported.into());
    };

    let pool = state.pool.clone();
    let origin = state.tracks.origin.clone();
    let recorded = web::block(move || {
        let mut keys = vec![key.clone()];
        let result = (|| {
            let opened = || {
                blobs
                    .open(&key)
                    .map(|b| b.file)
                    .map_err(std::io::Error::other)
            };
            let analysis = analyse::analyse(opened, format)?;
            let artwork = match &analysis.artwork {
                Some(art) => {
                    let art_key = store_artwork(blobs.as_ref(), id, art)?;
                    keys.push(art_key.clone());
                    Some(art_key)
                }
                None => None,
            };
            let title = analysis.tags.title.clone().unwrap_or_else(|| name.clone());
            let row = NewTrack {
                id,
                owner_id: owner,
                filename: &name,
                content_type: format.content_type(),
                size_bytes: received.size as i64,
                artwork_key: artwork.as_ref().map(BlobKey::as_str),
                title: &title,
                artist: analysis.tags.artist.as_deref(),
                album: analysis.tags.album.as_deref(),
                year: analysis.tags.year,
                track_no: analysis.tags.track_no,
                duration_ms: analysis.duration_ms,
                loudness_lufs: analysis.loudness_lufs,
                created_at: now_ms() as i64,
                origin: origin.as_deref(),
            };
            let mut conn = pool.get().map_err(UploadError::from)?;
            tracks::record(&mut conn, &row, limits.quota_bytes)
        })();
        if result.is_err() {
            tracks::discard(blobs.as_ref(), keys);
        }
        result
    })
    .await??;
    Ok(HttpResponse::Created().json(TrackCreated {
        track: TrackView::from(&recorded),
    }))
}

/// What is left for one upload: the size limit and what the quota leaves (413 when nothing).
fn budget(max: u64, quota: u64, used: u64) -> Result<Budget, ApiError> {
    let left = match quota {
        0 => u64::MAX,
        q if used >= q => return Err(UploadError::QuotaExceeded { quota: q, used }.into()),
        q => q - used,
    };
    Ok(Budget {
        max,
        left,
        quota,
        used,
    })
}

fn store_artwork(
    blobs: &dyn crate::uploads::storage::BlobStore,
    id: i64,
    art: &analyse::Artwork,
) -> Result<BlobKey, TrackError> {
    let format = if art.png {
        ThumbFormat::Png
    } else {
        ThumbFormat::Jpeg
    };
    let key = BlobKey::thumbnail(id, format);
    let mut writer = blobs.put(&key)?;
    writer
        .write_all(&art.bytes)
        .map_err(crate::uploads::storage::StorageError::from)?;
    writer.commit()?;
    Ok(key)
}

fn too_large(max: u64) -> ApiError {
    UploadError::TooLarge { max }.into()
}

fn shape(message: impl Into<String>) -> ApiError {
    UploadError::BadRequest(message.into()).into()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Only tracks older than this one (the `next_before` of the previous page).
    #[param(value_type = Option<TrackId>)]
    before: Option<TrackId>,
    /// At most this many (1 to 100, default 50).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TrackList {
    pub tracks: Vec<TrackView>,
    /// Pass as `before` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next_before: Option<TrackId>,
}

/// The caller's tracks, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v2/tracks",
    tag = "tracks",
    params(Page),
    responses((status = 200, description = "A page of the caller's tracks", body = TrackList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 100"));
    }
    let before = page.before.map(|b| b.0);
    let pool = state.pool.clone();
    let rows = web::block(move || {
        store::page(&mut *pool.get()?, who.user_id, before, limit).map_err(ApiError::from)
    })
    .await??;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| TrackId(r.id)))
        .flatten();
    Ok(HttpResponse::Ok().json(TrackList {
        tracks: rows.iter().map(TrackView::from).collect(),
        next_before,
    }))
}

/// The caller's track `id` (404 for anyone else's).
pub(super) async fn owned(
    state: &AppState,
    owner: UserId,
    id: TrackId,
) -> Result<TrackRow, ApiError> {
    let pool = state.pool.clone();
    web::block(move || {
        store::find_owned(&mut *pool.get()?, id.0, owner)?
            .ok_or_else(|| ApiError::from(TrackError::NotFound))
    })
    .await?
}

/// One of the caller's tracks.
#[utoipa::path(
    get,
    path = "/api/v2/tracks/{id}",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    responses((status = 200, description = "The track", body = TrackView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn show(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, who.user_id, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(TrackView::from(&row)))
}

/// An edit of a track's tags: fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackEdit {
    /// Not empty.
    title: Option<String>,
    /// An empty string clears it.
    artist: Option<String>,
    /// An empty string clears it.
    album: Option<String>,
}

/// The longest title, artist or album, in characters.
const MAX_TAG_CHARS: usize = 300;

fn tag_value(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.chars().count() > MAX_TAG_CHARS {
        return Err(ApiError::invalid(format!(
            "{field} is longer than {MAX_TAG_CHARS} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} holds control characters"
        )));
    }
    Ok(value.to_owned())
}

impl TrackEdit {
    fn validated(&self) -> Result<TagEdit, ApiError> {
        let title = match &self.title {
            Some(t) => {
                let t = tag_value("title", t)?;
                if t.is_empty() {
                    return Err(ApiError::invalid("title must not be empty"));
                }
                Some(t)
            }
            None => None,
        };
        let clearable = |field: &str, v: &Option<String>| -> Result<_, ApiError> {
            v.as_deref()
                .map(|v| tag_value(field, v).map(|v| Some(v).filter(|v| !v.is_empty())))
                .transpose()
        };
        Ok(TagEdit {
            title,
            artist: clearable("artist", &self.artist)?,
            album: clearable("album", &self.album)?,
        })
    }
}

/// Edit the title, artist or album of one of the caller's tracks.
#[utoipa::path(
    patch,
    path = "/api/v2/tracks/{id}",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    request_body = TrackEdit,
    responses((status = 200, description = "The track after the edit", body = TrackView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn edit(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
    body: web::Json<TrackEdit>,
) -> Result<HttpResponse, ApiError> {
    let edit = body.validated()?;
    let TrackId(id) = path.into_inner();
    let pool = state.pool.clone();
    let row = web::block(move || {
        store::edit_tags(&mut *pool.get()?, id, who.user_id, &edit)?
            .ok_or_else(|| ApiError::from(TrackError::NotFound))
    })
    .await??;
    Ok(HttpResponse::Ok().json(TrackView::from(&row)))
}

/// Delete one of the caller's tracks: its row and its files.
#[utoipa::path(
    delete,
    path = "/api/v2/tracks/{id}",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delete(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
) -> Result<HttpResponse, ApiError> {
    let TrackId(id) = path.into_inner();
    let pool = state.pool.clone();
    let (row, unlinked) = web::block(move || {
        write_transaction(&mut *pool.get()?, |conn| {
            let row = store::find_owned(conn, id, who.user_id)?
                .ok_or_else(|| ApiError::from(TrackError::NotFound))?;
            // Its items leave the playlists as edits (versions, events), not by the cascade.
            let unlinked = unlink_track(conn, row.id, now_ms() as i64)?;
            store::delete(conn, id, who.user_id)?;
            Ok::<_, ApiError>((row, unlinked))
        })
    })
    .await??;
    for applied in unlinked {
        announce_item(&state, Kind::ItemRemoved, applied, who.user_id);
    }
    // The files live on the node that took the upload: another node leaves them (they are
    // unreachable without the row); with one shared data dir, every node reaches them.
    let blobs = state.tracks.store.clone();
    let keys: Vec<BlobKey> = std::iter::once(BlobKey::upload(row.id))
        .chain(row.artwork_key.as_deref().and_then(BlobKey::stored))
        .collect();
    web::block(move || tracks::discard(blobs.as_ref(), keys)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A track's audio file, with ranges and ETag, to its owner.
#[utoipa::path(
    get,
    path = "/api/v2/tracks/{id}/audio",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    responses(
        (status = 200, description = "The file, with the track's `content_type`", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for (`Range`)", content_type = "application/octet-stream"),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 307, description = "The file is on another node: the same path and query there")
    ),
    security(("bearer" = []), ("bot" = []), ("access_token" = []))
)]
pub async fn audio(
    MediaUser(who): MediaUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, who.user_id, path.into_inner()).await?;
    if let Some(elsewhere) =
        on_its_node(row.origin.as_deref(), state.tracks.origin.as_deref(), &req)
    {
        return Ok(elsewhere);
    }
    let key = BlobKey::upload(row.id);
    serve(
        state.tracks.store.clone(),
        &req,
        key,
        &row.content_type,
        &row.filename,
        true,
    )
    .await
}

/// A track's embedded front cover (PNG or JPEG); 404 for a track without one.
#[utoipa::path(
    get,
    path = "/api/v2/tracks/{id}/artwork",
    tag = "tracks",
    params(("id" = TrackId, Path, description = "The track's id")),
    responses(
        (status = 200, description = "The cover", content(("image/png"), ("image/jpeg"))),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 307, description = "The file is on another node: the same path and query there")
    ),
    security(("bearer" = []), ("bot" = []), ("access_token" = []))
)]
pub async fn artwork(
    MediaUser(who): MediaUser,
    state: web::Data<AppState>,
    path: web::Path<TrackId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let row = owned(&state, who.user_id, path.into_inner()).await?;
    if let Some(elsewhere) =
        on_its_node(row.origin.as_deref(), state.tracks.origin.as_deref(), &req)
    {
        return Ok(elsewhere);
    }
    let key = row
        .artwork_key
        .as_deref()
        .and_then(BlobKey::stored)
        .ok_or(TrackError::Missing("artwork"))?;
    let format = key
        .thumb_format()
        .ok_or_else(|| ApiError::internal("an artwork key without a format"))?;
    let name = match format {
        ThumbFormat::Png => "artwork.png",
        ThumbFormat::Jpeg => "artwork.jpg",
    };
    serve(
        state.tracks.store.clone(),
        &req,
        key,
        format.content_type(),
        name,
        true,
    )
    .await
}
