//! `GET /metrics`: Prometheus text format. Counts only (no names, no content); put it behind the
//! proxy's access rules if even counts are private. deploy/prometheus/METRICS.md lists every
//! family.

use crate::http::error::ApiError;
use crate::metrics::streams::LiveStream;
use crate::metrics::{gauge, process, streams};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use veza_actors::registry::LiveStreams;
use veza_actors::stream::Info;

/// This feature's part of the OpenAPI document (`http::openapi`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(metrics))]
pub struct Api;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(metrics));
}

/// Prometheus metrics of this node (deploy/prometheus/METRICS.md lists every family).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "metrics",
    responses((status = 200, description = "The Prometheus text exposition format", content_type = "text/plain; version=0.0.4"))
)]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = super::status::node_stats(&state).await?;
    let mut out = String::new();
    out.push_str(&format!(
        "# HELP veza_build_info The running version.\n# TYPE veza_build_info gauge\nveza_build_info{{version=\"{}\",store=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        state.pool.backend().as_str()
    ));
    gauge(
        &mut out,
        "veza_uptime_seconds",
        "Seconds since this node started.",
        state.started.elapsed().as_secs(),
    );
    gauge(
        &mut out,
        "veza_connections",
        "WebSocket connections on this node.",
        stats.connections,
    );
    gauge(
        &mut out,
        "veza_rooms",
        "Rooms active (with a running room actor) on this node.",
        stats.rooms,
    );
    gauge(
        &mut out,
        "veza_live_streams",
        "Streams on air on this node.",
        stats.live_streams,
    );
    let (open, idle) = state.pool.connections();
    gauge(
        &mut out,
        "veza_db_connections_open",
        "Database connections in the pool.",
        open,
    );
    gauge(
        &mut out,
        "veza_db_connections_idle",
        "Idle database connections in the pool.",
        idle,
    );
    gauge(
        &mut out,
        "veza_db_pool_max_connections",
        "The most connections the database pool opens.",
        state.pool.max_connections(),
    );
    if let Some(bus) = &state.cluster {
        bus.metrics
            .render(&mut out, veza_actors::bus::Bus::is_up(bus.as_ref()));
    }
    state.metrics.render(&mut out);
    veza_actors::metrics::metrics().render(&mut out);
    // /proc, the cgroup files and statvfs of the data directory (which may be on a network
    // file system) are read off the async workers.
    let data_dir = state.config.data_dir.clone();
    let machine = web::block(move || {
        let mut text = String::new();
        process::render(&mut text, &data_dir);
        text
    })
    .await
    .unwrap_or_default();
    out.push_str(&machine);
    streams::render(&mut out, &live_streams(&state).await);
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out))
}

/// What each live session on this node says about itself (a session that does not answer is
/// left out of this scrape).
async fn live_streams(state: &AppState) -> Vec<LiveStream> {
    let sessions = state.registry.send(LiveStreams).await.unwrap_or_default();
    let mut live = Vec::with_capacity(sessions.len());
    for (_mount, session) in sessions {
        if let Ok(info) = session.send(Info).await {
            live.push(LiveStream { info });
        }
    }
    live
}
