//! Incoming webhooks: a room's moderators make a secret URL (`POST /api/v2/rooms/{id}/webhooks`,
//! shown once), list and revoke them; anyone holding the URL posts `{"text","username"?}` to
//! `POST /hooks/{id}/{secret}` and it appears in the room as a message of the hook's own account
//! (kind `bot`, named after the hook), committed and fanned out like any other.

use super::rooms::{moderated, room_id};
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
use veza_actors::ids::now_ms;
use veza_actors::model::{MessageKind, MessageView, RoomRole, UserRef};
use veza_actors::protocol::check_body;
use veza_actors::{RoomId, UserId};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi()]
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

#[derive(Serialize)]
struct HookView {
    id: String,
    room: String,
    name: String,
    created_at: i64,
}

impl HookView {
    fn new(hook: &IncomingWebhook, name: String) -> Self {
        HookView {
            id: hook.id.to_string(),
            room: hook.room_id.to_string(),
            name,
            created_at: hook.created_at,
        }
    }
}

#[derive(Serialize)]
struct Created {
    webhook: HookView,
    /// The path to post to, with its secret: shown this once.
    url: String,
}

#[derive(Serialize)]
struct HookList {
    webhooks: Vec<HookView>,
}

#[derive(Serialize)]
struct Posted {
    message: MessageView,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHook {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookPost {
    text: String,
    /// Shown before the text (`username: text`) when it is not the hook's own name; the whole
    /// body is bounded like any message (4,000 characters).
    username: Option<String>,
}

/// `POST /api/v2/rooms/{id}/webhooks` `{name}` -> 201 with the URL (secret shown once).
pub async fn create(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<NewHook>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&path)?;
    validation::username(&body.name)?;
    let client = client_info(&req);
    let pool = state.pool.clone();
    let (id, user) = (state.ids.next_id(), state.ids.next_id());
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
            Ok::<_, ApiError>(HookView::new(&hook, name.clone()))
        })
    })
    .await??;
    let url = format!("/hooks/{}/{secret}", created.id);
    Ok(HttpResponse::Created().json(Created {
        webhook: created,
        url,
    }))
}

/// `GET /api/v2/rooms/{id}/webhooks`: the live hooks (never their secrets).
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let room = room_id(&path)?;
    let pool = state.pool.clone();
    let hooks = web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        Ok::<_, ApiError>(webhooks::live_in_room(conn, room)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(HookList {
        webhooks: hooks
            .into_iter()
            .map(|(h, name)| HookView::new(&h, name))
            .collect(),
    }))
}

/// `DELETE /api/v2/rooms/{id}/webhooks/{hook}` -> 204: its URL stops working at once.
pub async fn revoke(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (room, hook) = path.into_inner();
    let room = room_id(&room)?;
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

/// `POST /hooks/{id}/{secret}` `{"text","username"?}` -> 201 `{message}` once it is durable (200
/// with the first post's message when an `Idempotency-Key` header repeats one already used). A
/// wrong secret, an unknown or a revoked hook (or one whose account was disabled) are all 404 (the secret is compared in constant
/// time); past `webhook_rate_per_minute` 429.
pub async fn post(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Json<HookPost>,
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
        .send(veza_actors::registry::GetRoom(RoomId(row.room_id)))
        .await
        .map_err(|_| ApiError::unavailable())?
        .map_err(ApiError::from_proto)?;
    let posted = room
        .send(veza_actors::room::Post {
            author: UserRef {
                id: UserId(row.user_id),
                username: name,
            },
            kind: MessageKind::Bot,
            body,
            client_id: idempotency_key,
        })
        .await
        .map_err(|_| ApiError::unavailable())?
        .map_err(ApiError::from_proto)?;
    let answer = Posted {
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
