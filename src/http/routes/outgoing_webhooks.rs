//! Outgoing webhooks: a room's moderators point the room's events at their own HTTP service
//! (`POST /api/v2/rooms/{id}/outgoing-webhooks`, the signing secret shown once), list them with
//! their circuit state, read each one's delivery log, and revoke them.

use super::rooms::moderated;
use crate::auth::ClientInfo;
use crate::db::audit::{self, NewAuditEntry};
use crate::db::outgoing_webhooks::{self as hooks, OutgoingWebhook};
use crate::db::webhook_deliveries::{self as deliveries, Delivery};
use crate::db::webhook_outbox::{EVENTS, MESSAGE};
use crate::db::write_txn::write_transaction;
use crate::db::DbConnection;
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::extract::AuthUser;
use crate::state::AppState;
use crate::webhooks::address;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::{now_ms, MessageId, RoomId, UserId};

const MAX_NAME: usize = 64;
const MAX_URL: usize = 2_000;
const MAX_TRIGGERS: usize = 20;
const MAX_TRIGGER_CHARS: usize = 32;
const MAX_PAGE: i64 = 100;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, create, revoke, delivery_log, rotate_secret))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/rooms/{id}/outgoing-webhooks")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/rooms/{id}/outgoing-webhooks/{hook}").route(web::delete().to(revoke)))
    .service(
        web::resource("/rooms/{id}/outgoing-webhooks/{hook}/deliveries")
            .route(web::get().to(delivery_log)),
    )
    .service(
        web::resource("/rooms/{id}/outgoing-webhooks/{hook}/secret")
            .route(web::post().to(rotate_secret)),
    );
}

/// An outgoing webhook (never its secret) and its circuit.
#[derive(Serialize, ToSchema)]
pub struct OutgoingWebhookView {
    /// The hook's id (a decimal string).
    pub id: String,
    pub room: RoomId,
    pub name: String,
    /// Where the room's events are POSTed.
    pub url: String,
    /// The event types sent.
    pub events: Vec<String>,
    /// First words a message must start with to be sent (empty: every message).
    pub triggers: Vec<String>,
    pub created_at: i64,
    pub circuit: CircuitState,
    pub consecutive_failures: i64,
    /// While the circuit is `open`: when calls resume (else null).
    #[schema(required = true)]
    pub circuit_open_until: Option<i64>,
}

/// `closed` (calls go out), `open` (held back until `circuit_open_until`) or `half_open` (the
/// next call is a trial).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl OutgoingWebhookView {
    fn new(hook: &OutgoingWebhook, threshold: i64, now: i64) -> Self {
        let circuit = match hook.circuit_open_until {
            Some(until) if until > now => CircuitState::Open,
            _ if hook.consecutive_failures >= threshold => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        };
        OutgoingWebhookView {
            id: hook.id.to_string(),
            room: hook.room_id,
            name: hook.name.clone(),
            url: hook.url.clone(),
            events: hook.events.split_whitespace().map(str::to_owned).collect(),
            triggers: hook.trigger_words().map(str::to_owned).collect(),
            created_at: hook.created_at,
            circuit,
            consecutive_failures: hook.consecutive_failures,
            circuit_open_until: hook.circuit_open_until.filter(|u| *u > now),
        }
    }
}

/// An outgoing webhook with its signing secret.
#[derive(Serialize, ToSchema)]
pub struct OutgoingWebhookWithSecret {
    pub webhook: OutgoingWebhookView,
    /// The signing key of `X-Veza-Signature`: shown this once.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct OutgoingWebhookList {
    pub webhooks: Vec<OutgoingWebhookView>,
}

/// One event sent (or to be sent) to an outgoing webhook.
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryView {
    /// The delivery's id (a decimal string).
    pub id: String,
    pub event: String,
    pub message: MessageId,
    /// `pending`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    pub attempts: i64,
    /// The HTTP status of the last attempt, if the endpoint answered.
    #[schema(required = true)]
    pub last_status: Option<i64>,
    #[schema(required = true)]
    pub last_error: Option<String>,
    #[schema(required = true)]
    pub latency_ms: Option<i64>,
    pub created_at: i64,
    /// When a pending delivery is tried next (null once it is not pending).
    #[schema(required = true)]
    pub next_attempt_at: Option<i64>,
    #[schema(required = true)]
    pub finished_at: Option<i64>,
}

