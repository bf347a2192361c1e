//! `GET /api/v2/rooms/{id}/messages/{msg}/thread?after=SEQ&limit=N`: a thread as its own list,
//! the root and its replies oldest first, paged forward with `after` (`next_after` is the value
//! for the next page, absent on the last).

use super::rooms::{readable, MAX_PAGE};
use crate::db::messages;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use veza_actors::model::MessageView;
use veza_actors::{MessageId, RoomId};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(show))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/rooms/{id}/messages/{message}/thread").route(web::get().to(show)));
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ThreadPage {
    /// Replies with a `seq` above this one (`next_after` of the previous page; default: from the first).
    #[param(nullable = false)]
    after: Option<i64>,
    /// 1-100 (default 50).
    #[param(nullable = false)]
    limit: Option<i64>,
}

/// A thread: its root and a page of replies, oldest first.
#[derive(Serialize, ToSchema)]
pub struct MessageThread {
    root: MessageView,
    messages: Vec<MessageView>,
    /// `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    next_after: Option<i64>,
}

/// A thread as its own list: the root and its replies oldest first, paged forward with `after`.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/messages/{message}/thread",
    tag = "threads",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("message" = MessageId, Path, description = "The thread's root message"),
        ThreadPage
    ),
    responses((status = 200, description = "The thread", body = MessageThread)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn show(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, MessageId)>,
    page: web::Query<ThreadPage>,
) -> Result<HttpResponse, ApiError> {
    let (room, root_id) = path.into_inner();
    let limit = page.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
    }
    let after = page.after.unwrap_or(0);
    let pool = state.pool.clone();
    let thread = web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, room, &who)?;
        let root = messages::view(conn, root_id)?
            .filter(|m| m.room == room && m.thread.is_none())
            .ok_or_else(|| ApiError::not_found("no such thread in this room"))?;
        // One more than asked: whether there is a next page.
        let mut rows = messages::thread_replies(conn, root_id, after, limit + 1)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let replies = messages::views(conn, rows)?;
        let next_after = more.then(|| replies.last().map(|m| m.seq)).flatten();
        Ok::<_, ApiError>(MessageThread {
            root,
            messages: replies,
            next_after,
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(thread))
}
