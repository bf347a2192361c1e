//! Starting the server: open and migrate the store, resolve the signing secret, start the actors,
//! then serve HTTP until SIGTERM/SIGINT (actix-web stops accepting, lets requests finish within
//! `shutdown_timeout_s`, then exits).

use crate::auth::{AuthService, JwtKeys};
use crate::cluster::{Owner, RedisBus, StreamLeases};
use crate::config::secret::{load_or_create_dev_secret, DevSecret};
use crate::config::{Config, Environment};
use crate::db::chat_store::DieselChatStore;
use crate::db::{migrations, Backend, DbError, DbPool};
use crate::http;
use crate::state::AppState;
use actix::{Arbiter, Supervisor};
use slog::{info, warn, Logger};
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;
use veza_actors::bus::{NoBus, SharedBus};
use veza_actors::connection::{ConnectionConfig, ConnectionEnv};
use veza_actors::persistence::Persistence;
use veza_actors::reader::Readers;
use veza_actors::registry::CloseAll;
use veza_actors::registry::RoomDeps;
use veza_actors::room::RoomConfig;
use veza_actors::store::{ChatStore, StoreFactory};
use veza_actors::stream::clip_pool::{ClipExpiry, ClipPool};
use veza_actors::stream::hls::HlsConfig;
use veza_actors::stream::recording::RecordingConfig;
use veza_actors::stream::StreamConfig;
use veza_actors::{IdGenerator, Registry};

