//! `/api/v2/rooms`: create, list, show, history pages and full-text search.

use crate::auth::{Authenticated, Role};
use crate::db::rooms::RoomRow;
use crate::db::{messages, rooms, search, DbConnection};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::guard::{Authorized, RoomsCreate};
use crate::http::routes::room_view::{self, RoomList, RoomView};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::now_ms;
use veza_actors::model::{MessageView, RoomRole};
use veza_actors::room::RingPage;
use veza_actors::RoomId;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, show, history, search))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/rooms")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/rooms/{id}").route(web::get().to(show)))
    .service(web::resource("/rooms/{id}/messages").route(web::get().to(history)))
    .service(web::resource("/rooms/{id}/search").route(web::get().to(search)));
}

pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_TOPIC_CHARS: usize = 512;
pub const MAX_PAGE: i64 = 100;

#[derive(Deserialize, ToSchema)]
pub struct CreateRoom {
    /// 1-64 characters, trimmed.
    name: String,
    /// Up to 512 characters; empty means none.
    topic: Option<String>,
    /// Only those invited may see and join it.
    #[serde(default)]
    private: bool,
}

#[derive(Deserialize, IntoParams)]
pub struct Page {
    /// Messages with a `seq` below this one (default: the newest).
    #[param(nullable = false)]
    before: Option<i64>,
    /// 1-100 (default 50).
    #[param(nullable = false)]
    limit: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// 1-256 characters of full-text query.
    q: String,
    /// 1-100 (default 50).
    #[param(nullable = false)]
    limit: Option<i64>,
}

fn clean_text(
    text: &str,
    field: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return if required {
            Err(ApiError::invalid(format!("{field} must not be empty")))
        } else {
            Ok(None)
        };
    }
    if text.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// Create a room; its creator owns it.
#[utoipa::path(
    post,
    path = "/api/v2/rooms",
    tag = "rooms",
    request_body = CreateRoom,
    responses((status = 201, description = "The room", body = RoomView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    Authorized(who, _): Authorized<RoomsCreate>,
    state: web::Data<AppState>,
    body: web::Json<CreateRoom>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let name = clean_text(&body.name, "name", MAX_NAME_CHARS, true)?.unwrap_or_default();
    let topic = match &body.topic {
        Some(t) => clean_text(t, "topic", MAX_TOPIC_CHARS, false)?,
        None => None,
    };
    let pool = state.pool.clone();
    let id = RoomId(state.ids.next_id());
    let max = state.config.max_rooms_per_user;
    let row = web::block(move || {
        let conn = &mut *pool.get()?;
        if max > 0 && rooms::count_owned(conn, who.user_id)? >= max as i64 {
            return Err(ApiError::quota(max, "rooms"));
        }
        let row = rooms::create(
            conn,
            id,
            &name,
            topic.as_deref(),
            body.private,
            who.user_id,
            now_ms() as i64,
        )?;
        Ok(row)
    })
    .await??;
    Ok(HttpResponse::Created().json(RoomView::of(&row)))
}

/// Public rooms and the private ones the caller belongs to (at most 500).
#[utoipa::path(
    get,
    path = "/api/v2/rooms",
    tag = "rooms",
    responses((status = 200, description = "The rooms, with the caller's counts in theirs", body = RoomList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rooms = web::block(move || {
        let conn = &mut *pool.get()?;
        let rows = rooms::visible_to(conn, who.user_id, 500)?;
        room_view::views_for(conn, &rows, who.user_id)
    })
    .await??;
    Ok(HttpResponse::Ok().json(RoomList { rooms }))
}

/// The room if `who` may read it: 404 for a private room they are not in (its existence is not
/// revealed), 403 if banned.
pub(crate) fn readable(
    conn: &mut DbConnection,
    room: RoomId,
    who: &Authenticated,
) -> Result<RoomRow, ApiError> {
    let row = rooms::find(conn, room)?.ok_or_else(|| ApiError::not_found("no such room"))?;
    let membership = rooms::membership(conn, room, who.user_id)?;
    // Conversations are for their members alone, staff included.
    if row.kind().is_conversation() && membership.is_none() {
        return Err(ApiError::not_found("no such room"));
    }
    if matches!(who.role, Role::Admin | Role::Moderator) {
        return Ok(row);
    }
    // Bots see only rooms they were invited to, public ones too.
    let invited_only = row.private || who.role == Role::Bot;
    if invited_only && membership.is_none() && row.owner_id != who.user_id {
        return Err(ApiError::not_found("no such room"));
    }
    if membership.is_some_and(|(_, banned)| banned.is_some_and(|t| t > now_ms() as i64)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you are banned from this room",
        ));
    }
    Ok(row)
}

