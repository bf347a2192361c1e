//! `GET /api/v2/rooms/{id}/commands`: the slash commands of a room, built-in and registered by
//! bots, for the page's command hint (and any client's). Read from the store, so every node
//! answers the same.

use super::rooms::readable;
use crate::db::{bot_commands, rooms};
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;
use veza_actors::model::{RoomRole, UserRef};
use veza_actors::room::commands;
use veza_actors::RoomId;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/rooms/{id}/commands").route(web::get().to(list)));
}

#[derive(Serialize, ToSchema)]
pub struct CommandList {
    commands: Vec<CommandEntry>,
}

/// A slash command: `/name args` - description.
#[derive(Serialize, ToSchema)]
pub struct CommandEntry {
    name: String,
    /// The argument hint (`@user [reason]`, `NdM`).
    args: String,
    description: String,
    /// The bot that answers it; `null` for a built-in.
    #[schema(required = true)]
    bot: Option<UserRef>,
    /// The least room role a built-in needs; bot commands are open to every member.
    role: RoomRole,
}

/// The room's slash commands: built-ins first, then the bots' by name.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/commands",
    tag = "room_commands",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The commands", body = CommandList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let pool = state.pool.clone();
    let registered = web::block(move || {
        let conn = &mut *pool.get()?;
        readable(conn, id, &who)?;
        // A banned bot's commands are kept for its unban, not offered.
        let now = veza_actors::ids::now_ms() as i64;
        let mut banned: std::collections::HashMap<veza_actors::UserId, bool> = Default::default();
        let mut usable = Vec::new();
        for command in bot_commands::for_room(conn, id)? {
            let bot = command.bot.id;
            if let std::collections::hash_map::Entry::Vacant(slot) = banned.entry(bot) {
                let until = rooms::membership(conn, id, bot)?.and_then(|(_, until)| until);
                slot.insert(until.is_some_and(|until| until > now));
            }
            if banned.get(&bot) == Some(&false) {
                usable.push(command);
            }
        }
        Ok::<_, ApiError>(usable)
    })
    .await??;
    let built_in = commands::builtins().map(|(name, args, description, role)| CommandEntry {
        name: name.to_owned(),
        args: args.to_owned(),
        description: description.to_owned(),
        bot: None,
        role,
    });
    let by_bots = registered.into_iter().map(|c| CommandEntry {
        name: c.name,
        args: c.args,
        description: c.description,
        bot: Some(c.bot),
        role: RoomRole::Member,
    });
    Ok(HttpResponse::Ok().json(CommandList {
        commands: built_in.chain(by_bots).collect(),
    }))
}
