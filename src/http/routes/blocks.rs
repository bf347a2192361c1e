//! `GET /api/v2/users/me/blocks`, `PUT` and `DELETE /api/v2/users/me/blocks/{user}`: whom the
//! caller blocked. A block stops direct messages both ways (new conversations and messages in
//! existing direct ones) and mentions of the blocker by the blocked user.

use crate::db::{blocks, users};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::ids::now_ms;
use veza_actors::model::UserRef;
use veza_actors::UserId;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, block, unblock))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users/me/blocks").route(web::get().to(list)))
        .service(
            web::resource("/users/me/blocks/{user}")
                .route(web::put().to(block))
                .route(web::delete().to(unblock)),
        );
}

/// Someone the caller blocked, and since when.
#[derive(Serialize, ToSchema)]
pub struct BlockView {
    user: UserRef,
    created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct BlockList {
    blocks: Vec<BlockView>,
}

/// Whom the caller blocked.
#[utoipa::path(
    get,
    path = "/api/v2/users/me/blocks",
    tag = "blocks",
    responses((status = 200, description = "The blocks", body = BlockList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rows = web::block(move || blocks::of_user(&mut *pool.get()?, who.user_id)).await??;
    let blocks = rows
        .into_iter()
        .map(|(user, created_at)| BlockView { user, created_at })
        .collect();
    Ok(HttpResponse::Ok().json(BlockList { blocks }))
}

/// Block a user (blocking again changes nothing).
#[utoipa::path(
    put,
    path = "/api/v2/users/me/blocks/{user}",
    tag = "blocks",
    params(("user" = UserId, Path, description = "The user to block")),
    responses((status = 204, description = "Blocked")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn block(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let target = path.into_inner();
    if target == who.user_id {
        return Err(ApiError::invalid("you cannot block yourself"));
    }
    let pool = state.pool.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        if users::find_by_id(conn, target)?.is_none() {
            return Err(ApiError::not_found("no such user"));
        }
        blocks::block(conn, who.user_id, target, now_ms() as i64)?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Unblock a user.
#[utoipa::path(
    delete,
    path = "/api/v2/users/me/blocks/{user}",
    tag = "blocks",
    params(("user" = UserId, Path, description = "The blocked user")),
    responses((status = 204, description = "Unblocked")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn unblock(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let target = path.into_inner();
    let pool = state.pool.clone();
    let removed =
        web::block(move || blocks::unblock(&mut *pool.get()?, who.user_id, target)).await??;
    if !removed {
        return Err(ApiError::not_found("you have not blocked this user"));
    }
    Ok(HttpResponse::NoContent().finish())
}
