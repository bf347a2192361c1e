//! `GET /ws`: upgrades an authenticated request to a WebSocket and hands it to a connection actor.
//! Without a valid token (`Authorization: Bearer` or `?access_token=`) the upgrade is refused with 401.

use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::body::BoxBody;
use actix_web::{web, HttpRequest, HttpResponse};
use veza_actors::connection::Connection;
use veza_actors::model::RoomRole;
use veza_actors::permission::Permission;
use veza_actors::room::SessionUser;
use veza_actors::UserId;

pub async fn upgrade(
    AuthUser(who): AuthUser,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError::bad_request(format!("not a WebSocket upgrade: {e}")))?;
    let grants = crate::auth::permission::grants(who.role, &state.config);
    let user = SessionUser {
        id: UserId(who.user_id),
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
    };
    // The connection decodes the client's frames from the request body, and its outbox is
    // written out as the response body: no task or channel in between (docs/benchmarks.md,
    // "Memory per idle connection").
    let outgoing = Connection::start(body.into_inner(), user, state.connections.clone());
    let response = response
        .message_body(BoxBody::new(outgoing))
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::from(response))
}
