//! Attachments over REST: `POST /uploads?room=ID` (multipart, one `file` part) streams the file
//! into the blob store while counting and hashing it (refused with 413 past the size limit or
//! the owner's quota, never buffered whole); `GET /uploads/{id}` describes one, `.../content`
//! serves its bytes (ranges, ETag; inline only for images, as an attachment otherwise; inert if
//! opened as a page), `.../thumbnail` the small picture of an image; `DELETE /uploads/{id}`
//! takes back one no message carries. Whoever can read the upload's room may see it once a
//! message carries it (before that only its owner); anyone else gets 404, as for the room.

use super::rooms::{readable, room_id};
use crate::auth::Authenticated;
use crate::db::uploads::{self as store, NewUpload, UploadRow};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::http::extract::{AuthUser, MediaUser};
use crate::state::AppState;
use crate::uploads::finish::{self, Pictured};
use crate::uploads::receive::{stream_into_store, Budget};
use crate::uploads::storage::{BlobKey, BlobStore};
use crate::uploads::{filename, sniff, UploadError, UNATTACHED_TTL_MS};
use actix_files::NamedFile;
use actix_multipart::Multipart;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{mime, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::{now_ms, RoomId, UploadId};

/// Room for the multipart framing around the file in a request's declared length: a request
/// declaring more than the limit plus this is refused before its body is read.
pub(super) const FRAMING_BYTES: u64 = 64 * 1024;
/// The policy every served file carries: nothing runs, even if a browser renders it.
const SANDBOX: &str = "default-src 'none'; sandbox";
/// Browsers keep files, shared caches do not; each use revalidates (a cheap 304 by ETag), so a
/// deleted message's file stops being served at once.
const CACHE: &str = "private, no-cache";

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, show, delete, content, thumbnail))]
pub struct Api;

/// The routes under `/api/v2`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/uploads").route(web::post().to(create)))
        .service(
            web::resource("/uploads/{id}")
                .route(web::get().to(show))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/uploads/{id}/content").route(web::get().to(content)))
        .service(web::resource("/uploads/{id}/thumbnail").route(web::get().to(thumbnail)));
}

/// UPLOAD: an uploaded file.
#[derive(Serialize, ToSchema)]
pub struct UploadView {
    pub id: UploadId,
    /// The room it was uploaded for.
    pub room: RoomId,
    pub filename: String,
    /// Read from the file's bytes, not taken from the client.
    pub content_type: String,
    /// In bytes.
    pub size: i64,
    /// An image's width in pixels (absent for other files).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<i64>,
    /// The bytes (`GET /api/v2/uploads/{id}/content`).
    pub url: String,
    /// A small picture of an image (absent for other files).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub thumbnail_url: Option<String>,
    pub created_at: i64,
}

impl From<&UploadRow> for UploadView {
    fn from(row: &UploadRow) -> Self {
        UploadView {
            id: row.id,
            room: row.room_id,
            filename: row.filename.clone(),
            content_type: row.content_type.clone(),
            size: row.size_bytes,
            width: row.width,
            height: row.height,
            url: store::content_url(row.id),
            thumbnail_url: row
                .thumbnail_key
                .as_ref()
                .map(|_| store::thumbnail_url(row.id)),
            created_at: row.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UploadCreated {
    pub upload: UploadView,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadTarget {
    /// The room the file is for (the caller must be able to read it).
    #[param(required = true, value_type = RoomId)]
    room: Option<String>,
}

/// The form of an upload: one part.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file; its name is taken from the part's `filename`, its type is read from its bytes.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Upload a file for a room (`multipart/form-data`, one part named `file`), streamed into the
/// store: 413 past the size limit, or past the owner's quota. A message carries it by its id
/// (`attachments`); one no message carries within a day is deleted.
#[utoipa::path(
    post,
    path = "/api/v2/uploads",
    tag = "uploads",
    params(UploadTarget),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The upload", body = UploadCreated)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    mut parts: Multipart,
) -> Result<HttpResponse, ApiError> {
    let target = web::Query::<UploadTarget>::from_query(req.query_string())
        .map_err(|_| UploadError::BadRequest("?room= must name the room".into()))?;
    let room = room_id(target.room.as_deref().ok_or_else(|| {
        UploadError::BadRequest("?room= must name the room the file is for".into())
    })?)?;
    let limits = state.uploads.config.clone();
    if declared_length(&req).is_some_and(|n| n > limits.max_bytes + FRAMING_BYTES) {
        return Err(UploadError::TooLarge {
            max: limits.max_bytes,
        }
        .into());
    }
    let pool = state.pool.clone();
    let owner = who.user_id;
    let used = web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, room, &who)?;
        Ok::<_, ApiError>(store::used_bytes(conn, owner)?.max(0) as u64)
    })
    .await??;
    let budget = Budget {
        max: limits.max_bytes,
        left: match limits.quota_bytes {
            0 => u64::MAX,
            q if used >= q => {
                return Err(UploadError::QuotaExceeded { quota: q, used }.into());
            }
            q => q - used,
        },
        quota: limits.quota_bytes,
        used,
    };

