//! `GET /api/v2/production-validation` (`system.read`, admins): is this node ready for production?
//! One item per check, each with whether it passes and why; `ok` when all pass.

use crate::config::{secret, Environment};
use crate::db::migrations;
use crate::http::error::ApiError;
use crate::http::guard::{Authorized, SystemRead};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(validation))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/production-validation", web::get().to(validation));
}

/// Whether this node is ready for production: `ok` when every check passes.
#[derive(Serialize, ToSchema)]
pub struct ProductionValidation {
    pub ok: bool,
    pub checks: Vec<ProductionCheck>,
}

/// One readiness check.
#[derive(Serialize, ToSchema)]
pub struct ProductionCheck {
    /// `store_reachable`, `migrations_current`, `environment`, `jwt_secret`, `totp_key`, `redis`,
    /// `tls` or `rate_limits`.
    pub name: String,
    pub ok: bool,
    /// Why it passes or fails.
    pub detail: String,
}

fn item(name: &str, ok: bool, detail: impl Into<String>) -> ProductionCheck {
    ProductionCheck {
        name: name.to_owned(),
        ok,
        detail: detail.into(),
    }
}

/// Is this node ready for production? One item per check (needs `system.read`).
#[utoipa::path(
    get,
    path = "/api/v2/production-validation",
    tag = "production",
    responses((status = 200, description = "The checks (200 whether or not they pass)", body = ProductionValidation)),
    security(("bearer" = []), ("bot" = []))
)]
pub async fn validation(
    _operator: Authorized<SystemRead>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let config = state.config.clone();
    let pool = state.pool.clone();
    let store = web::block(move || -> Result<usize, String> {
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        conn.batch_execute("SELECT 1").map_err(|e| e.to_string())?;
        migrations::pending_count(&mut conn).map_err(|e| e.to_string())
    })
    .await?;
    let mut items = vec![];
    match &store {
        Ok(pending) => {
            items.push(item("store_reachable", true, state.pool.backend().as_str()));
            items.push(item(
                "migrations_current",
                *pending == 0,
                format!("{pending} pending"),
            ));
        }
        Err(e) => {
            items.push(item("store_reachable", false, e.clone()));
            items.push(item("migrations_current", false, "store unreachable"));
        }
    }
    items.push(item(
        "environment",
        config.env == Environment::Production,
        match config.env {
            Environment::Production => "VEZA_ENV=production",
            Environment::Development => "VEZA_ENV=development: weak secrets are allowed",
        },
    ));
    let secret = match (
        &config.jwt_secret,
        secret::check_production_secret(config.jwt_secret.as_deref()),
    ) {
        (None, _) => item(
            "jwt_secret",
            false,
            "not set: the development secret in DATA_DIR is in use",
        ),
        (Some(_), Err(e)) => item("jwt_secret", false, e.to_string()),
        (Some(_), Ok(())) => item("jwt_secret", true, "set, strong"),
    };
    items.push(secret);
    items.push(item(
        "totp_key",
        config.totp_key.is_some(),
        if config.totp_key.is_some() {
            "set"
        } else {
            "not set: TOTP secrets are under a key derived from jwt_secret, so rotating it breaks 2FA"
        },
    ));
    items.push(
        match (&config.redis_url, state.limits.ping_shared_store().await) {
            (None, _) => item("redis", true, "not configured (single node)"),
            (Some(_), Some(Ok(()))) => item("redis", true, "reachable"),
            (Some(_), Some(Err(e))) => item("redis", false, format!("unreachable: {e}")),
            (Some(_), None) => item("redis", false, "configured but not connected"),
        },
    );
    let tls = config.tls_cert.is_some() || config.behind_tls_proxy;
    items.push(item(
        "tls",
        tls,
        match (config.tls_cert.is_some(), config.behind_tls_proxy) {
            (true, _) => "built-in TLS 1.3",
            (false, true) => "behind a TLS proxy (behind_tls_proxy)",
            _ => "neither tls_cert nor behind_tls_proxy is set",
        },
    ));
    let limits = [
        ("auth_rate_per_minute", config.auth_rate_per_minute),
        ("ip_rate_per_minute", config.ip_rate_per_minute),
        ("user_rate_per_minute", config.user_rate_per_minute),
        ("write_rate_per_minute", config.write_rate_per_minute),
    ];
    let off: Vec<_> = limits
        .iter()
        .filter(|(_, v)| *v == 0)
        .map(|(k, _)| *k)
        .collect();
    items.push(item(
        "rate_limits",
        off.is_empty(),
        if off.is_empty() {
            "all on".to_owned()
        } else {
            format!("off: {}", off.join(", "))
        },
    ));
    let ok = items.iter().all(|i| i.ok);
    Ok(HttpResponse::Ok().json(ProductionValidation { ok, checks: items }))
}
