//! `/api/v2/admin/...`: users (list/search, disable/enable, change role, revoke sessions; needs
//! `users.manage`) and the audit log (filters and paging; needs `audit.read`). Every change is
//! audited with the admin, the target, IP and user agent.

use crate::auth::Role;
use crate::db::audit::{self, AuditFilter, NewAuditEntry};
use crate::db::{sessions, two_factor, users, DbError};
use crate::http::client_info::client_info;
use crate::http::error::ApiError;
use crate::http::guard::{AuditRead, Authorized, UsersManage};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use veza_actors::ids::{now_ms, RoomId, UserId};

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    users,
    disable,
    enable,
    set_role,
    revoke_sessions,
    reset_two_factor,
    audit
))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/users").route(web::get().to(users)))
        .service(web::resource("/admin/users/{id}/disable").route(web::post().to(disable)))
        .service(web::resource("/admin/users/{id}/enable").route(web::post().to(enable)))
        .service(web::resource("/admin/users/{id}/role").route(web::put().to(set_role)))
        .service(
            web::resource("/admin/users/{id}/revoke-sessions")
                .route(web::post().to(revoke_sessions)),
        )
        .service(
            web::resource("/admin/users/{id}/reset-2fa").route(web::post().to(reset_two_factor)),
        )
        .service(web::resource("/admin/audit").route(web::get().to(audit)));
}

#[derive(Deserialize, IntoParams)]
pub struct UserQuery {
    /// Part of a username (any case).
    q: Option<String>,
    /// 1-200, 50 by default.
    limit: Option<i64>,
    offset: Option<i64>,
}

/// A user account as admins see it.
#[derive(Serialize, ToSchema)]
pub struct AdminUserView {
    pub id: UserId,
    pub username: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(value_type = Role)]
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct AdminUserList {
    pub users: Vec<AdminUserView>,
    /// The `offset` of the next page; null on the last one.
    #[schema(required = true)]
    pub next_offset: Option<i64>,
}

/// A user's new role.
#[derive(Serialize, ToSchema)]
pub struct RoleChanged {
    pub id: UserId,
    pub role: Role,
}

/// A user's logins were ended.
#[derive(Serialize, ToSchema)]
pub struct SessionsRevoked {
    /// How many logins were ended.
    pub revoked: usize,
}

/// An audit log entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: String,
    /// Who acted; null for the system.
    #[schema(required = true)]
    pub actor_id: Option<UserId>,
    /// What happened, e.g. `admin.user_disabled`.
    pub action: String,
    #[schema(required = true)]
    pub target_type: Option<String>,
    #[schema(required = true)]
    pub target_id: Option<String>,
    #[schema(required = true)]
    pub room_id: Option<RoomId>,
    #[schema(required = true)]
    pub ip: Option<String>,
    #[schema(required = true)]
    pub user_agent: Option<String>,
    /// Action-specific details.
    #[schema(required = true)]
    pub details: Option<Value>,
    pub created_at: i64,
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// The `before` of the next (older) page; null on the last one.
    #[schema(required = true)]
    pub next_before: Option<String>,
}