impl From<Delivery> for WebhookDeliveryView {
    fn from(d: Delivery) -> Self {
        WebhookDeliveryView {
            id: d.id.to_string(),
            event: d.event,
            message: d.message_id,
            next_attempt_at: (d.status == deliveries::PENDING).then_some(d.next_attempt_at),
            status: d.status,
            attempts: d.attempts,
            last_status: d.last_status,
            last_error: d.last_error,
            latency_ms: d.latency_ms,
            created_at: d.created_at,
            finished_at: d.finished_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryLog {
    /// Newest first.
    pub deliveries: Vec<WebhookDeliveryView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOutgoingWebhook {
    /// 1-64 characters.
    name: String,
    /// An `http(s)` URL the server may call (not a private or loopback address unless the
    /// configuration allows it).
    url: String,
    /// Event types (default: `["message"]`): `message`, `bot_message`, `system`,
    /// `message_updated`, `message_deleted`, `reaction`.
    events: Option<Vec<String>>,
    /// First words a message must start with to be sent (default: none, every message).
    triggers: Option<Vec<String>>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryPage {
    /// Only deliveries older than this delivery id.
    before: Option<String>,
    /// 1-100 (default 50).
    limit: Option<i64>,
}

/// The hook's events and triggers as stored (space-separated), checked.
fn filters(body: &NewOutgoingWebhook) -> Result<(String, String), ApiError> {
    let events = body
        .events
        .clone()
        .unwrap_or_else(|| vec![MESSAGE.to_owned()]);
    if events.is_empty() {
        return Err(ApiError::bad_request("events must name at least one event"));
    }
    if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown event {bad:?}; events are {}",
            EVENTS.join(", ")
        )));
    }
    let triggers = body.triggers.clone().unwrap_or_default();
    let bad_trigger = |t: &String| {
        t.is_empty()
            || t.chars().count() > MAX_TRIGGER_CHARS
            || t.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if triggers.len() > MAX_TRIGGERS || triggers.iter().any(bad_trigger) {
        return Err(ApiError::bad_request(format!(
            "triggers are up to {MAX_TRIGGERS} words of 1-{MAX_TRIGGER_CHARS} characters, no spaces"
        )));
    }
    let mut events: Vec<&str> = events.iter().map(String::as_str).collect();
    events.sort_unstable();
    events.dedup();
    let triggers: Vec<String> = triggers.iter().map(|t| t.to_lowercase()).collect();
    Ok((events.join(" "), triggers.join(" ")))
}

fn new_secret() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    format!("whsec_{}", hex::encode(raw))
}

/// Who did what to which hook, for its audit rows.
struct Audited<'a> {
    who: UserId,
    hook: i64,
    room: RoomId,
    client: &'a ClientInfo,
}

impl<'a> Audited<'a> {
    fn entry(
        &self,
        id: i64,
        action: &'a str,
        details: Option<String>,
        now: i64,
    ) -> NewAuditEntry<'a> {
        NewAuditEntry {
            id,
            actor_id: Some(self.who),
            action,
            target_type: Some("outgoing_webhook"),
            target_id: Some(self.hook.to_string()),
            room_id: Some(self.room),
            ip: self.client.ip.as_deref(),
            user_agent: self.client.user_agent.as_deref(),
            details,
            created_at: now,
        }
    }
}

