//! `GET /api/v2/users/me/blocks`, `PUT` and `DELETE /api/v2/users/me/blocks/{user}`: whom the
//! caller blocked. A block stops direct messages both ways (new conversations and messages in
//! existing direct ones) and mentions of the blocker by the blocked user.

use crate::db::{blocks, users};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use veza_actors::ids::now_ms;
use veza_actors::model::UserRef;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users/me/blocks").route(web::get().to(list)))
        .service(
            web::resource("/users/me/blocks/{user}")
                .route(web::put().to(block))
                .route(web::delete().to(unblock)),
        );
}

#[derive(Serialize)]
struct Block {
    user: UserRef,
    created_at: i64,
}

#[derive(Serialize)]
struct Blocks {
    blocks: Vec<Block>,
}

fn user_id(path: &str) -> Result<i64, ApiError> {
    path.parse()
        .map_err(|_| ApiError::not_found("no such user"))
}

pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let rows = web::block(move || blocks::of_user(&mut *pool.get()?, who.user_id)).await??;
    let blocks = rows
        .into_iter()
        .map(|(user, created_at)| Block { user, created_at })
        .collect();
    Ok(HttpResponse::Ok().json(Blocks { blocks }))
}

pub async fn block(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = user_id(&path)?;
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

pub async fn unblock(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = user_id(&path)?;
    let pool = state.pool.clone();
    let removed =
        web::block(move || blocks::unblock(&mut *pool.get()?, who.user_id, target)).await??;
    if !removed {
        return Err(ApiError::not_found("you have not blocked this user"));
    }
    Ok(HttpResponse::NoContent().finish())
}