/// The room if `who` moderates it (owner, room moderator, global admin or moderator); 404 for a
/// room they cannot read, 403 for one they only belong to.
pub(crate) fn moderated(
    conn: &mut DbConnection,
    room: RoomId,
    who: &Authenticated,
) -> Result<(), ApiError> {
    let row = readable(conn, room, who)?;
    if row.kind().is_conversation() {
        return Err(ApiError::forbidden(
            "conversations have no moderators (and no webhooks or room emoji)",
        ));
    }
    if matches!(who.role, Role::Admin | Role::Moderator) || row.owner_id == who.user_id {
        return Ok(());
    }
    let role = rooms::membership(conn, room, who.user_id)?
        .map(|(role, _)| RoomRole::parse(&role))
        .unwrap_or(RoomRole::Member);
    if who.role != Role::Bot && role >= RoomRole::Moderator {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "only the room's moderators may do that",
    ))
}

pub(crate) fn room_id(path: &str) -> Result<RoomId, ApiError> {
    path.parse()
        .map_err(|_| ApiError::not_found("no such room"))
}

/// One room the caller may read.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}",
    tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The room", body = RoomView)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn show(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let pool = state.pool.clone();
    let view = web::block(move || {
        let conn = &mut *pool.get()?;
        let row = readable(conn, id, &who)?;
        Ok::<_, ApiError>(room_view::view_for(conn, &row, who.user_id)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(view))
}

/// `{"messages":[MESSAGE...]}`, serialised straight from the views (no JSON tree in between).
#[derive(Serialize, ToSchema)]
pub struct RoomMessages {
    pub messages: Vec<MessageView>,
}

/// A page of a room's history, newest first.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/messages",
    tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id"), Page),
    responses((status = 200, description = "The messages, newest first", body = RoomMessages)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn history(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
    page: web::Query<Page>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let limit = page.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
    }
    let before = page.before.unwrap_or(i64::MAX);
    if let Some(views) = from_ring(&state, id, &who, before, limit).await? {
        return Ok(HttpResponse::Ok().json(RoomMessages { messages: views }));
    }
    let pool = state.pool.clone();
    let views = web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, id, &who)?;
        let rows = messages::before(conn, id, before, limit)?;
        Ok::<_, ApiError>(messages::views(conn, rows)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(RoomMessages { messages: views }))
}

/// The page from the room's ring on this node when it holds all of it (no store read at all);
/// `None` when the room has no current replica here or the page reaches further back. A single
/// node starts the room for it (its replica is always current); in a cluster only a replica that
/// follows the room (members online here) is current, so an idle room is read from the store.
async fn from_ring(
    state: &AppState,
    id: RoomId,
    who: &Authenticated,
    before: i64,
    limit: i64,
) -> Result<Option<Vec<MessageView>>, ApiError> {
    let room_id = id;
    let room = if state.cluster.is_some() {
        state
            .registry
            .send(veza_actors::registry::PeekRoom(room_id))
            .await
            .ok()
            .flatten()
    } else {
        state
            .registry
            .send(veza_actors::registry::GetRoom(room_id))
            .await
            .ok()
            .and_then(Result::ok)
    };
    let Some(room) = room else {
        return Ok(None);
    };
    let ask = veza_actors::room::PageFromRing {
        user: who.user_id,
        staff: matches!(who.role, Role::Admin | Role::Moderator),
        invited_only: who.role == Role::Bot,
        before,
        limit: limit as usize,
    };
    match room.send(ask).await.ok().flatten() {
        Some(RingPage::Messages(views)) => Ok(Some(views)),
        Some(RingPage::Hidden) => Err(ApiError::not_found("no such room")),
        Some(RingPage::Banned) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you are banned from this room",
        )),
        None => Ok(None),
    }
}

/// Full-text search of a room's messages, best match first.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/search",
    tag = "rooms",
    params(("id" = RoomId, Path, description = "The room's id"), SearchQuery),
    responses((status = 200, description = "The matching messages, best first", body = RoomMessages)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn search(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let SearchQuery { q, limit } = query.into_inner();
    // Control characters (NUL among them) are never part of a sensible query: read them as spaces.
    let q: String = q
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let q = q.trim().to_owned();
    if q.is_empty() || q.chars().count() > 256 {
        return Err(ApiError::bad_request("q must be 1-256 characters"));
    }
    let limit = limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
    }
    let pool = state.pool.clone();
    let views = web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, id, &who)?;
        let rows = search::search(conn, id, &q, limit)?;
        Ok::<_, ApiError>(messages::views(conn, rows)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(RoomMessages { messages: views }))
}