/// A new outgoing webhook for the room (its moderators), with its signing secret (shown once);
/// 422 `url_refused` for a URL webhooks may not call.
#[utoipa::path(
    post,
    path = "/api/v2/rooms/{id}/outgoing-webhooks",
    tag = "outgoing_webhooks",
    params(("id" = RoomId, Path, description = "The room's id")),
    request_body = NewOutgoingWebhook,
    responses(
        (status = 201, description = "The hook and its secret (shown once)", body = OutgoingWebhookWithSecret),
        (status = 422, description = "`url_refused`: a URL webhooks may not call", body = crate::http::error::ErrorBody)
    ),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn create(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
    body: web::Json<NewOutgoingWebhook>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let body = body.into_inner();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "name must be 1-{MAX_NAME} characters"
        )));
    }
    if body.url.len() > MAX_URL {
        return Err(ApiError::bad_request(format!(
            "url is longer than {MAX_URL} bytes"
        )));
    }
    let (events, triggers) = filters(&body)?;
    let config = state.config.outgoing_webhooks.clone();
    let threshold = i64::from(config.circuit_failures);
    let (id, audit_id) = (state.ids.next_id(), state.ids.next_id());
    let secret = new_secret();
    let pool = state.pool.clone();
    let caller = who.clone();
    web::block(move || moderated(&mut *pool.get()?, room, &caller)).await??;
    // The lookup may take a while: no store connection is held meanwhile.
    let (policy, within) = (config.addresses(), Duration::from_millis(config.timeout_ms));
    let url = web::block(move || address::check(&body.url, policy, within)).await??;
    let now = now_ms() as i64;
    let hook = OutgoingWebhook {
        id,
        room_id: room,
        name,
        url: url.to_string(),
        secret_sealed: state.secrets.seal_for(id, secret.as_bytes()),
        events,
        triggers,
        created_by: who.user_id,
        created_at: now,
        revoked_at: None,
        consecutive_failures: 0,
        circuit_open_until: None,
        trial_until: None,
    };
    let view = OutgoingWebhookView::new(&hook, threshold, now);
    let client = client_info(&req);
    let pool = state.pool.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        let audited = Audited {
            who: who.user_id,
            hook: id,
            room,
            client: &client,
        };
        insert_hook(conn, &hook, config.max_per_room, &audited, audit_id)
    })
    .await??;
    Ok(HttpResponse::Created().json(OutgoingWebhookWithSecret {
        webhook: view,
        secret,
    }))
}

/// Stores a new hook (within the room's cap) and its audit row, in one transaction.
fn insert_hook(
    conn: &mut DbConnection,
    hook: &OutgoingWebhook,
    max_per_room: usize,
    audited: &Audited,
    audit_id: i64,
) -> Result<(), ApiError> {
    write_transaction(conn, |conn| {
        let live = hooks::live_in_rooms(conn, &[hook.room_id])?.len();
        if max_per_room > 0 && live >= max_per_room {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "quota_exceeded",
                format!("a room has at most {max_per_room} outgoing webhooks; revoke one first"),
            ));
        }
        hooks::insert(conn, hook)?;
        let details = serde_json::to_string(&CreatedDetails {
            name: &hook.name,
            url: &hook.url,
            events: &hook.events,
        })
        .ok();
        audit::record(
            conn,
            &audited.entry(
                audit_id,
                "outgoing_webhook.created",
                details,
                hook.created_at,
            ),
        )?;
        Ok(())
    })
}

/// The audit row's details of a new hook.
#[derive(Serialize)]
struct CreatedDetails<'a> {
    name: &'a str,
    url: &'a str,
    events: &'a str,
}

/// The room's live outgoing webhooks and their circuits (never their secrets), for its
/// moderators.
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/outgoing-webhooks",
    tag = "outgoing_webhooks",
    params(("id" = RoomId, Path, description = "The room's id")),
    responses((status = 200, description = "The live hooks", body = OutgoingWebhookList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn list(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<RoomId>,
) -> Result<HttpResponse, ApiError> {
    let room = path.into_inner();
    let threshold = i64::from(state.config.outgoing_webhooks.circuit_failures);
    let pool = state.pool.clone();
    let found = web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        Ok::<_, ApiError>(hooks::live_in_rooms(conn, &[room])?)
    })
    .await??;
    let now = now_ms() as i64;
    Ok(HttpResponse::Ok().json(OutgoingWebhookList {
        webhooks: found
            .iter()
            .map(|h| OutgoingWebhookView::new(h, threshold, now))
            .collect(),
    }))
}

fn hook_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found("no such webhook"))
}