    let field = match parts.next().await {
        Some(Ok(field)) if field.name() == Some("file") => field,
        Some(Ok(_)) => return Err(shape("the form must have one part, named `file`")),
        Some(Err(e)) => return Err(shape(format!("not a multipart/form-data upload: {e}"))),
        None => return Err(shape("the form has no `file` part")),
    };
    let name = filename::of_part(field.content_disposition());
    let id = state.ids.next_id();
    let blobs = state.uploads.store.clone();
    let received = stream_into_store(field, blobs.clone(), id, &budget).await?;
    let key = BlobKey::upload(id);
    // One file per upload: anything after it is refused (and the file thrown away).
    if parts.next().await.is_some() {
        finish::discard(blobs.as_ref(), [key]);
        return Err(shape("the form must have one part, named `file`"));
    }

    let sniffed = sniff::sniff(&received.head, received.size <= received.head.len() as u64);
    let pictured = if sniffed.inline {
        let _place = state
            .uploads
            .thumbnails
            .clone()
            .acquire_owned()
            .await
            .map_err(ApiError::internal)?;
        let blobs = blobs.clone();
        web::block(move || finish::picture(blobs.as_ref(), id, sniffed.content_type)).await?
    } else {
        Pictured::default()
    };

    let pool = state.pool.clone();
    let quota = limits.quota_bytes;
    let origin = state.uploads.origin.clone();
    let recorded = web::block(move || {
        let now = now_ms() as i64;
        let thumb = pictured.thumbnail.clone();
        let row = NewUpload {
            id: UploadId(id),
            owner_id: owner,
            room_id: room,
            filename: &name,
            content_type: sniffed.content_type,
            size_bytes: received.size as i64,
            sha256: &received.sha256,
            storage_key: key.as_str(),
            width: pictured.size.map(|s| s.0),
            height: pictured.size.map(|s| s.1),
            thumbnail_key: thumb.as_ref().map(BlobKey::as_str),
            created_at: now,
            delete_after: Some(now + UNATTACHED_TTL_MS),
            origin: origin.as_deref(),
        };
        let recorded = pool
            .get()
            .map_err(UploadError::from)
            .and_then(|mut conn| finish::record(&mut conn, &row, quota));
        if recorded.is_err() {
            finish::discard(blobs.as_ref(), std::iter::once(key.clone()).chain(thumb));
        }
        recorded
    })
    .await??;
    Ok(HttpResponse::Created().json(UploadCreated {
        upload: UploadView::from(&recorded),
    }))
}

pub(super) fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn shape(message: impl Into<String>) -> ApiError {
    UploadError::BadRequest(message.into()).into()
}

/// The upload if `who` may see it: a message's upload for whoever can read its room, one no
/// message carries yet for its owner only; 404 for everyone else, and once its message is gone.
fn visible(
    conn: &mut DbConnection,
    id: UploadId,
    who: &Authenticated,
) -> Result<UploadRow, ApiError> {
    let unknown = || ApiError::from(UploadError::NotFound);
    let row = store::find(conn, id)?.ok_or_else(unknown)?;
    if row.released() || (row.message_id.is_none() && row.owner_id != who.user_id) {
        return Err(unknown());
    }
    match readable(conn, row.room_id, who) {
        Ok(_) => Ok(row),
        Err(e) if matches!(e.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) => {
            Err(unknown())
        }
        Err(e) => Err(e),
    }
}

async fn find_visible(
    state: &AppState,
    who: Authenticated,
    id: UploadId,
) -> Result<UploadRow, ApiError> {
    let pool = state.pool.clone();
    web::block(move || visible(&mut *pool.get()?, id, &who)).await?
}

/// An upload's description, for whoever can read its room once a message carries it (before
/// that only its owner).
#[utoipa::path(
    get,
    path = "/api/v2/uploads/{id}",
    tag = "uploads",
    params(("id" = UploadId, Path, description = "The upload's id")),
    responses((status = 200, description = "The upload", body = UploadView)),
    security(("bearer" = []), ("bot" = []), ("access_token" = []))
)]
pub async fn show(
    MediaUser(who): MediaUser,
    state: web::Data<AppState>,
    path: web::Path<UploadId>,
) -> Result<HttpResponse, ApiError> {
    let row = find_visible(&state, who, path.into_inner()).await?;
    Ok(HttpResponse::Ok().json(UploadView::from(&row)))
}

