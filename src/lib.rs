//! The Veza server library: configuration, storage, auth and the HTTP layer. `main.rs` is a thin CLI
//! over it, and the integration tests build the same app through [`http::app`].

pub mod analytics;
pub mod auth;
pub mod autodj;
pub mod backup;
pub mod cluster;
pub mod config;
pub mod db;
pub mod emoji;
pub mod http;
pub mod ingest;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod playlists;
pub mod schedules;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod tracks;
pub mod uploads;
pub mod webhooks;
