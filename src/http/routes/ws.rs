//! `GET /ws`: upgrades an authenticated request to a WebSocket and hands it to a connection actor.
//! Without a valid token (`Authorization: Bearer` or `?access_token=`, the one route that takes the
//! query token) the upgrade is refused with 401; a user holding `max_websockets_per_user` sockets
//! on this node already gets 429.

use crate::http::error::ApiError;
use crate::http::extract::WsUser;
use crate::limits::held::Permit;
use crate::state::AppState;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll};
use veza_actors::connection::Connection;
use veza_actors::model::RoomRole;
use veza_actors::outbox::OutboxBody;
use veza_actors::permission::Permission;
use veza_actors::room::SessionUser;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(upgrade))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ws", web::get().to(upgrade));
}

/// The chat WebSocket (protocol: docs/protocol.md). Authenticates with `Authorization` or, for
/// browsers, `?access_token=`; 401 without a valid token, 429 when the user already holds
/// `max_websockets_per_user` sockets on this node.
#[utoipa::path(
    get,
    path = "/ws",
    tag = "ws",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 429, description = "Too many sockets open (`too_many_connections`, with `Retry-After`)", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []), ("access_token" = []))
)]
pub async fn upgrade(
    WsUser(who): WsUser,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError::bad_request(format!("not a WebSocket upgrade: {e}")))?;
    let permit = state
        .websockets
        .enter(&who.user_id.to_string())
        .map_err(|_| too_many(state.config.max_websockets_per_user))?;
    let grants = crate::auth::permission::grants(who.role, &state.config);
    let user = SessionUser {
        id: who.user_id,
        username: who.username,
        session: who.session_id,
        global_power: if grants.allows(Permission::RoomsAdminister) {
            Some(RoomRole::Owner)
        } else if grants.allows(Permission::RoomsModerate) {
            Some(RoomRole::Moderator)
        } else {
            None
        },
        grants,
        role: who.role.as_str().to_owned(),
    };
    // The connection decodes the client's frames from the request body, and its outbox is
    // written out as the response body: no task or channel in between (docs/benchmarks.md,
    // "Memory per idle connection").
    let outgoing = Held {
        body: Connection::start(body.into_inner(), user, state.connections.clone()),
        _permit: permit,
    };
    let response = response
        .message_body(BoxBody::new(outgoing))
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::from(response))
}

fn too_many(max: usize) -> ApiError {
    ApiError {
        retry_after_s: Some(5),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_connections",
            format!("you have {max} WebSockets open on this server already; close one first"),
        )
    }
}

/// The socket's outgoing body, holding the user's place among their open sockets until the
/// connection ends (the body is dropped with it).
struct Held {
    body: OutboxBody,
    _permit: Permit,
}

impl MessageBody for Held {
    type Error = <OutboxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}