/// An upload's bytes, with its stored type, ranges and ETag; inline only for images (as an
/// attachment otherwise) and inert if opened as a page.
#[utoipa::path(
    get,
    path = "/api/v2/uploads/{id}/content",
    tag = "uploads",
    params(("id" = UploadId, Path, description = "The upload's id")),
    responses(
        (status = 200, description = "The file, with the upload's `content_type`", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for (`Range`)", content_type = "application/octet-stream"),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 307, description = "The file is on another node: the same path and query there")
    ),
    security(("bearer" = []), ("bot" = []), ("access_token" = []))
)]
pub async fn content(
    MediaUser(who): MediaUser,
    state: web::Data<AppState>,
    path: web::Path<UploadId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let row = find_visible(&state, who, path.into_inner()).await?;
    if let Some(elsewhere) =
        on_its_node(row.origin.as_deref(), state.uploads.origin.as_deref(), &req)
    {
        return Ok(elsewhere);
    }
    let key = BlobKey::stored(&row.storage_key)
        .ok_or_else(|| ApiError::internal(format!("upload {} has a malformed key", row.id)))?;
    let inline = sniff::is_inline(&row.content_type);
    serve(
        state.uploads.store.clone(),
        &req,
        key,
        &row.content_type,
        &row.filename,
        inline,
    )
    .await
}

/// The small picture of an image upload (PNG or JPEG); 404 for an upload without one.
#[utoipa::path(
    get,
    path = "/api/v2/uploads/{id}/thumbnail",
    tag = "uploads",
    params(("id" = UploadId, Path, description = "The upload's id")),
    responses(
        (status = 200, description = "The thumbnail", content(("image/png"), ("image/jpeg"))),
        (status = 304, description = "Not modified (`If-None-Match`)"),
        (status = 307, description = "The file is on another node: the same path and query there")
    ),
    security(("bearer" = []), ("bot" = []), ("access_token" = []))
)]
pub async fn thumbnail(
    MediaUser(who): MediaUser,
    state: web::Data<AppState>,
    path: web::Path<UploadId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let row = find_visible(&state, who, path.into_inner()).await?;
    if let Some(elsewhere) =
        on_its_node(row.origin.as_deref(), state.uploads.origin.as_deref(), &req)
    {
        return Ok(elsewhere);
    }
    let key = row
        .thumbnail_key
        .as_deref()
        .and_then(BlobKey::stored)
        .ok_or_else(|| ApiError::not_found("this upload has no thumbnail"))?;
    let format = key
        .thumb_format()
        .ok_or_else(|| ApiError::internal("a thumbnail key without a format"))?;
    let name = match format {
        crate::uploads::storage::ThumbFormat::Png => "thumbnail.png",
        crate::uploads::storage::ThumbFormat::Jpeg => "thumbnail.jpg",
    };
    serve(
        state.uploads.store.clone(),
        &req,
        key,
        format.content_type(),
        name,
        true,
    )
    .await
}

/// Several nodes: an upload whose files are on another node's disk is served there: `307` to the
/// same path and query (the access token included) on that node's public URL, as listeners of a
/// stream live elsewhere are. Access was checked here first, so nothing is revealed by it.
/// (`origin`: the row's node; `here`: this node's public URL; tracks use it too.)
pub(super) fn on_its_node(
    origin: Option<&str>,
    here: Option<&str>,
    req: &HttpRequest,
) -> Option<HttpResponse> {
    let origin = origin?;
    if here == Some(origin) {
        return None;
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    Some(
        HttpResponse::TemporaryRedirect()
            .insert_header((header::LOCATION, format!("{origin}{path}")))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .finish(),
    )
}

/// A blob as a file response: ranges, ETag and Last-Modified from `actix-files`, the stored type,
/// the disposition, and the headers that keep it inert.
pub(super) async fn serve(
    blobs: Arc<dyn BlobStore>,
    req: &HttpRequest,
    key: BlobKey,
    content_type: &str,
    name: &str,
    inline: bool,
) -> Result<HttpResponse, ApiError> {
    let blob = web::block(move || blobs.open(&key))
        .await?
        .map_err(UploadError::from)?;
    let file = NamedFile::from_file(blob.file, &blob.path).map_err(ApiError::internal)?;
    let mime: mime::Mime = content_type
        .parse()
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    let mut response = file
        .set_content_type(mime)
        .set_content_disposition(filename::disposition(name, inline))
        .into_response(req);
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    Ok(response)
}

/// Take back an upload no message carries (its owner); 409 once a message carries it.
#[utoipa::path(
    delete,
    path = "/api/v2/uploads/{id}",
    tag = "uploads",
    params(("id" = UploadId, Path, description = "The upload's id")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delete(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<UploadId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let pool = state.pool.clone();
    let blobs = state.uploads.store.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        match store::delete_unattached(conn, id, who.user_id)? {
            Some(row) => {
                let keys = std::iter::once(row.storage_key.as_str())
                    .chain(row.thumbnail_key.as_deref())
                    .filter_map(BlobKey::stored);
                finish::discard(blobs.as_ref(), keys);
                Ok(())
            }
            None => match store::find(conn, id)? {
                Some(row)
                    if row.owner_id == who.user_id
                        && row.message_id.is_some()
                        && !row.released() =>
                {
                    Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "conflict",
                        "a message carries this upload: delete the message instead",
                    ))
                }
                _ => Err(UploadError::NotFound.into()),
            },
        }
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
