//! Pins: `GET /api/v2/rooms/{id}/pins` (members), `PUT` and `DELETE
//! /api/v2/rooms/{id}/pins/{message}` (the room's moderators; in a conversation, its members).
//! Members on every node get `pinned` / `unpinned` through the room's fan-out.

use super::rooms::{moderated, readable};
use crate::auth::Authenticated;
use crate::db::pins::{self, Pin, Pinned};
use crate::db::{messages, DbConnection};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::ids::now_ms;
use veza_actors::model::{MessageView, UserRef};
use veza_actors::protocol::conversation as frames;
use veza_actors::stream::NotifyRoom;
use veza_actors::{MessageId, RoomId};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, pin, unpin))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/rooms/{id}/pins").route(web::get().to(list)))
        .service(
            web::resource("/rooms/{id}/pins/{message}")
                .route(web::put().to(pin))
                .route(web::delete().to(unpin)),
        );
}

/// A pinned message.
#[derive(Serialize, ToSchema)]
pub struct PinView {
    message: MessageView,
    /// `null` when the account that pinned it is gone.
    #[schema(required = true)]
    pinned_by: Option<UserRef>,
    pinned_at: i64,
}

impl From<Pin> for PinView {
    fn from(p: Pin) -> Self {
        PinView {
            message: p.message,
            pinned_by: p.pinned_by,
            pinned_at: p.pinned_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PinList {
    pins: Vec<PinView>,
}

/// Who may pin here: a room's moderators, any member of a conversation.
fn may_pin(conn: &mut DbConnection, room: RoomId, who: &Authenticated) -> Result<(), ApiError> {
    let row = readable(conn, room, who)?;
    if row.kind().is_conversation() {
        return Ok(());
    }
    moderated(conn, room, who)
}

/// The message, if it is a live message of `room`.
fn message_in(
    conn: &mut DbConnection,
    room: RoomId,
    message: MessageId,
) -> Result<MessageView, ApiError> {
    messages::view(conn, message)?
        .filter(|m| m.room == room && !m.deleted)
        .ok_or_else(|| ApiError::not_found("no such message in this room"))
}

/// The room's pinned messages.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/pins",
    tag = "pins",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The pins", body = PinList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let pool = state.pool.clone();
    let pins = web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, room, &who)?;
        Ok::<_, ApiError>(pins::of_room(conn, room)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(PinList {
        pins: pins.into_iter().map(PinView::from).collect(),
    }))
}

/// Pin a message (the room's moderators; in a conversation, its members).
#[utoipa::path(
    put,
    path = "/api/v2/rooms/{id}/pins/{message}",
    tag = "pins",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("message" = MessageId, Path, description = "The message to pin")
    ),
    responses(
        (status = 201, description = "Pinned", body = PinView),
        (status = 200, description = "It was pinned already", body = PinView),
        (status = 409, description = "The room holds the most pins it may (`quota_exceeded`)", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn pin(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, MessageId)>,
) -> Result<HttpResponse, ApiError> {
    let (room, message) = path.into_inner();
    let by = UserRef {
        id: who.user_id,
        username: who.username.clone(),
    };
    let pool = state.pool.clone();
    let now = now_ms() as i64;
    let (view, outcome) = web::block(move || {
        let conn = &mut *pool.get()?;
        may_pin(conn, room, &who)?;
        let view = message_in(conn, room, message)?;
        let outcome = pins::pin(conn, room, message, who.user_id, now)?;
        Ok::<_, ApiError>((view, outcome))
    })
    .await??;
    let pinned = PinView {
        message: view,
        pinned_by: Some(by.clone()),
        pinned_at: now,
    };
    match outcome {
        Pinned::Full => Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "quota_exceeded",
            format!("a room holds at most {} pins", pins::MAX_PINS),
        )),
        Pinned::Already => Ok(HttpResponse::Ok().json(pinned)),
        Pinned::New => {
            state.registry.do_send(NotifyRoom {
                room,
                frame: frames::pinned(&pinned.message, &by, now),
            });
            Ok(HttpResponse::Created().json(pinned))
        }
    }
}

/// Unpin a message.
#[utoipa::path(
    delete,
    path = "/api/v2/rooms/{id}/pins/{message}",
    tag = "pins",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("message" = MessageId, Path, description = "The pinned message")
    ),
    responses((status = 204, description = "Unpinned")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn unpin(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, MessageId)>,
) -> Result<HttpResponse, ApiError> {
    let (room, message) = path.into_inner();
    let by = UserRef {
        id: who.user_id,
        username: who.username.clone(),
    };
    let pool = state.pool.clone();
    let removed = web::block(move || {
        let conn = &mut *pool.get()?;
        may_pin(conn, room, &who)?;
        Ok::<_, ApiError>(pins::unpin(conn, room, message)?)
    })
    .await??;
    if !removed {
        return Err(ApiError::not_found("that message is not pinned"));
    }
    state.registry.do_send(NotifyRoom {
        room,
        frame: frames::unpinned(room, message, &by),
    });
    Ok(HttpResponse::NoContent().finish())
}
