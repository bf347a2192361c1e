//! Custom emoji over REST: a room's moderators upload (`PUT`, the raw image as the body) and delete
//! the room's emoji, global admins and moderators the server-wide ones; anyone who can read a room
//! lists what it may use; `GET /emoji/{id}` serves an image without auth so `<img src>` works.

use super::rooms::{moderated, readable};
use crate::auth::{Authenticated, Role};
use crate::db::audit::{self, NewAuditEntry};
use crate::db::emoji::{self as store, EmojiRow, NewEmoji};
use crate::db::write_txn::write_transaction;
use crate::db::DbConnection;
use crate::emoji::image::{self, Prepared};
use crate::emoji::shortcode;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::ids::{now_ms, RoomId, UserId};

/// Emoji one room may have; the server-wide set has the same cap.
pub const MAX_PER_ROOM: i64 = 200;
/// Request bodies a little over the largest image are cut off while they are read, so a client
/// cannot make the server buffer more; the image checks then refuse anything over 256 KiB.
const BODY_LIMIT: usize = image::MAX_BYTES + 1024;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    serve_image,
    list_room,
    upload_room,
    delete_room,
    list_server,
    upload_server,
    delete_server
))]
pub struct Api;

/// The routes under `/api/v2`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let body_limit = || web::PayloadConfig::default().limit(BODY_LIMIT);
    cfg.service(web::resource("/rooms/{id}/emoji").route(web::get().to(list_room)))
        .service(
            web::resource("/rooms/{id}/emoji/{shortcode}")
                .app_data(body_limit())
                .route(web::put().to(upload_room))
                .route(web::delete().to(delete_room)),
        )
        .service(web::resource("/emoji").route(web::get().to(list_server)))
        .service(
            web::resource("/emoji/{shortcode}")
                .app_data(body_limit())
                .route(web::put().to(upload_server))
                .route(web::delete().to(delete_server)),
        );
}

/// `GET /emoji/{id}`, outside `/api/v2`.
pub fn configure_images(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/emoji/{id}").route(web::get().to(serve_image)));
}

/// EMOJI: a custom emoji.
#[derive(Serialize, ToSchema)]
pub struct EmojiView {
    /// Without the colons: `party` is written `:party:`.
    pub shortcode: String,
    /// The image (`GET /emoji/{id}`, no authentication).
    pub url: String,
    /// The room whose emoji it is; null for a server-wide one.
    #[schema(required = true)]
    pub room: Option<RoomId>,
    pub width: i64,
    pub height: i64,
    pub created_at: i64,
}

