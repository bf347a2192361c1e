//! The notification feed and per-room notification settings: `GET /api/v2/notifications`
//! (newest first, paged with `before`, `unread=true` for unread only), `POST
//! /api/v2/notifications/read` (`{"ids":[...]}` or `{"all":true}`), and `PUT
//! /api/v2/rooms/{id}/notifications` `{"muted":BOOL}`. Marking read pushes the new counts of
//! the rooms concerned to all of the user's sockets, as reading a room does.

use super::rooms::{readable, MAX_PAGE};
use crate::db::notifications::{self, Notification};
use crate::db::unread;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::now_ms;
use veza_actors::model::{MessageView, RoomKind, UserRef};
use veza_actors::protocol::conversation as frames;
use veza_actors::registry::ToUsers;
use veza_actors::{RoomId, StreamId};

/// Most ids one `read` request may name.
const MAX_IDS: usize = 500;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(feed, mark_read, set_muted))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/notifications").route(web::get().to(feed)))
        .service(web::resource("/notifications/read").route(web::post().to(mark_read)))
        .service(web::resource("/rooms/{id}/notifications").route(web::put().to(set_muted)));
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// Entries older than this notification id (default: the newest).
    #[param(nullable = false)]
    before: Option<String>,
    /// 1-100 (default 50).
    #[param(nullable = false)]
    limit: Option<i64>,
    /// Unread entries only.
    #[serde(default)]
    unread: bool,
}

/// The room a notification is about.
#[derive(Serialize, ToSchema)]
pub struct NotificationRoom {
    id: RoomId,
    name: String,
    kind: RoomKind,
}

/// The stream a `show_starting` entry is about.
#[derive(Serialize, ToSchema)]
pub struct NotificationStream {
    id: StreamId,
    title: String,
    mount: String,
}

/// One entry of the feed.
#[derive(Serialize, ToSchema)]
pub struct NotificationEntry {
    /// The notification's id (a decimal string).
    id: String,
    /// What happened: `mention`, or `show_starting` (a followed stream's slot opened).
    kind: String,
    /// The room (a `show_starting` entry: the stream's linked room, null when it has none).
    #[schema(required = true)]
    room: Option<NotificationRoom>,
    /// `show_starting`: the stream; null for other kinds.
    #[schema(required = true)]
    stream: Option<NotificationStream>,
    /// `null` when the message was deleted since.
    #[schema(required = true)]
    message: Option<MessageView>,
    /// Who caused it, if anyone.
    #[schema(required = true)]
    actor: Option<UserRef>,
    created_at: i64,
    read: bool,
}

impl From<Notification> for NotificationEntry {
    fn from(n: Notification) -> Self {
        NotificationEntry {
            id: n.id.to_string(),
            kind: n.kind,
            room: n
                .room
                .map(|(id, name, kind)| NotificationRoom { id, name, kind }),
            stream: n
                .stream
                .map(|(id, title, mount)| NotificationStream { id, title, mount }),
            message: n.message,
            actor: n.actor,
            created_at: n.created_at,
            read: n.read_at.is_some(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationFeed {
    notifications: Vec<NotificationEntry>,
    /// All of the caller's unread entries, not only this page's.
    unread: i64,
}

/// The caller's notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/v2/notifications",
    tag = "notifications",
    params(FeedQuery),
    responses((status = 200, description = "A page of the feed", body = NotificationFeed)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn feed(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
    }
    let before = match &query.before {
        Some(b) => b
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request("before must be a notification id"))?,
        None => i64::MAX,
    };
    let unread_only = query.unread;
    let pool = state.pool.clone();
    let (entries, unread) = web::block(move || {
        let conn = &mut *pool.get()?;
        let entries = notifications::feed(conn, who.user_id, before, limit, unread_only)?;
        let unread = notifications::unread_count(conn, who.user_id)?;
        Ok::<_, crate::db::DbError>((entries, unread))
    })
    .await??;
    Ok(HttpResponse::Ok().json(NotificationFeed {
        notifications: entries.into_iter().map(NotificationEntry::from).collect(),
        unread,
    }))
}

/// Which notifications to mark read: `ids` or `all` (not both).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// Notification ids (decimal strings), at most 500.
    #[serde(default)]
    ids: Vec<String>,
    /// Every one of the caller's.
    #[serde(default)]
    all: bool,
}

/// Mark notifications read; the caller's sockets get the new counts of the rooms concerned.
#[utoipa::path(
    post,
    path = "/api/v2/notifications/read",
    tag = "notifications",
    request_body = MarkRead,
    responses((status = 204, description = "Marked read")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn mark_read(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    body: web::Json<MarkRead>,
) -> Result<HttpResponse, ApiError> {
    let MarkRead { ids, all } = body.into_inner();
    if all != ids.is_empty() {
        return Err(ApiError::bad_request(
            "give either \"ids\" or \"all\": true",
        ));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::bad_request(format!("at most {MAX_IDS} ids")));
    }
    let ids: Vec<i64> = ids
        .iter()
        .map(|i| i.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::bad_request("ids must be notification ids"))?;
    let pool = state.pool.clone();
    let user = who.user_id;
    let counts = web::block(move || {
        let conn = &mut *pool.get()?;
        let which = (!all).then_some(ids.as_slice());
        let rooms = notifications::mark_read(conn, who.user_id, which, now_ms() as i64)?;
        let mut counts = Vec::with_capacity(rooms.len());
        for room in rooms {
            if let Some(c) = unread::in_room(conn, room, &[user])?.pop() {
                counts.push((room, c));
            }
        }
        Ok::<_, crate::db::DbError>(counts)
    })
    .await??;
    for (room, c) in counts {
        state.registry.do_send(ToUsers {
            users: vec![user],
            frame: frames::unread(room, &c),
        });
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A room's notification setting for the caller.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mute {
    muted: bool,
}

/// The setting now.
#[derive(Serialize, ToSchema)]
pub struct RoomMuted {
    muted: bool,
}

/// Mute or unmute a room the caller is a member of.
#[utoipa::path(
    put,
    path = "/api/v2/rooms/{id}/notifications",
    tag = "notifications",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = Mute,
    responses((status = 200, description = "The setting now", body = RoomMuted)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn set_muted(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
    body: web::Json<Mute>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let muted = body.muted;
    let pool = state.pool.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, room, &who)?;
        if !unread::set_muted(conn, room, who.user_id, muted)? {
            return Err(ApiError::forbidden("join the room first"));
        }
        Ok(())
    })
    .await??;
    Ok(HttpResponse::Ok().json(RoomMuted { muted }))
}
