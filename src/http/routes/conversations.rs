//! Direct and group conversations: `POST /api/v2/conversations` opens one with the named people
//! (the existing one if it exists: 200, else 201), `GET /api/v2/conversations` lists the caller's.
//! A block between the opener and anyone named refuses it (403).

use super::room_view::{self, RoomView};
use crate::auth::Role;
use crate::db::{blocks, conversations, users, DbConnection};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veza_actors::ids::now_ms;
use veza_actors::{RoomId, UserId};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, open))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/conversations")
            .route(web::get().to(list))
            .route(web::post().to(open)),
    );
}

/// Who to talk to, by id or by name (or both).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenConversation {
    /// Users' ids (decimal strings).
    #[serde(default)]
    user_ids: Vec<String>,
    #[serde(default)]
    usernames: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OpenedConversation {
    conversation: RoomView,
    /// False when the conversation existed already.
    created: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationList {
    conversations: Vec<RoomView>,
}

/// The ids of the people named, each checked to exist and not to be a bot.
fn resolve(
    conn: &mut DbConnection,
    body: &OpenConversation,
    max_others: usize,
) -> Result<Vec<UserId>, ApiError> {
    if body.user_ids.len() + body.usernames.len() > max_others {
        return Err(ApiError::invalid(format!(
            "a conversation has at most {} people",
            max_others + 1
        )));
    }
    let mut found = Vec::new();
    for id in &body.user_ids {
        let user = id
            .parse::<UserId>()
            .ok()
            .map(|id| users::find_by_id(conn, id))
            .transpose()?
            .flatten();
        found.push(user.ok_or_else(|| ApiError::not_found(format!("no user with id {id}")))?);
    }
    for name in &body.usernames {
        let user = users::find_by_username(conn, name)?;
        found.push(user.ok_or_else(|| ApiError::not_found(format!("no user named {name}")))?);
    }
    if let Some(u) = found
        .iter()
        .find(|u| u.disabled || u.role == Role::Bot.as_str())
    {
        return Err(ApiError::invalid(format!(
            "{} cannot be messaged directly",
            u.username
        )));
    }
    Ok(found.into_iter().map(|u| u.id).collect())
}

/// Open a direct or group conversation with the people named (the existing one if there is one).
#[utoipa::path(
    post,
    path = "/api/v2/conversations",
    tag = "conversations",
    request_body = OpenConversation,
    responses(
        (status = 201, description = "A new conversation", body = OpenedConversation),
        (status = 200, description = "The conversation with these people that existed already", body = OpenedConversation)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn open(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    body: web::Json<OpenConversation>,
) -> Result<HttpResponse, ApiError> {
    if who.role == Role::Bot {
        return Err(ApiError::forbidden("bots do not open conversations"));
    }
    let pool = state.pool.clone();
    let id = RoomId(state.ids.next_id());
    let max_others = state.config.max_group_members.saturating_sub(1);
    let (view, created) = web::block(move || {
        let conn = &mut *pool.get()?;
        let mut others = resolve(conn, &body, max_others)?;
        others.retain(|u| *u != who.user_id);
        others.sort_unstable();
        others.dedup();
        if others.is_empty() {
            return Err(ApiError::invalid("name at least one other person"));
        }
        if blocks::between(conn, who.user_id, &others)? {
            return Err(ApiError::forbidden(
                "you cannot open a conversation with someone who blocked you or whom you blocked",
            ));
        }
        let (row, created) = conversations::open(conn, id, who.user_id, &others, now_ms() as i64)?;
        Ok((room_view::view_for(conn, &row, who.user_id)?, created))
    })
    .await??;
    let answer = OpenedConversation {
        conversation: view,
        created,
    };
    Ok(if created {
        HttpResponse::Created().json(answer)
    } else {
        HttpResponse::Ok().json(answer)
    })
}

/// The caller's conversations, newest first, with members and counts.
#[utoipa::path(
    get,
    path = "/api/v2/conversations",
    tag = "conversations",
    responses((status = 200, description = "The conversations", body = ConversationList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let pool = state.pool.clone();
    let conversations = web::block(move || {
        let conn = &mut *pool.get()?;
        let rows = conversations::of_user(conn, who.user_id, 500)?;
        room_view::views_for(conn, &rows, who.user_id)
    })
    .await??;
    Ok(HttpResponse::Ok().json(ConversationList { conversations }))
}