impl From<EmojiRow> for EmojiView {
    fn from(row: EmojiRow) -> Self {
        EmojiView {
            url: store::url(row.id),
            shortcode: row.shortcode,
            room: row.room_id,
            width: row.width,
            height: row.height,
            created_at: row.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EmojiCreated {
    pub emoji: EmojiView,
}

#[derive(Serialize, ToSchema)]
pub struct EmojiList {
    pub emoji: Vec<EmojiView>,
}

/// Whose emoji a route manages: a room's, or the server's (`None`).
type Owner = Option<RoomId>;

/// May `who` change `owner`'s emoji: a room's moderators (404 for a room they cannot see), or for
/// the server-wide set the global admins and moderators.
fn may_manage(conn: &mut DbConnection, owner: Owner, who: &Authenticated) -> Result<(), ApiError> {
    match owner {
        Some(room) => moderated(conn, room, who),
        None if matches!(who.role, Role::Admin | Role::Moderator) => Ok(()),
        None => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only admins and moderators manage the server's emoji",
        )),
    }
}

/// What the audit log says about a change.
struct Audited {
    id: i64,
    actor: UserId,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl Audited {
    fn new(state: &AppState, who: &Authenticated, req: &HttpRequest) -> Self {
        let client = client_info(req);
        Audited {
            id: state.ids.next_id(),
            actor: who.user_id,
            ip: client.ip,
            user_agent: client.user_agent,
        }
    }

    fn record(
        &self,
        conn: &mut DbConnection,
        action: &str,
        emoji: i64,
        owner: Owner,
        code: &str,
        now: i64,
    ) -> Result<(), ApiError> {
        audit::record(
            conn,
            &NewAuditEntry {
                id: self.id,
                actor_id: Some(self.actor),
                action,
                target_type: Some("emoji"),
                target_id: Some(emoji.to_string()),
                room_id: owner,
                ip: self.ip.as_deref(),
                user_agent: self.user_agent.as_deref(),
                details: Some(serde_json::json!({ "shortcode": code }).to_string()),
                created_at: now,
            },
        )?;
        Ok(())
    }
}

/// Stores a checked image under `code`: 409 if the code is taken or the set is full.
fn insert(
    conn: &mut DbConnection,
    owner: Owner,
    code: &str,
    image: &Prepared,
    audited: &Audited,
    id: i64,
) -> Result<EmojiRow, ApiError> {
    let now = now_ms() as i64;
    write_transaction(conn, |conn| {
        if store::count(conn, owner)? >= MAX_PER_ROOM {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "quota_exceeded",
                format!("at most {MAX_PER_ROOM} custom emoji here; delete one first"),
            ));
        }
        let row = NewEmoji {
            id,
            room_id: owner,
            shortcode: code,
            content_type: image.content_type,
            image: &image.bytes,
            width: i64::from(image.width),
            height: i64::from(image.height),
            created_by: audited.actor,
            created_at: now,
        };
        store::insert(conn, &row).map_err(|e| {
            if e.is_unique_violation() {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "shortcode_taken",
                    format!(":{code}: is taken; delete it first to replace it"),
                )
            } else {
                e.into()
            }
        })?;
        audited.record(conn, "emoji.created", id, owner, code, now)?;
        Ok(EmojiRow {
            id,
            room_id: owner,
            shortcode: code.to_owned(),
            width: row.width,
            height: row.height,
            created_at: now,
        })
    })
}

/// An upload: the permission first (nothing is decoded for a caller who may not), then the image
/// checks, then the row, all off the async threads.
async fn upload(
    state: web::Data<AppState>,
    who: Authenticated,
    owner: Owner,
    code: &str,
    body: web::Bytes,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = shortcode::normalize(code)?;
    let audited = Audited::new(&state, &who, &req);
    let id = state.ids.next_id();
    let pool = state.pool.clone();
    let created = web::block(move || {
        may_manage(&mut *pool.get()?, owner, &who)?;
        let prepared = image::prepare(body.to_vec())?;
        insert(&mut *pool.get()?, owner, &code, &prepared, &audited, id)
    })
    .await??;
    Ok(HttpResponse::Created().json(EmojiCreated {
        emoji: created.into(),
    }))
}

async fn delete(
    state: web::Data<AppState>,
    who: Authenticated,
    owner: Owner,
    code: &str,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let code = shortcode::normalize(code)?;
    let audited = Audited::new(&state, &who, &req);
    let pool = state.pool.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        may_manage(conn, owner, &who)?;
        let now = now_ms() as i64;
        write_transaction(conn, |conn| {
            let id = store::delete(conn, owner, &code)?
                .ok_or_else(|| ApiError::not_found("no such emoji"))?;
            audited.record(conn, "emoji.deleted", id, owner, &code, now)
        })
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Add a room's emoji (its moderators), the raw image as the body; 409 `shortcode_taken` or
/// `quota_exceeded`.
#[utoipa::path(
    put,
    path = "/api/v2/rooms/{id}/emoji/{shortcode}",
    tag = "emoji",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("shortcode" = String, Path, description = "2-32 of `a-z 0-9 _ + -` (uppercase is folded), without colons")
    ),
    request_body(
        description = "The image itself (PNG, GIF or WebP, up to 256 KiB and 128x128 pixels; its \
            format is read from its bytes)",
        content(("image/png"), ("image/gif"), ("image/webp"))
    ),
    responses((status = 201, description = "The emoji", body = EmojiCreated)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn upload_room(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, String)>,
    body: web::Bytes,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (room, code) = path.into_inner();
    upload(state, who, Some(room), &code, body, req).await
}

