//! Incoming webhooks: a room's moderators make a secret URL (`POST /api/v2/rooms/{id}/webhooks`,
//! shown once), list and revoke them; anyone holding the URL posts `{"text","username"?}` to
//! `POST /hooks/{id}/{secret}` and it appears in the room as a message of the hook's own account
//! (kind `bot`, named after the hook), committed and fanned out like any other.

use super::rooms::moderated;
use crate::auth::{opaque, validation};
use crate::db::audit::{self, NewAuditEntry};
use crate::db::users::NewUser;
use crate::db::webhooks::{self, IncomingWebhook};
use crate::db::write_txn::write_transaction;
use crate::db::{rooms, users};
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::limits::Class;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use veza_actors::ids::now_ms;
use veza_actors::model::{MessageKind, MessageView, RoomRole, UserRef};
use veza_actors::protocol::check_body;
use veza_actors::{RoomId, UserId};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(post, list, create, revoke))]
pub struct Api;

/// `/hooks/{id}/{secret}`: where integrations post.
pub fn configure_root(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/hooks/{id}/{secret}").route(web::post().to(post)));
}

/// Under `/api/v2`: a room's incoming webhooks.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/rooms/{id}/webhooks")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/rooms/{id}/webhooks/{hook}").route(web::delete().to(revoke)));
}

const MAX_DISPLAY_NAME: usize = 32;
/// As a message's `client_id`, which it becomes.
const MAX_IDEMPOTENCY_KEY: usize = 64;
/// Live hooks one room may have.
const MAX_HOOKS_PER_ROOM: usize = 20;

/// An incoming webhook (never its secret).
#[derive(Serialize, ToSchema)]
pub struct IncomingWebhookView {
    /// The hook's id (a decimal string).
    pub id: String,
    pub room: RoomId,
    /// The hook's account name: its messages' author.
    pub name: String,
    pub created_at: i64,
}

impl IncomingWebhookView {
    fn new(hook: &IncomingWebhook, name: String) -> Self {
        IncomingWebhookView {
            id: hook.id.to_string(),
            room: hook.room_id,
            name,
            created_at: hook.created_at,
        }
    }
}

/// A new incoming webhook and its URL.
#[derive(Serialize, ToSchema)]
pub struct IncomingWebhookCreated {
    pub webhook: IncomingWebhookView,
    /// The path to post to, with its secret: shown this once.
    pub url: String,
}

#[derive(Serialize, ToSchema)]
pub struct IncomingWebhookList {
    pub webhooks: Vec<IncomingWebhookView>,
}

/// The message a post to a webhook became.
#[derive(Serialize, ToSchema)]
pub struct WebhookPosted {
    pub message: MessageView,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncomingWebhook {
    /// The hook's account name (3-32 letters, digits, `_` or `-`), unique like a username.
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPost {
    /// The message.
    text: String,
    /// Shown before the text (`username: text`) when it is not the hook's own name; the whole
    /// body is bounded like any message (4,000 characters).
    username: Option<String>,
}

/// A new incoming webhook for the room (its moderators): its URL, with the secret, is in this
/// answer and never again.
#[utoipa::path(
    post,
    path = "/api/v2/rooms/{id}/webhooks",
    tag = "webhooks",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = NewIncomingWebhook,
    responses((status = 201, description = "The hook and its URL (shown once)", body = IncomingWebhookCreated)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
    body: web::Json<NewIncomingWebhook>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    validation::username(&body.name)?;
    let client = client_info(&req);
    let pool = state.pool.clone();
    let (id, user) = (state.ids.next_id(), UserId(state.ids.next_id()));
    let audit_id = state.ids.next_id();
    let name = body.into_inner().name;
    let (secret, secret_hash) = opaque::generate();
    let created = web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        let now = now_ms() as i64;
        write_transaction(conn, |conn| {
            if webhooks::live_in_room(conn, room)?.len() >= MAX_HOOKS_PER_ROOM {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "quota_exceeded",
                    format!("a room has at most {MAX_HOOKS_PER_ROOM} webhooks; revoke one first"),
                ));
            }
            let lower = name.to_lowercase();
            users::insert(conn, &NewUser::bot_account(user, &name, &lower, now)).map_err(|e| {
                if e.is_unique_violation() {
                    ApiError::new(StatusCode::CONFLICT, "username_taken", "that name is taken")
                } else {
                    e.into()
                }
            })?;
            rooms::upsert_member(conn, room, user, Some(RoomRole::Member), None, None, now)?;
            let hook = IncomingWebhook {
                id,
                room_id: room,
                user_id: user,
                secret_hash,
                created_by: who.user_id,
                created_at: now,
                revoked_at: None,
            };
            webhooks::insert(conn, &hook)?;
            audit::record(
                conn,
                &NewAuditEntry {
                    id: audit_id,
                    actor_id: Some(who.user_id),
                    action: "webhook.created",
                    target_type: Some("webhook"),
                    target_id: Some(id.to_string()),
                    room_id: Some(room),
                    ip: client.ip.as_deref(),
                    user_agent: client.user_agent.as_deref(),
                    details: Some(serde_json::json!({ "name": name }).to_string()),
                    created_at: now,
                },
            )?;
            Ok::<_, ApiError>(IncomingWebhookView::new(&hook, name.clone()))
        })
    })
    .await??;
    let url = format!("/hooks/{}/{secret}", created.id);
    Ok(HttpResponse::Created().json(IncomingWebhookCreated {
        webhook: created,
        url,
    }))
}

