//! What every handler (HTTP routes and the ingest listeners) can reach: the config, the store, the
//! auth service, the registry actor and the cluster bus.

use crate::auth::AuthService;
use crate::config::Config;
use crate::db::DbPool;
use actix::Addr;
use std::sync::Arc;
use std::time::Instant;
use veza_actors::connection::ConnectionEnv;
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
    /// What every WebSocket connection of this server shares (one allocation, not one each).
    pub connections: Arc<ConnectionEnv>,
    pub started: Instant,
    /// Rate limits (in memory, or shared through Redis).
    pub limits: Arc<crate::limits::Limits>,
    pub log: slog::Logger,
    /// Request counters for `/metrics`.
    pub metrics: Arc<crate::metrics::HttpMetrics>,
    /// The cluster bus (Redis), if this node is part of one.
    pub cluster: Option<Arc<crate::cluster::RedisBus>>,
    /// Which node serves each live stream (with Redis).
    pub leases: Option<Arc<crate::cluster::StreamLeases>>,
    /// The bounded pool clips are cut on (and their expiry).
    pub clips: veza_actors::stream::clip_pool::ClipPool,
    /// The node's outgoing webhook dispatcher.
    pub webhooks: crate::webhooks::Dispatcher,
    /// Seals secrets kept in the store (outgoing webhooks' signing secrets), bound to their row.
    pub secrets: crate::auth::totp::SecretBox,
    /// Attachments: the blob store, limits, and the node's sweeper.
    pub uploads: crate::uploads::Uploads,
    /// The track library: its blob store and limits.
    pub tracks: crate::tracks::Tracks,
    /// The AutoDJ programmes on air on this node.
    pub programmes: actix::Addr<crate::autodj::programmes::Programmes>,
    /// Listener sessions and HLS polls for stream analytics (the node's session log).
    pub analytics: crate::analytics::Analytics,
    /// Each user's open WebSockets on this node (`max_websockets_per_user`).
    pub websockets: Arc<crate::limits::held::Gate>,
}

impl AppState {
    /// Closes the sockets a revocation covers, on this node and every other.
    pub fn revoke(&self, revoke: veza_actors::revocation::Revoke) {
        // Out of this node's session cache before the caller answers.
        self.auth.sessions.forget(Some(&revoke));
        self.registry.do_send(revoke);
    }

    /// The node serving `mount` if it is live on another node.
    pub async fn stream_elsewhere(&self, mount: &str) -> Option<crate::cluster::Owner> {
        self.leases.as_ref()?.other_owner(mount).await
    }

    /// `"off"` (no Redis configured), `"up"` or `"down"`.
    pub fn redis_state(&self) -> &'static str {
        match &self.cluster {
            None => "off",
            Some(bus) if veza_actors::bus::Bus::is_up(bus.as_ref()) => "up",
            Some(_) => "down",
        }
    }
}