/// Delete a room's emoji (its moderators).
#[utoipa::path(
    delete,
    path = "/api/v2/rooms/{id}/emoji/{shortcode}",
    tag = "emoji",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("shortcode" = String, Path, description = "The emoji's shortcode, without colons")
    ),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delete_room(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (room, code) = path.into_inner();
    delete(state, who, Some(room), &code, req).await
}

/// Add a server-wide emoji (admins and global moderators), the raw image as the body; 409
/// `shortcode_taken` or `quota_exceeded`.
#[utoipa::path(
    put,
    path = "/api/v2/emoji/{shortcode}",
    tag = "emoji",
    params(("shortcode" = String, Path, description = "2-32 of `a-z 0-9 _ + -` (uppercase is folded), without colons")),
    request_body(
        description = "The image itself (PNG, GIF or WebP, up to 256 KiB and 128x128 pixels; its \
            format is read from its bytes)",
        content(("image/png"), ("image/gif"), ("image/webp"))
    ),
    responses((status = 201, description = "The emoji", body = EmojiCreated)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn upload_server(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    upload(state, who, None, &path, body, req).await
}

/// Delete a server-wide emoji (admins and global moderators).
#[utoipa::path(
    delete,
    path = "/api/v2/emoji/{shortcode}",
    tag = "emoji",
    params(("shortcode" = String, Path, description = "The emoji's shortcode, without colons")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delete_server(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    delete(state, who, None, &path, req).await
}

/// The emoji usable in a room: its own and the server-wide ones it does not shadow (for whoever
/// can read the room).
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/emoji",
    tag = "emoji",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The emoji", body = EmojiList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list_room(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let pool = state.pool.clone();
    let rows = web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, room, &who)?;
        Ok::<_, ApiError>(store::usable_in(conn, Some(room))?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(EmojiList {
        emoji: rows.into_iter().map(EmojiView::from).collect(),
    }))
}

/// The server-wide emoji, for any signed-in user.
#[utoipa::path(
    get,
    path = "/api/v2/emoji",
    tag = "emoji",
    responses((status = 200, description = "The emoji", body = EmojiList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list_server(
    _signed_in: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rows =
        web::block(move || Ok::<_, ApiError>(store::usable_in(&mut *pool.get()?, None)?)).await??;
    Ok(HttpResponse::Ok().json(EmojiList {
        emoji: rows.into_iter().map(EmojiView::from).collect(),
    }))
}

/// An emoji's image (no authentication, for `<img src>`): its stored type, never sniffed by the
/// browser, cached for good (a replaced emoji gets a new id) and inert if opened as a page.
#[utoipa::path(
    get,
    path = "/emoji/{id}",
    tag = "emoji",
    params(("id" = String, Path, description = "The emoji's id (a decimal string), from its `url`")),
    responses((
        status = 200,
        description = "The image",
        content(("image/png"), ("image/gif"), ("image/webp"))
    ))
)]
pub async fn serve_image(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let unknown = || ApiError::not_found("no such emoji");
    let id: i64 = path.parse().map_err(|_| unknown())?;
    let pool = state.pool.clone();
    let stored = web::block(move || Ok::<_, ApiError>(store::image(&mut *pool.get()?, id)?))
        .await??
        .ok_or_else(unknown)?;
    // A room's emoji is kept by the browser, not by shared caches.
    let cache = match stored.room_id {
        None => "public, max-age=31536000, immutable",
        Some(_) => "private, max-age=31536000, immutable",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, stored.content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(stored.image))
}