/// The room's live incoming webhooks (never their secrets), for its moderators.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/webhooks",
    tag = "webhooks",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The live hooks", body = IncomingWebhookList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let pool = state.pool.clone();
    let hooks = web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        Ok::<_, ApiError>(webhooks::live_in_room(conn, room)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(IncomingWebhookList {
        webhooks: hooks
            .into_iter()
            .map(|(h, name)| IncomingWebhookView::new(&h, name))
            .collect(),
    }))
}

/// Revoke an incoming webhook: its URL stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v2/rooms/{id}/webhooks/{hook}",
    tag = "webhooks",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("hook" = String, Path, description = "The hook's id (a decimal string)")
    ),
    responses((status = 204, description = "Revoked")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn revoke(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (room, hook) = path.into_inner();
    let hook: i64 = hook
        .parse()
        .map_err(|_| ApiError::not_found("no such webhook"))?;
    let client = client_info(&req);
    let audit_id = state.ids.next_id();
    let pool = state.pool.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        let now = now_ms() as i64;
        write_transaction(conn, |conn| {
            if !webhooks::revoke(conn, room, hook, now)? {
                return Err(ApiError::not_found("no such webhook"));
            }
            audit::record(
                conn,
                &NewAuditEntry {
                    id: audit_id,
                    actor_id: Some(who.user_id),
                    action: "webhook.revoked",
                    target_type: Some("webhook"),
                    target_id: Some(hook.to_string()),
                    room_id: Some(room),
                    ip: client.ip.as_deref(),
                    user_agent: client.user_agent.as_deref(),
                    details: None,
                    created_at: now,
                },
            )?;
            Ok(())
        })
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Post a message to the hook's room: 201 `{message}` once it is durable (200 with the first
/// post's message when an `Idempotency-Key` header repeats one already used). A wrong secret, an
/// unknown or a revoked hook (or one whose account was disabled) are all 404 (the secret is
/// compared in constant time); past `webhook_rate_per_minute` 429.
#[utoipa::path(
    post,
    path = "/hooks/{id}/{secret}",
    tag = "webhooks",
    params(
        ("id" = String, Path, description = "The hook's id (a decimal string)"),
        ("secret" = String, Path, description = "The hook's secret, from its URL"),
        ("Idempotency-Key" = Option<String>, Header,
            description = "1-64 visible ASCII characters: a repeated key answers 200 with the first post's message instead of posting again")
    ),
    request_body = WebhookPost,
    responses(
        (status = 201, description = "Posted", body = WebhookPosted),
        (status = 200, description = "Already posted with this Idempotency-Key: the first post's message", body = WebhookPosted)
    )
)]
pub async fn post(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<WebhookPost>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (hook, secret) = path.into_inner();
    let unknown = || ApiError::not_found("no such webhook");
    let idempotency_key = idempotency_key(&req)?;
    let hook: i64 = hook.parse().map_err(|_| unknown())?;
    let text = body.text.trim();
    let display = body.username.as_deref().map(str::trim).unwrap_or("");
    if display.chars().count() > MAX_DISPLAY_NAME || display.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "username must be up to {MAX_DISPLAY_NAME} characters, no control characters"
        )));
    }
    let pool = state.pool.clone();
    let found =
        web::block(move || Ok::<_, ApiError>(webhooks::find(&mut *pool.get()?, hook)?)).await??;
    // The secret is hashed and compared whatever was found, so timing does not tell live ids.
    let stored = found
        .as_ref()
        .map_or("", |(h, _, _)| h.secret_hash.as_str());
    let secret_ok = opaque::matches(&secret, stored);
    let Some((row, name, _)) =
        found.filter(|(h, _, disabled)| secret_ok && h.revoked_at.is_none() && !disabled)
    else {
        return Err(unknown());
    };
    if let Some((rule, decision)) = state
        .limits
        .check(Class::Webhook, &row.id.to_string())
        .await
    {
        if !decision.allowed {
            return Err(ApiError::limited(rule, decision, "posts to this webhook"));
        }
    }
    let body = if display.is_empty() || display == name {
        text.to_owned()
    } else {
        format!("{display}: {text}")
    };
    // As for any message (the prefix counts): not blank, no control characters, bounded.
    check_body(&body).map_err(ApiError::from_proto)?;
    let room = state
        .registry
        .send(veza_actors::registry::GetRoom(row.room_id))
        .await
        .map_err(|_| ApiError::unavailable())?
        .map_err(ApiError::from_proto)?;
    let posted = room
        .send(veza_actors::room::Post {
            author: UserRef {
                id: row.user_id,
                username: name,
            },
            kind: MessageKind::Bot,
            body,
            client_id: idempotency_key,
        })
        .await
        .map_err(|_| ApiError::unavailable())?
        .map_err(ApiError::from_proto)?;
    let answer = WebhookPosted {
        message: posted.message,
    };
    Ok(if posted.repeated {
        HttpResponse::Ok().json(answer)
    } else {
        HttpResponse::Created().json(answer)
    })
}

/// The `Idempotency-Key` header, if sent: 1-64 visible ASCII characters, else 400.
fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get("Idempotency-Key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key)
            if (1..=MAX_IDEMPOTENCY_KEY).contains(&key.len())
                && key.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::bad_request(format!(
            "Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        ))),
    }
}
