//! `/api/v2/bots`: bot accounts. A user with `bots.create` makes bots (up to `max_bots_per_user`),
//! lists them, rotates their tokens and deletes them; those who manage users can act on every bot.
//! A token is in the answer that made it and never again.

use crate::auth::bots::Manager;
use crate::db::bots::Listed;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::http::guard::{holds, Authorized, BotsCreate};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use veza_actors::permission::Permission;

/// A bot as listed (never with its token).
#[derive(Serialize)]
pub struct BotView {
    pub id: String,
    pub username: String,
    pub owner: OwnerView,
    /// The token's first characters, to tell tokens apart.
    pub token_hint: String,
    pub created_at: i64,
    pub rotated_at: i64,
}

#[derive(Serialize)]
pub struct OwnerView {
    pub id: String,
    pub username: String,
}

impl From<Listed> for BotView {
    fn from(l: Listed) -> Self {
        BotView {
            id: l.bot.user_id.to_string(),
            username: l.username,
            owner: OwnerView {
                id: l.bot.owner_id.to_string(),
                username: l.owner_name,
            },
            token_hint: l.bot.token_hint,
            created_at: l.bot.created_at,
            rotated_at: l.bot.rotated_at,
        }
    }
}

/// A bot with its new token (shown this once).
#[derive(Serialize)]
pub struct WithToken {
    pub bot: BotView,
    pub token: String,
    /// How to send it.
    pub authorization: String,
}

impl WithToken {
    fn new(listed: Listed, token: String) -> Self {
        WithToken {
            bot: listed.into(),
            authorization: format!("Bot {token}"),
            token,
        }
    }
}

#[derive(Serialize)]
pub struct BotList {
    pub bots: Vec<BotView>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBot {
    pub username: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub all: bool,
}

/// The caller as a bot manager (owner of their bots; of every bot with `users.manage`).
fn manager(state: &AppState, who: crate::auth::Authenticated) -> Manager {
    Manager {
        manages_users: holds(state, &who, Permission::UsersManage),
        who,
    }
}

fn bot_id(path: &str) -> Result<i64, ApiError> {
    path.parse().map_err(|_| ApiError::not_found("no such bot"))
}

/// `POST /api/v2/bots` `{username}` -> 201 `{bot, token, authorization}`.
pub async fn create(
    req: HttpRequest,
    Authorized(who, _): Authorized<BotsCreate>,
    state: web::Data<AppState>,
    body: web::Json<CreateBot>,
) -> Result<HttpResponse, ApiError> {
    let client = client_info(&req);
    let auth = state.auth.clone();
    let max = state.config.max_bots_per_user;
    let username = body.into_inner().username;
    let (listed, token) =
        web::block(move || auth.create_bot(&who, username.trim(), max, &client)).await??;
    Ok(HttpResponse::Created().json(WithToken::new(listed, token)))
}

/// `GET /api/v2/bots[?all=true]`: the caller's bots (every bot for admins asking for all).
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let auth = state.auth.clone();
    let manager = manager(&state, who);
    let all = query.all;
    let bots = web::block(move || auth.list_bots(&manager, all)).await??;
    Ok(HttpResponse::Ok().json(BotList {
        bots: bots.into_iter().map(BotView::from).collect(),
    }))
}

/// `POST /api/v2/bots/{id}/token` -> 200 `{bot, token, authorization}`; the old token stops
/// working and the bot's sockets close.
pub async fn rotate(
    req: HttpRequest,
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = bot_id(&path)?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let manager = manager(&state, who);
    let (listed, token) =
        web::block(move || auth.rotate_bot_token(&manager, id, &client)).await??;
    Ok(HttpResponse::Ok().json(WithToken::new(listed, token)))
}

/// `DELETE /api/v2/bots/{id}` -> 204.
pub async fn delete(
    req: HttpRequest,
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = bot_id(&path)?;
    let client = client_info(&req);
    let auth = state.auth.clone();
    let manager = manager(&state, who);
    web::block(move || auth.delete_bot(&manager, id, &client)).await??;
    Ok(HttpResponse::NoContent().finish())
}