/// `GET /api/v2/admin/users?q=&limit=&offset=`.
#[utoipa::path(
    get,
    path = "/api/v2/admin/users",
    tag = "admin",
    params(UserQuery),
    responses((status = 200, description = "A page of users", body = AdminUserList)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn users(
    _admin: Authorized<UsersManage>,
    state: web::Data<AppState>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let offset = query.offset.unwrap_or(0).clamp(0, i64::from(i32::MAX));
    let pool = state.pool.clone();
    let found =
        web::block(move || users::search(&mut *pool.get()?, query.q.as_deref(), limit, offset))
            .await??;
    // A huge offset finds nothing, but SQLite wraps LIMIT + OFFSET past i64: never add past it.
    let next = (found.len() as i64 == limit).then(|| offset.saturating_add(limit));
    let users = found
        .into_iter()
        .map(|u| AdminUserView {
            id: u.id,
            username: u.username,
            email: u.email,
            role: u.role,
            disabled: u.disabled,
            created_at: u.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AdminUserList {
        users,
        next_offset: next,
    }))
}

/// Runs `change` on the target user and records `action` in the audit log, in one transaction.
async fn change_user(
    state: &AppState,
    req: &HttpRequest,
    admin: UserId,
    target: UserId,
    action: &'static str,
    details: Option<String>,
    change: impl FnOnce(&mut crate::db::DbConnection, i64) -> Result<bool, DbError> + Send + 'static,
) -> Result<(), ApiError> {
    let pool = state.pool.clone();
    let ids = state.ids.clone();
    let client = client_info(req);
    let found = web::block(move || {
        let conn = &mut *pool.get()?;
        conn.transaction(|conn| {
            let now = now_ms() as i64;
            if !change(conn, now)? {
                return Ok(false);
            }
            audit::record(
                conn,
                &NewAuditEntry {
                    id: ids.next_id(),
                    actor_id: Some(admin),
                    action,
                    target_type: Some("user"),
                    target_id: Some(target.to_string()),
                    ip: client.ip.as_deref(),
                    user_agent: client.user_agent.as_deref(),
                    details,
                    created_at: now,
                    ..Default::default()
                },
            )?;
            Ok::<_, DbError>(true)
        })
    })
    .await??;
    if found {
        Ok(())
    } else {
        Err(ApiError::not_found("no such user"))
    }
}

/// Every socket of `user`, closed with `reason`.
fn revoke(user: UserId, reason: &str) -> veza_actors::revocation::Revoke {
    veza_actors::revocation::Revoke {
        user,
        scope: veza_actors::revocation::Scope::All,
        reason: reason.to_owned(),
    }
}

async fn set_disabled(
    admin: UserId,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<UserId>,
    disabled: bool,
) -> Result<HttpResponse, ApiError> {
    let target = path.into_inner();
    if target == admin {
        return Err(ApiError::invalid(
            "you cannot disable or enable your own account",
        ));
    }
    let action = if disabled {
        "admin.user_disabled"
    } else {
        "admin.user_enabled"
    };
    change_user(
        &state,
        &req,
        admin,
        target,
        action,
        None,
        move |conn, now| users::set_disabled(conn, target, disabled, now),
    )
    .await?;
    if disabled {
        state.revoke(revoke(target, "the account was disabled"));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v2/admin/users/{id}/disable`: the account's tokens stop working at once.
#[utoipa::path(
    post,
    path = "/api/v2/admin/users/{id}/disable",
    tag = "admin",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 204, description = "Disabled; its sockets closed")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn disable(
    Authorized(admin, _): Authorized<UsersManage>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    set_disabled(admin.user_id, state, req, path, true).await
}

/// `POST /api/v2/admin/users/{id}/enable`.
#[utoipa::path(
    post,
    path = "/api/v2/admin/users/{id}/enable",
    tag = "admin",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 204, description = "Enabled")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn enable(
    Authorized(admin, _): Authorized<UsersManage>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    set_disabled(admin.user_id, state, req, path, false).await
}

#[derive(Deserialize, ToSchema)]
#[schema(as = RoleChangeBody)]
pub struct RoleBody {
    /// `admin`, `moderator`, `broadcaster`, `user` or `bot` (anything else is a 422).
    role: String,
}

/// `PUT /api/v2/admin/users/{id}/role` `{"role":"moderator"}`: applies to the next request.
#[utoipa::path(
    put,
    path = "/api/v2/admin/users/{id}/role",
    tag = "admin",
    params(("id" = UserId, Path, description = "The user's id")),
    request_body = RoleBody,
    responses((status = 200, description = "The new role; the user's sockets reconnect with it", body = RoleChanged)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn set_role(
    Authorized(admin, _): Authorized<UsersManage>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<UserId>,
    body: web::Json<RoleBody>,
) -> Result<HttpResponse, ApiError> {
    let target = path.into_inner();
    let role: Role = body.role.parse().map_err(ApiError::invalid)?;
    if target == admin.user_id {
        return Err(ApiError::invalid("you cannot change your own role"));
    }
    let details = json!({"role": role.as_str()}).to_string();
    change_user(
        &state,
        &req,
        admin.user_id,
        target,
        "admin.role_changed",
        Some(details),
        move |conn, now| users::set_role(conn, target, role.as_str(), now),
    )
    .await?;
    // Sockets hold the permissions they were opened with: they reconnect with the new ones.
    state.revoke(revoke(target, veza_actors::revocation::ROLE_CHANGED));
    Ok(HttpResponse::Ok().json(RoleChanged { id: target, role }))
}

/// `POST /api/v2/admin/users/{id}/revoke-sessions`: every login of the user ends now.
#[utoipa::path(
    post,
    path = "/api/v2/admin/users/{id}/revoke-sessions",
    tag = "admin",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 200, description = "Ended; the user's sockets closed", body = SessionsRevoked)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn revoke_sessions(
    Authorized(admin, _): Authorized<UsersManage>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let target = path.into_inner();
    let revoked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = revoked.clone();
    change_user(
        &state,
        &req,
        admin.user_id,
        target,
        "admin.sessions_revoked",
        None,
        move |conn, now| {
            if users::find_by_id(conn, target)?.is_none() {
                return Ok(false);
            }
            let n = sessions::revoke_all_for_user(conn, target, now, "revoked by an admin")?;
            count.store(n, std::sync::atomic::Ordering::Relaxed);
            Ok(true)
        },
    )
    .await?;
    state.revoke(revoke(target, "your sessions were ended by an admin"));
    Ok(HttpResponse::Ok().json(SessionsRevoked {
        revoked: revoked.load(std::sync::atomic::Ordering::Relaxed),
    }))
}

/// `POST /api/v2/admin/users/{id}/reset-2fa`: turns a user's two-factor login off (a lost
/// phone and no backup codes); they log in with the password and may enrol again.
#[utoipa::path(
    post,
    path = "/api/v2/admin/users/{id}/reset-2fa",
    tag = "admin",
    params(("id" = UserId, Path, description = "The user's id")),
    responses((status = 204, description = "Two-factor login is off for the user")),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn reset_two_factor(
    Authorized(admin, _): Authorized<UsersManage>,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    let target = path.into_inner();
    change_user(
        &state,
        &req,
        admin.user_id,
        target,
        "admin.2fa_reset",
        None,
        move |conn, now| {
            if users::find_by_id(conn, target)?.is_none() {
                return Ok(false);
            }
            two_factor::disable(conn, target, now)?;
            Ok(true)
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this action, e.g. `admin.user_disabled`.
    action: Option<String>,
    /// Only what this user did (an id; anything else is a 422).
    actor_id: Option<String>,
    /// Only what was done to this target.
    target_id: Option<String>,
    /// From this time on (milliseconds since the epoch).
    since: Option<i64>,
    /// Up to this time.
    until: Option<i64>,
    /// Entries older than this entry id (the `next_before` of the previous page).
    before: Option<String>,
    /// 1-500, 50 by default.
    limit: Option<i64>,
}

/// `GET /api/v2/admin/audit?action=&actor_id=&target_id=&since=&until=&before=&limit=`, newest
/// first; `next_before` pages back.
#[utoipa::path(
    get,
    path = "/api/v2/admin/audit",
    tag = "admin",
    params(AuditQuery),
    responses((status = 200, description = "A page of the audit log", body = AuditPage)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn audit(
    _reader: Authorized<AuditRead>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    fn id<T: std::str::FromStr>(v: Option<String>, name: &str) -> Result<Option<T>, ApiError> {
        v.map(|s| {
            s.parse()
                .map_err(|_| ApiError::invalid(format!("{name} is not an id")))
        })
        .transpose()
    }
    let filter = AuditFilter {
        action: q.action.filter(|a| !a.is_empty()),
        actor_id: id(q.actor_id, "actor_id")?,
        target_id: q.target_id.filter(|t| !t.is_empty()),
        since: q.since,
        until: q.until,
        before: id(q.before, "before")?,
        limit: q.limit.unwrap_or(50).clamp(1, 500),
    };
    let limit = filter.limit;
    let pool = state.pool.clone();
    let entries = web::block(move || audit::query(&mut *pool.get()?, &filter)).await??;
    let next = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id.to_string()))
        .flatten();
    let entries = entries
        .into_iter()
        .map(|e| AuditEntryView {
            id: e.id.to_string(),
            actor_id: e.actor_id,
            action: e.action,
            target_type: e.target_type,
            target_id: e.target_id,
            room_id: e.room_id,
            ip: e.ip,
            user_agent: e.user_agent,
            details: e
                .details
                .and_then(|d| serde_json::from_str::<Value>(&d).ok()),
            created_at: e.created_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries,
        next_before: next,
    }))
}
