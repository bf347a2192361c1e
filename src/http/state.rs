//! What every handler can reach: the config, the store, the auth service and the registry actor.

use crate::auth::AuthService;
use crate::config::Config;
use crate::db::DbPool;
use actix::Addr;
use std::sync::Arc;
use std::time::Instant;
use veza_actors::connection::ConnectionConfig;
use veza_actors::persistence::Persistence;
use veza_actors::reader::Readers;
use veza_actors::{IdGenerator, Registry};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: DbPool,
    pub auth: Arc<AuthService>,
    pub registry: Addr<Registry>,
    /// The node's one id generator: ids minted anywhere else could collide.
    pub ids: Arc<IdGenerator>,
    /// The chat actors' persistence pipeline (drained on shutdown) and reader pool.
    pub persistence: Persistence,
    pub readers: Readers,
    pub connection_config: Arc<ConnectionConfig>,
    pub started: Instant,
    /// Rate limits (in memory, or shared through Redis).
    pub limits: Arc<crate::limits::Limits>,
    pub log: slog::Logger,
    /// Request counters for `/metrics`.
    pub metrics: Arc<super::metrics::HttpMetrics>,
}
