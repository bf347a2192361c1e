//! The notification feed and per-room notification settings: `GET /api/v2/notifications`
//! (newest first, paged with `before`, `unread=true` for unread only), `POST
//! /api/v2/notifications/read` (`{"ids":[...]}` or `{"all":true}`), and `PUT
//! /api/v2/rooms/{id}/notifications` `{"muted":BOOL}`. Marking read pushes the new counts of
//! the rooms concerned to all of the user's sockets, as reading a room does.

use super::rooms::{readable, room_id, MAX_PAGE};
use crate::db::notifications::{self, Notification};
use crate::db::unread;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use veza_actors::ids::now_ms;
use veza_actors::model::{MessageView, RoomKind, UserRef};
use veza_actors::protocol::conversation as frames;
use veza_actors::registry::ToUsers;
use veza_actors::{RoomId, UserId};

/// Most ids one `read` request may name.
const MAX_IDS: usize = 500;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/notifications").route(web::get().to(feed)))
        .service(web::resource("/notifications/read").route(web::post().to(mark_read)))
        .service(web::resource("/rooms/{id}/notifications").route(web::put().to(set_muted)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    before: Option<String>,
    limit: Option<i64>,
    #[serde(default)]
    unread: bool,
}

#[derive(Serialize)]
struct RoomRef {
    id: RoomId,
    name: String,
    kind: RoomKind,
}

#[derive(Serialize)]
struct Entry {
    id: String,
    kind: String,
    room: RoomRef,
    /// Absent when the message was deleted since.
    message: Option<MessageView>,
    actor: Option<UserRef>,
    created_at: i64,
    read: bool,
}

impl From<Notification> for Entry {
    fn from(n: Notification) -> Self {
        Entry {
            id: n.id.to_string(),
            kind: n.kind,
            room: RoomRef {
                id: n.room,
                name: n.room_name,
                kind: n.room_kind,
            },
            message: n.message,
            actor: n.actor,
            created_at: n.created_at,
            read: n.read_at.is_some(),
        }
    }
}

#[derive(Serialize)]
struct Feed {
    notifications: Vec<Entry>,
    /// All of the caller's unread entries, not only this page's.
    unread: i64,
}

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
    Ok(HttpResponse::Ok().json(Feed {
        notifications: entries.into_iter().map(Entry::from).collect(),
        unread,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    all: bool,
}

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
    let user = UserId(who.user_id);
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
            frame: frames::unread(RoomId(room), &c),
        });
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mute {
    muted: bool,
}

#[derive(Serialize)]
struct Muted {
    muted: bool,
}

pub async fn set_muted(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Mute>,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&path)?;
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
    Ok(HttpResponse::Ok().json(Muted { muted }))
}
