//! Routes, one file per feature.

pub mod admin;
pub mod analytics;
pub mod api_docs;
pub mod auth;
pub mod autodj;
pub mod blocks;
pub mod bots;
pub mod clips;
pub mod conversations;
pub mod effects;
pub mod emoji;
pub mod follows;
pub mod health;
pub mod hls;
pub mod live;
pub mod live_lyrics;
pub mod live_ws;
pub mod metrics;
pub mod notifications;
pub mod oauth;
pub mod outgoing_webhooks;
pub mod pins;
pub mod playlists;
pub mod production;
pub mod recordings;
pub mod room_commands;
pub mod room_view;
pub mod rooms;
pub mod schedules;
pub mod status;
pub mod streams;
pub mod threads;
pub mod track_lyrics;
pub mod tracks;
pub mod two_factor;
pub mod uploads;
pub mod users;
pub mod web;
pub mod webhooks;
pub mod ws;

use actix_web::web::ServiceConfig;

/// Routes outside `/api/v2`: the web page, probes, the WebSocket, webhooks, live audio and HLS.
pub fn configure_root(cfg: &mut ServiceConfig) {
    web::configure(cfg);
    api_docs::configure_root(cfg);
    health::configure(cfg);
    metrics::configure(cfg);
    ws::configure(cfg);
    emoji::configure_images(cfg);
    webhooks::configure_root(cfg);
    live_ws::configure(cfg);
    hls::configure(cfg);
    live::configure(cfg);
}

/// Routes under `/api/v2`, one `configure` per feature.
pub fn configure_api(cfg: &mut ServiceConfig) {
    api_docs::configure(cfg);
    emoji::configure(cfg);
    uploads::configure(cfg);
    tracks::configure(cfg);
    track_lyrics::configure(cfg);
    playlists::configure(cfg);
    status::configure(cfg);
    production::configure(cfg);
    auth::configure(cfg);
    two_factor::configure(cfg);
    oauth::configure(cfg);
    bots::configure(cfg);
    users::configure(cfg);
    admin::configure(cfg);
    rooms::configure(cfg);
    room_commands::configure(cfg);
    webhooks::configure(cfg);
    outgoing_webhooks::configure(cfg);
    conversations::configure(cfg);
    threads::configure(cfg);
    pins::configure(cfg);
    notifications::configure(cfg);
    blocks::configure(cfg);
    streams::configure(cfg);
    clips::configure(cfg);
    recordings::configure(cfg);
    effects::configure(cfg);
    schedules::configure(cfg);
    analytics::configure(cfg);
    follows::configure(cfg);
    autodj::configure(cfg);
    live_lyrics::configure(cfg);
}