/// A new signing secret for an outgoing webhook, shown this once; every call from now on
/// (retries of queued deliveries too) is signed with it.
#[utoipa::path(
    post,
    path = "/api/v2/rooms/{id}/outgoing-webhooks/{hook}/secret",
    tag = "outgoing_webhooks",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("hook" = String, Path, description = "The hook's id (a decimal string)")
    ),
    responses((status = 200, description = "The hook and its new secret (shown once)", body = OutgoingWebhookWithSecret)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn rotate_secret(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (room, hook) = path.into_inner();
    let hook = hook_id(&hook)?;
    let threshold = i64::from(state.config.outgoing_webhooks.circuit_failures);
    let secret = new_secret();
    let sealed = state.secrets.seal_for(hook, secret.as_bytes());
    let client = client_info(&req);
    let audit_id = state.ids.next_id();
    let pool = state.pool.clone();
    let rotated = web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        let now = now_ms() as i64;
        write_transaction(conn, |conn| {
            let current = match hooks::find(conn, hook)? {
                Some(h) if h.room_id == room && h.revoked_at.is_none() => h,
                _ => return Err(ApiError::not_found("no such webhook")),
            };
            hooks::replace_secret(conn, hook, &current.secret_sealed, &sealed)?;
            let audited = Audited {
                who: who.user_id,
                hook,
                room,
                client: &client,
            };
            audit::record(
                conn,
                &audited.entry(audit_id, "outgoing_webhook.secret_rotated", None, now),
            )?;
            Ok(OutgoingWebhookView::new(&current, threshold, now))
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(OutgoingWebhookWithSecret {
        webhook: rotated,
        secret,
    }))
}

/// Revoke an outgoing webhook: no further calls; queued deliveries are cancelled.
#[utoipa::path(
    delete,
    path = "/api/v2/rooms/{id}/outgoing-webhooks/{hook}",
    tag = "outgoing_webhooks",
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
    let hook = hook_id(&hook)?;
    let client = client_info(&req);
    let audit_id = state.ids.next_id();
    let pool = state.pool.clone();
    web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        let now = now_ms() as i64;
        write_transaction(conn, |conn| {
            if !hooks::revoke(conn, room, hook, now)? {
                return Err(ApiError::not_found("no such webhook"));
            }
            let cancelled = deliveries::cancel_pending(conn, hook, now)?;
            let details = Some(format!("{{\"cancelled\":{cancelled}}}"));
            audit::record(
                conn,
                &Audited {
                    who: who.user_id,
                    hook,
                    room,
                    client: &client,
                }
                .entry(audit_id, "outgoing_webhook.revoked", details, now),
            )?;
            Ok(())
        })
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// An outgoing webhook's delivery log, newest first (revoked hooks' logs too).
#[utoipa::path(
    get,
    path = "/api/v2/rooms/{id}/outgoing-webhooks/{hook}/deliveries",
    tag = "outgoing_webhooks",
    params(
        ("id" = RoomId, Path, description = "The room's id"),
        ("hook" = String, Path, description = "The hook's id (a decimal string)"),
        DeliveryPage
    ),
    responses((status = 200, description = "The deliveries, newest first", body = WebhookDeliveryLog)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn delivery_log(
    AuthUser(who): AuthUser,
    state: web::Data<AppState>,
    path: web::Path<(RoomId, String)>,
    page: web::Query<DeliveryPage>,
) -> Result<HttpResponse, ApiError> {
    let (room, hook) = path.into_inner();
    let hook = hook_id(&hook)?;
    let before = match page.before.as_deref() {
        None => None,
        Some(b) => Some(
            b.parse::<i64>()
                .map_err(|_| ApiError::bad_request("before must be a delivery id"))?,
        ),
    };
    let limit = page.limit.unwrap_or(50).clamp(1, MAX_PAGE);
    let pool = state.pool.clone();
    let log = web::block(move || {
        let conn = &mut *pool.get()?;
        moderated(conn, room, &who)?;
        match hooks::find(conn, hook)? {
            Some(h) if h.room_id == room => {}
            _ => return Err(ApiError::not_found("no such webhook")),
        }
        Ok::<_, ApiError>(deliveries::for_hook(conn, hook, before, limit)?)
    })
    .await??;
    Ok(HttpResponse::Ok().json(WebhookDeliveryLog {
        deliveries: log.into_iter().map(WebhookDeliveryView::from).collect(),
    }))
}
