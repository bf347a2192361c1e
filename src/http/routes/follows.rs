//! Following streams: `PUT` / `DELETE /api/v2/streams/{id}/follow` (follow, unfollow), `GET
//! /api/v2/streams/{id}/follow` (do I follow, how many do), `GET /api/v2/users/me/follows` (what
//! I follow). Followers hear `show_starting` when a slot of the stream opens.

use super::streams::load;
use crate::db::follows;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::ids::{now_ms, RoomId, StreamId, UserId};

/// Most entries `GET /api/v2/users/me/follows` lists.
const MAX_LISTED: i64 = 500;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(state, follow, unfollow, mine))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/streams/{id}/follow")
            .route(web::get().to(state))
            .route(web::put().to(follow))
            .route(web::delete().to(unfollow)),
    )
    .service(web::resource("/users/me/follows").route(web::get().to(mine)));
}

/// Whether the caller follows the stream, and how many do.
#[derive(Serialize, ToSchema)]
pub struct FollowState {
    following: bool,
    followers: i64,
}

/// A stream the caller follows.
#[derive(Serialize, ToSchema)]
pub struct FollowedStream {
    id: StreamId,
    title: String,
    mount: String,
    #[schema(required = true)]
    room_id: Option<RoomId>,
    /// When the caller followed it (ms since the epoch).
    followed_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct FollowList {
    /// Most recently followed first (at most 500).
    streams: Vec<FollowedStream>,
}

/// What to do to the caller's follow.
#[derive(Clone, Copy)]
enum Change {
    None,
    Follow,
    Unfollow,
}

async fn apply(
    state: &AppState,
    user: UserId,
    stream: StreamId,
    change: Change,
) -> Result<HttpResponse, ApiError> {
    let stream = load(state, stream).await?.id;
    let pool = state.pool.clone();
    let (following, followers) = web::block(move || {
        let conn = &mut *pool.get()?;
        match change {
            Change::Follow => follows::follow(conn, stream, user, now_ms() as i64)?,
            Change::Unfollow => follows::unfollow(conn, stream, user)?,
            Change::None => {}
        }
        follows::state(conn, stream, user)
    })
    .await??;
    Ok(HttpResponse::Ok().json(FollowState {
        following,
        followers,
    }))
}

/// Whether the caller follows the stream, and its follower count.
#[utoipa::path(
    get,
    path = "/api/v2/streams/{id}/follow",
    tag = "follows",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses((status = 200, description = "The caller's follow", body = FollowState)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn state(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    apply(&state, who.user_id, path.into_inner(), Change::None).await
}

/// Follow the stream (again: no change).
#[utoipa::path(
    put,
    path = "/api/v2/streams/{id}/follow",
    tag = "follows",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses((status = 200, description = "Followed", body = FollowState)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn follow(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    apply(&state, who.user_id, path.into_inner(), Change::Follow).await
}

/// Stop following the stream.
#[utoipa::path(
    delete,
    path = "/api/v2/streams/{id}/follow",
    tag = "follows",
    params(("id" = StreamId, Path, description = "The stream's id")),
    responses((status = 200, description = "Not followed", body = FollowState)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn unfollow(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<StreamId>,
) -> Result<HttpResponse, ApiError> {
    apply(&state, who.user_id, path.into_inner(), Change::Unfollow).await
}

/// The streams the caller follows.
#[utoipa::path(
    get,
    path = "/api/v2/users/me/follows",
    tag = "follows",
    responses((status = 200, description = "Followed streams", body = FollowList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn mine(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rows =
        web::block(move || follows::of_user(&mut *pool.get()?, who.user_id, MAX_LISTED)).await??;
    Ok(HttpResponse::Ok().json(FollowList {
        streams: rows
            .into_iter()
            .map(|(id, title, mount, room, at)| FollowedStream {
                id,
                title,
                mount,
                room_id: room,
                followed_at: at,
            })
            .collect(),
    }))
}
