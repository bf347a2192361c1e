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
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::UserId;
use veza_actors::permission::Permission;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, rotate, delete))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/bots")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/bots/{id}").route(web::delete().to(delete)))
    .service(web::resource("/bots/{id}/token").route(web::post().to(rotate)));
}

/// A bot as listed (never with its token).
#[derive(Serialize, ToSchema)]
pub struct BotView {
    pub id: UserId,
    pub username: String,
    pub owner: OwnerView,
    /// The token's first characters, to tell tokens apart.
    pub token_hint: String,
    pub created_at: i64,
    pub rotated_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct OwnerView {
    pub id: UserId,
    pub username: String,
}

impl From<Listed> for BotView {
    fn from(l: Listed) -> Self {
        BotView {
            id: l.bot.user_id,
            username: l.username,
            owner: OwnerView {
                id: l.bot.owner_id,
                username: l.owner_name,
            },
            token_hint: l.bot.token_hint,
            created_at: l.bot.created_at,
            rotated_at: l.bot.rotated_at,
        }
    }
}

/// A bot with its new token (shown this once).
#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
pub struct BotList {
    pub bots: Vec<BotView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBot {
    /// 3-32 letters, digits, `_` or `-`; the bot's name in rooms.
    pub username: String,
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    /// Every bot, not only the caller's (needs `users.manage`).
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

/// Create a bot; its token is in this answer and never again.
#[utoipa::path(
    post,
    path = "/api/v2/bots",
    tag = "bots",
    request_body = CreateBot,
    responses((status = 201, description = "The bot and its token", body = WithToken)),
    security(("bearer" = []), ("bot" = []))
)]
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

/// The caller's bots (every bot for those who manage users, asking for all).
#[utoipa::path(
    get,
    path = "/api/v2/bots",
    tag = "bots",
    params(ListQuery),
    responses((status = 200, description = "The bots", body = BotList)),
    security(("bearer" = []), ("bot" = []))
)]
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

/// A new token for a bot: the old one stops working and the bot's sockets close.
#[utoipa::path(
    post,
    path = "/api/v2/bots/{id}/token",
    tag = "bots",
    params(("id" = UserId, Path, description = "The bot's user id")),
    responses((status = 200, description = "The bot and its new token", body = WithToken)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn rotate(
    req: HttpRequest,
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = client_info(&req);
    let auth = state.auth.clone();
    let manager = manager(&state, who);
    let (listed, token) =
        web::block(move || auth.rotate_bot_token(&manager, id, &client)).await??;
    Ok(HttpResponse::Ok().json(WithToken::new(listed, token)))
}

/// Delete a bot: its sockets close and its token stops working.
#[utoipa::path(
    delete,
    path = "/api/v2/bots/{id}",
    tag = "bots",
    params(("id" = UserId, Path, description = "The bot's user id")),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delete(
    req: HttpRequest,
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let client = client_info(&req);
    let auth = state.auth.clone();
    let manager = manager(&state, who);
    web::block(move || auth.delete_bot(&manager, id, &client)).await??;
    Ok(HttpResponse::NoContent().finish())
}
