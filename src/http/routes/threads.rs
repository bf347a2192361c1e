//! `GET /api/v2/rooms/{id}/messages/{msg}/thread?after=SEQ&limit=N`: a thread as its own list,
//! the root and its replies oldest first, paged forward with `after` (`next_after` is the value
//! for the next page, absent on the last).

use super::rooms::{readable, room_id, MAX_PAGE};
use crate::db::messages;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use veza_actors::model::MessageView;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/rooms/{id}/messages/{message}/thread").route(web::get().to(show)));
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadPage {
    after: Option<i64>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct Thread {
    root: MessageView,
    messages: Vec<MessageView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<i64>,
}

pub async fn show(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    page: web::Query<ThreadPage>,
) -> Result<HttpResponse, ApiError> {
    let (room, message) = path.into_inner();
    let room = room_id(&room)?;
    let root_id: i64 = message
        .parse()
        .map_err(|_| ApiError::not_found("no such message"))?;
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
            .filter(|m| m.room.0 == room && m.thread.is_none())
            .ok_or_else(|| ApiError::not_found("no such thread in this room"))?;
        // One more than asked: whether there is a next page.
        let mut rows = messages::thread_replies(conn, root_id, after, limit + 1)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let replies = messages::views(conn, rows)?;
        let next_after = more.then(|| replies.last().map(|m| m.seq)).flatten();
        Ok::<_, ApiError>(Thread {
            root,
            messages: replies,
            next_after,
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(thread))
}
