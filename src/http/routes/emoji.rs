//! Custom emoji over REST: a room's moderators upload (`PUT`, the raw image as the body) and delete
//! the room's emoji, global admins and moderators the server-wide ones; anyone who can read a room
//! lists what it may use; `GET /emoji/{id}` serves an image without auth so `<img src>` works.

use super::rooms::{moderated, readable, room_id};
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
use veza_actors::ids::now_ms;

/// Emoji one room may have; the server-wide set has the same cap.
pub const MAX_PER_ROOM: i64 = 200;
/// Request bodies a little over the largest image are cut off while they are read, so a client
/// cannot make the server buffer more; the image checks then refuse anything over 256 KiB.
const BODY_LIMIT: usize = image::MAX_BYTES + 1024;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
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

/// EMOJI: `room` is null for a server-wide one.
#[derive(Serialize)]
struct EmojiView {
    shortcode: String,
    url: String,
    room: Option<String>,
    width: i64,
    height: i64,
    created_at: i64,
}

impl From<EmojiRow> for EmojiView {
    fn from(row: EmojiRow) -> Self {
        EmojiView {
            url: store::url(row.id),
            shortcode: row.shortcode,
            room: row.room_id.map(|r| r.to_string()),
            width: row.width,
            height: row.height,
            created_at: row.created_at,
        }
    }
}

#[derive(Serialize)]
struct Created {
    emoji: EmojiView,
}

#[derive(Serialize)]
struct EmojiList {
    emoji: Vec<EmojiView>,
}

/// Whose emoji a route manages: a room's, or the server's (`None`).
type Owner = Option<i64>;

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
    actor: i64,
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
    Ok(HttpResponse::Created().json(Created {
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

/// `PUT /api/v2/rooms/{id}/emoji/{shortcode}` with the image as the body -> 201 `{emoji}`.
pub async fn upload_room(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&path.0)?;
    upload(state, who, Some(room), &path.1, body, req).await
}

/// `DELETE /api/v2/rooms/{id}/emoji/{shortcode}` -> 204.
pub async fn delete_room(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&path.0)?;
    delete(state, who, Some(room), &path.1, req).await
}

/// `PUT /api/v2/emoji/{shortcode}`: a server-wide emoji (admins and global moderators).
pub async fn upload_server(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    upload(state, who, None, &path, body, req).await
}

/// `DELETE /api/v2/emoji/{shortcode}` -> 204.
pub async fn delete_server(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    delete(state, who, None, &path, req).await
}

/// `GET /api/v2/rooms/{id}/emoji`: the room's own and the server-wide ones it does not shadow.
pub async fn list_room(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&path)?;
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

/// `GET /api/v2/emoji`: the server-wide set, for any signed-in user.
pub async fn list_server(
    AuthUser(_): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rows =
        web::block(move || Ok::<_, ApiError>(store::usable_in(&mut *pool.get()?, None)?)).await??;
    Ok(HttpResponse::Ok().json(EmojiList {
        emoji: rows.into_iter().map(EmojiView::from).collect(),
    }))
}

/// `GET /emoji/{id}`: the image with its stored type, never sniffed by the browser, cached for
/// good (a replaced emoji gets a new id) and inert if opened as a page.
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