#[derive(Debug, Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot create or read the JWT secret in {path}: {source}")]
    Secret {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot use Redis for rate limits: {0}")]
    Redis(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Opens the pool and brings the schema up to date. Blocking: run before serving or on a blocking
/// thread.
pub fn open_store(config: &Config, log: &Logger) -> Result<DbPool, DbError> {
    let pool = DbPool::connect(
        &config.database_url,
        config.db_pool_size,
        Duration::from_secs(10),
    )?;
    let applied = migrations::run(&mut *pool.get()?)?;
    info!(log, "store ready"; "backend" => pool.backend().as_str(), "migrations_applied" => applied.len());
    Ok(pool)
}

/// The configured secret, or in development the one kept in the data directory.
pub fn jwt_secret(config: &Config, log: &Logger) -> Result<String, StartupError> {
    if let Some(secret) = &config.jwt_secret {
        if config.env == Environment::Development {
            if let Err(e) = crate::config::secret::check_production_secret(Some(secret)) {
                warn!(log, "production would refuse this secret"; "reason" => e.to_string());
            }
        }
        return Ok(secret.clone());
    }
    let secret =
        load_or_create_dev_secret(&config.data_dir).map_err(|source| StartupError::Secret {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    Ok(match secret {
        DevSecret::Created(s) => {
            warn!(log, "no VEZA_JWT_SECRET: generated a development secret"; "file" => config.data_dir.join("jwt_secret").display().to_string());
            s
        }
        DevSecret::Loaded(s) => {
            warn!(log, "no VEZA_JWT_SECRET: using the development secret"; "file" => config.data_dir.join("jwt_secret").display().to_string());
            s
        }
    })
}

/// Everything the handlers need, with the actors started. Must run inside an actix system.
pub fn build_state(config: Config, pool: DbPool, secret: &str, log: Logger) -> AppState {
    let ids = Arc::new(IdGenerator::new(config.node_id));
    let auth = AuthService::new(
        pool.clone(),
        JwtKeys::new(secret.as_bytes()),
        ids.clone(),
        config.access_token_ttl_s,
        config.refresh_token_ttl_s,
        totp_secrets(&config, secret),
    )
    .with_oauth(crate::auth::oauth::OAuthClients::new(&config))
    .with_reauth_window(Duration::from_secs(config.reauth_window_s))
    .with_refresh_grace(Duration::from_millis(config.refresh_grace_ms))
    .with_audit_key(secret.as_bytes());
    let webhooks = crate::webhooks::Dispatcher::start(
        pool.clone(),
        totp_secrets(&config, secret),
        &config.outgoing_webhooks,
        log.clone(),
    );
    let factory: StoreFactory = {
        let pool = pool.clone();
        let ids = ids.clone();
        let waker = webhooks.waker();
        let upload_grace = config.uploads.grace();
        Arc::new(move || {
            Box::new(
                DieselChatStore::new(pool.clone(), ids.clone())
                    .with_outbox_waker(waker.clone())
                    .with_upload_grace(upload_grace),
            ) as Box<dyn ChatStore>
        })
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let shards = match (config.persist_shards, pool.backend()) {
        (0, Backend::Sqlite) => 1,
        (0, Backend::Postgres) => 2,
        (n, _) => n,
    };
    let persistence = Persistence::start(
        factory.clone(),
        shards,
        config.persist_max_batch,
        log.clone(),
    );
    let readers = Readers::start(factory, cores.max(2));
    let room_config = Arc::new(RoomConfig {
        ring_size: config.room_ring_size,
        idle_after: Duration::from_secs(config.room_idle_s),
        presence_list_max: config.presence_list_max,
        ..RoomConfig::default()
    });
    let arbiters = (0..cores).map(|_| Arbiter::new().handle()).collect();
    let cluster = cluster_bus(&config, &log);
    let auth = Arc::new(auth);
    let on_revoke: veza_actors::revocation::RevocationHook = {
        let auth = Arc::downgrade(&auth);
        Arc::new(move |revoke| {
            if let Some(auth) = auth.upgrade() {
                auth.sessions.forget(revoke);
            }
        })
    };
    let bus: SharedBus = match &cluster {
        Some((bus, _)) => bus.clone(),
        None => Arc::new(NoBus),
    };
    let deps = RoomDeps {
        persistence: persistence.clone(),
        readers: readers.clone(),
        config: room_config,
        arbiters,
        streams: Arc::new(StreamConfig {
            ladder: config.stream_ladder.clone(),
            burst_ms: config.stream_burst_ms,
            hls: Some(HlsConfig {
                root: config.data_dir.join("hls"),
                segment_seconds: config.hls_segment_seconds,
                dvr_seconds: config.hls_dvr_seconds,
            }),
            recording: recording_config(&config),
            ..StreamConfig::default()
        }),
        bus,
        node: config.node_id,
        on_revoke: Some(on_revoke),
        log: log.clone(),
    };
    let connection_config = Arc::new(ConnectionConfig {
        heartbeat: Duration::from_millis(config.ws_heartbeat_ms),
        client_timeout: Duration::from_millis(config.ws_timeout_ms),
        send_rate: f64::from(config.ws_send_rate),
        send_burst: f64::from(config.ws_send_burst),
        bot_send_rate: f64::from(config.ws_bot_send_rate),
        bot_send_burst: f64::from(config.ws_bot_send_burst),
        // The flood guard on all frames scales with the send limit it must not undercut.
        frame_rate: (f64::from(config.ws_send_rate) * 5.0).max(100.0),
        frame_burst: (f64::from(config.ws_send_burst) * 5.0).max(200.0),
        outbound_queue: config.ws_outbound_queue,
        ..ConnectionConfig::default()
    });
    let registry = Supervisor::start(move |_| Registry::new(deps));
    let cluster = cluster.map(|(bus, client)| {
        bus.start(client, registry.clone(), log.clone());
        bus
    });
    auth.revocations.connect(registry.clone());
    let leases = stream_leases(&config, &log);
    let clips = clip_pool(&config, &log);
    let uploads = crate::uploads::Uploads::start(&config, pool.clone(), log.clone());
    crate::schedules::ticker::start(
        pool.clone(),
        registry.clone(),
        crate::schedules::ticker::TickerConfig {
            every: config.schedules.every(),
            grace: config.schedules.grace(),
            node: config.node_id,
        },
        log.clone(),
    );
    let programmes = crate::autodj::programmes::Programmes::start(registry.clone(), log.clone());
    let analytics = crate::analytics::Analytics::start(
        pool.clone(),
        ids.clone(),
        &config.analytics,
        config.node_id,
        log.clone(),
    );
    AppState {
        programmes,
        clips,
        analytics,
        webhooks,
        uploads,
        tracks: crate::tracks::Tracks::new(&config),
        secrets: totp_secrets(&config, secret),
        websockets: Arc::new(crate::limits::held::Gate::new(
            usize::MAX,
            config.max_websockets_per_user,
        )),
        limits: Arc::new(crate::limits::Limits::new(&config, log.clone())),
        metrics: Arc::default(),
        config: Arc::new(config),
        pool,
        auth,
        registry: registry.clone(),
        cluster,
        leases,
        ids,
        persistence,
        connections: Arc::new(ConnectionEnv {
            registry: registry.clone(),
            readers: readers.clone(),
            config: connection_config,
            log: log.clone(),
        }),
        readers,
        started: Instant::now(),
        log,
    }
}

/// TOTP secrets stored before they were bound to their users are sealed again, bound (a no-op
/// once every row is; a failure is logged and leaves them readable as they are).
async fn bind_totp_secrets(state: &AppState, log: &Logger) {
    let auth = state.auth.clone();
    match actix_web::web::block(move || auth.bind_totp_secrets()).await {
        Ok(Ok(report)) if report.rekeyed > 0 || report.unreadable > 0 => {
            info!(log, "TOTP secrets bound to their users"; "bound" => report.rekeyed, "unreadable" => report.unreadable)
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            warn!(log, "could not bind TOTP secrets to their users"; "error" => e.to_string())
        }
        Err(e) => {
            warn!(log, "could not bind TOTP secrets to their users"; "error" => e.to_string())
        }
    }
}

/// The clip pool, sized by the config; clips expire under `data_dir/clips`.
fn clip_pool(config: &Config, log: &Logger) -> ClipPool {
    let expiry = ClipExpiry {
        root: config.data_dir.join("clips"),
        max_age: Duration::from_secs(config.clip_expire_seconds),
    };
    ClipPool::start(config.clip_workers, config.clip_queue, expiry, log.clone())
}

/// The Redis bus when `redis_url` is set (its tasks start once the registry exists).
fn cluster_bus(config: &Config, log: &Logger) -> Option<(Arc<RedisBus>, redis::Client)> {
    let url = config.redis_url.as_ref()?;
    match RedisBus::new(url, &config.redis_prefix) {
        Ok((bus, client)) => Some((Arc::new(bus), client)),
        Err(e) => {
            // Config validation opened the same URL; this is not expected.
            slog::error!(log, "Redis URL refused; running as a single node"; "error" => e.to_string());
            None
        }
    }
}

/// Stream leases when `redis_url` is set: this node is `node_id` at `base_url()`.
fn stream_leases(config: &Config, log: &Logger) -> Option<Arc<StreamLeases>> {
    let url = config.redis_url.as_ref()?;
    let me = Owner {
        id: config.node_id,
        url: config.base_url(),
    };
    match StreamLeases::new(url, &config.redis_prefix, me, log.clone()) {
        Ok(leases) => Some(Arc::new(leases)),
        Err(e) => {
            slog::error!(log, "Redis URL refused; stream leases off"; "error" => e.to_string());
            None
        }
    }
}

/// Runs `veza serve` to completion.
pub async fn serve(config: Config, log: Logger) -> Result<(), StartupError> {
    let (pool, secret) = {
        let config = config.clone();
        let log = log.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let pool = open_store(&config, &log)?;
            let secret = jwt_secret(&config, &log)?;
            // Recordings a previous run stopped processing half-way are finished now.
            if let Some(recording) = recording_config(&config) {
                veza_actors::stream::recording::resume_pending(&recording, &log);
            }
            Ok::<_, StartupError>((pool, secret))
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??
    };
    let bind = config.bind;
    let config_ingest = config.ingest_bind;
    let workers = config.workers;
    let shutdown = config.shutdown_timeout_s;
    let mut state = build_state(config, pool, &secret, log.clone());
    bind_totp_secrets(&state, &log).await;
    if let Some(url) = state.config.redis_url.clone() {
        state.limits = Arc::new(shared_limits(&state.config, &url, log.clone()).await?);
        info!(log, "rate limits shared through Redis");
    }
    let ingest = tokio::net::TcpListener::bind(config_ingest)
        .await
        .map_err(|source| StartupError::Bind {
            addr: config_ingest.to_string(),
            source,
        })?;
    info!(log, "ingest listening (Icecast source protocol)"; "addr" => config_ingest.to_string());
    actix_web::rt::spawn(crate::ingest::icecast::serve(ingest, state.clone()));
    actix_web::rt::spawn(crate::autodj::keeper::run(state.clone()));
    let registry = state.registry.clone();
    let persistence = state.persistence.clone();
    let tls = match (&state.config.tls_cert, &state.config.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    let https = tls.is_some();
    // actix counts connections per worker.
    let threads = if workers > 0 {
        workers
    } else {
        std::thread::available_parallelism().map_or(1, usize::from)
    };
    let settings = state.clone();
    let server = http_settings(
        actix_web::HttpServer::new(move || http::app(state.clone())),
        &settings,
        threads,
    )
    .shutdown_timeout(shutdown)
    .disable_signals();
    let bound = match tls {
        Some(tls) => server.bind_rustls_0_23(bind, tls),
        None => server.bind(bind),
    };
    let mut server = bound.map_err(|source| StartupError::Bind {
        addr: bind.to_string(),
        source,
    })?;
    if workers > 0 {
        server = server.workers(workers);
    }
    let server = server.run();
    let handle = server.handle();
    let shutdown_log = log.clone();
    actix_web::rt::spawn(async move {
        let signal = wait_for_signal().await;
        info!(shutdown_log, "shutting down"; "signal" => signal);
        // Stop accepting now; let HTTP requests in flight finish (up to shutdown_timeout_s).
        let stopping = actix_web::rt::spawn(handle.stop(true));
        // Tell every WebSocket client we are going away (1001), then make sure every write the
        // rooms handed to persistence is committed before the process exits.
        let closed = registry.send(CloseAll).await.unwrap_or(0);
        persistence.drain().await;
        info!(shutdown_log, "sockets closed and writes flushed"; "connections" => closed);
        let _server_already_stopped_is_fine = stopping.await;
    });
    info!(log, "listening"; "addr" => bind.to_string(), "tls" => https, "version" => env!("CARGO_PKG_VERSION"));
    server.await?;
    info!(log, "stopped");
    Ok(())
}

/// The main port's connection settings, for `veza serve` and the tests' servers alike: the total
/// cap (`http_max_connections`, which actix counts per worker, over `workers` of them), the
/// per-address cap (`http_max_per_ip`) and `TCP_NODELAY`. Call before binding.
pub fn http_settings<F, I, S, B>(
    server: actix_web::HttpServer<F, I, S, B>,
    state: &AppState,
    workers: usize,
) -> actix_web::HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let per_ip =
        http::peer_cap::PeerCap::new(state.config.http_max_per_ip, &state.config.trusted_proxies);
    server
        .max_connections(state.config.http_max_connections.div_ceil(workers.max(1)))
        .on_connect(move |conn, data| per_ip.on_connect(conn, data))
        // WebSocket frames are written as soon as they are queued, often a large one and its
        // `ack` in two writes: with Nagle on, the second waits for the client's delayed ACK (40 ms).
        .tcp_nodelay(true)
}

/// Resolves on SIGTERM or SIGINT, naming which.
async fn wait_for_signal() -> &'static str {
    use actix_web::rt::signal::ctrl_c;
    use actix_web::rt::signal::unix::{signal, SignalKind};
    use futures_util::future::{select, Either};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _interrupted_or_failed = ctrl_c().await;
        return "SIGINT";
    };
    let which = match select(std::pin::pin!(term.recv()), std::pin::pin!(ctrl_c())).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    };
    which
}

/// Where and how broadcasts are recorded; `None` when recordings are off.
pub fn recording_config(config: &Config) -> Option<RecordingConfig> {
    config.recordings.then(|| RecordingConfig {
        root: config.data_dir.join("recordings"),
        target_lufs: config.recording_target_lufs,
        silence_dbfs: config.recording_silence_dbfs,
        kbps: 192,
    })
}

/// The key TOTP secrets are encrypted with: `totp_key`, or one derived from the JWT secret.
pub fn totp_secrets(config: &Config, jwt_secret: &str) -> crate::auth::totp::SecretBox {
    secret_box(config.totp_key.as_deref(), jwt_secret)
}

/// A TOTP-secret key from 64 hex characters, or else derived from `jwt_secret`.
pub fn secret_box(key_hex: Option<&str>, jwt_secret: &str) -> crate::auth::totp::SecretBox {
    let key = key_hex.and_then(|hex| {
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        <[u8; 32]>::try_from(bytes?).ok()
    });
    match key {
        Some(key) => crate::auth::totp::SecretBox::new(&key),
        None => crate::auth::totp::SecretBox::derive(jwt_secret.as_bytes()),
    }
}

/// Rate limits kept in Redis, for every node of a cluster.
pub async fn shared_limits(
    config: &Config,
    url: &str,
    log: Logger,
) -> Result<crate::limits::Limits, StartupError> {
    crate::limits::Limits::new(config, log)
        .connect_redis(url, &config.redis_prefix)
        .await
        .map_err(StartupError::Redis)
}
