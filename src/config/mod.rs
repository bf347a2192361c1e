//! The one typed configuration, and where it comes from.
//!
//! Sources, weakest first: built-in defaults < an optional TOML file (`--config` / `VEZA_CONFIG`) <
//! environment variables (`VEZA_<KEY>`, the key upper-cased). Every source is reduced to key -> text,
//! then [`Config::from_values`] parses each key once, so an error always names the key and the source
//! it came from. The table in [`keys`] documents every option; `--help` and docs/configuration.md
//! print it.

pub mod analytics;
pub mod autodj;
pub mod keys;
pub mod oauth;
pub mod schedules;
pub mod secret;
pub mod tracks;
pub mod uploads;
pub mod webhooks;

use crate::db::pool::backend_of;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use thiserror::Error;

pub use keys::{ConfigKey, KEYS};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    ParseFile { path: String, message: String },
    #[error("unknown config key `{key}` in {source_name}")]
    UnknownKey { key: String, source_name: String },
    #[error("invalid value for `{key}` (from {source_name}): {message}")]
    Invalid {
        key: String,
        source_name: String,
        message: String,
    },
    #[error("`jwt_secret` (VEZA_JWT_SECRET): {0}")]
    Secret(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Everything the server can be told. See [`KEYS`] for what each field means and its default.
/// The encoding of exported spans: OTLP/HTTP's protobuf (the collectors' default) or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OtlpProtocol {
    Protobuf,
    Json,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub bind: SocketAddr,
    pub ingest_bind: SocketAddr,
    pub database_url: String,
    pub db_pool_size: u32,
    pub redis_url: Option<String>,
    /// OTLP/HTTP collector for traces (`telemetry`); `None`: no traces.
    pub otlp_endpoint: Option<String>,
    pub otlp_protocol: OtlpProtocol,
    /// Never printed: `Serialize` output goes through [`Config::redacted`].
    pub jwt_secret: Option<String>,
    pub env: Environment,
    pub data_dir: PathBuf,
    /// `None`: JSON, or the terminal format when stdout is a terminal.
    pub log_format: Option<LogFormat>,
    pub log_level: String,
    pub access_token_ttl_s: u64,
    pub refresh_token_ttl_s: u64,
    pub max_body_bytes: usize,
    pub workers: usize,
    pub shutdown_timeout_s: u64,
    pub node_id: u16,
    pub auth_rate_per_minute: u32,
    pub ip_rate_per_minute: u32,
    pub user_rate_per_minute: u32,
    pub write_rate_per_minute: u32,
    /// Prefix of Veza's keys in Redis.
    pub redis_prefix: String,
    /// Password hashes computed at once (0: one per core), and how many requests may wait.
    pub hash_concurrency: usize,
    pub hash_queue: usize,
    /// How long after a login account changes need no `current_password`.
    pub reauth_window_s: u64,
    pub ws_send_rate: u32,
    pub ws_send_burst: u32,
    pub ws_bot_send_rate: u32,
    pub ws_bot_send_burst: u32,
    pub ws_outbound_queue: usize,
    pub ws_heartbeat_ms: u64,
    pub ws_timeout_ms: u64,
    pub persist_shards: usize,
    pub persist_max_batch: usize,
    pub room_ring_size: usize,
    pub presence_list_max: usize,
    pub room_idle_s: u64,
    pub ingest_advertise: Option<String>,
    pub ingest_max_connections: usize,
    pub ingest_max_per_ip: usize,
    pub ingest_head_timeout_ms: u64,
    pub ingest_recheck_ms: u64,
    pub http_max_connections: usize,
    /// Connections one client address may hold on the main port.
    pub http_max_per_ip: usize,
    /// Bot accounts one user may own (0: no cap).
    pub max_bots_per_user: u64,
    /// REST requests per minute per bot.
    pub bot_rate_per_minute: u32,
    pub webhook_rate_per_minute: u32,
    pub media_rate_per_minute: u32,
    pub max_websockets_per_user: usize,
    pub refresh_grace_ms: u64,
    pub max_rooms_per_user: u64,
    pub max_group_members: usize,
    pub max_streams_per_user: u64,
    pub stream_ladder: Vec<veza_actors::stream::ladder::Variant>,
    pub stream_burst_ms: u64,
    pub streams_require_broadcaster: bool,
    pub hls_segment_seconds: u32,
    pub hls_dvr_seconds: u32,
    pub clip_max_seconds: u32,
    pub clip_workers: usize,
    pub clip_queue: usize,
    pub clips_per_user_hour: u32,
    pub clip_expire_seconds: u64,
    pub recordings: bool,
    pub recording_target_lufs: f64,
    pub recording_silence_dbfs: f64,
    /// Origins allowed to call the API from a browser (CORS); empty: same origin only.
    pub cors_origins: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Served over TLS by a proxy in front: send HSTS.
    pub behind_tls_proxy: bool,
    /// 32-byte key (64 hex characters) that encrypts TOTP secrets at rest; unset: derived from
    /// the JWT secret. Never printed.
    pub totp_key: Option<String>,
    /// PEM certificate chain and private key: with both, the HTTP port speaks TLS 1.3.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Base URL browsers reach Veza at (OAuth redirect URIs); `None`: `http://{bind}`.
    pub public_url: Option<String>,
    /// OAuth login providers that are switched on (their client id is set).
    pub oauth: Vec<oauth::OAuthProvider>,
    pub outgoing_webhooks: webhooks::OutgoingWebhooks,
    /// Attachments: size limit, per-user quota, grace after a message's deletion.
    pub uploads: uploads::Uploads,
    /// The track library: size limit of one track, per-user quota.
    pub tracks: tracks::Tracks,
    /// The schedule ticker: its period and how late an occurrence may be announced.
    pub schedules: schedules::Schedules,
    pub autodj: autodj::AutoDj,
    /// Stream analytics: batch writes of listener sessions, HLS session timeout, retention.
    pub analytics: analytics::Analytics,
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
struct Sourced {
    value: String,
    source_name: String,
}

impl Config {
    /// Loads the configuration from an optional file and the given environment lookup.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut values: BTreeMap<&'static str, Sourced> = BTreeMap::new();
        for key in KEYS {
            if let Some(default) = key.default {
                values.insert(
                    key.name,
                    Sourced {
                        value: default.to_owned(),
                        source_name: "the default".to_owned(),
                    },
                );
            }
        }
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env("VEZA_CONFIG").map(PathBuf::from));
        if let Some(path) = file {
            for (name, value) in read_toml(&path)? {
                values.insert(
                    name,
                    Sourced {
                        value,
                        source_name: format!("{}", path.display()),
                    },
                );
            }
        }
        for key in KEYS {
            let var = key.env_var();
            if let Some(value) = env(&var) {
                values.insert(
                    key.name,
                    Sourced {
                        value,
                        source_name: var,
                    },
                );
            }
        }
        Self::from_values(&values)
    }

    /// Loads from the process environment.
    pub fn from_env(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(file, |name| std::env::var(name).ok())
    }

    fn from_values(values: &BTreeMap<&'static str, Sourced>) -> Result<Self, ConfigError> {
        let get = |key: &'static str| values.get(key);
        let config = Config {
            bind: parse(get("bind"), "bind")?,
            ingest_bind: parse(get("ingest_bind"), "ingest_bind")?,
            database_url: text(get("database_url"), "database_url")?,
            db_pool_size: parse_range(get("db_pool_size"), "db_pool_size", 1, 1024)?,
            redis_url: get("redis_url")
                .map(|s| s.value.clone())
                .filter(|v| !v.is_empty()),
            otlp_endpoint: get("otlp_endpoint")
                .map(|s| s.value.trim_end_matches('/').to_owned())
                .filter(|v| !v.is_empty()),
            otlp_protocol: choose(
                get("otlp_protocol"),
                "otlp_protocol",
                &[
                    ("protobuf", OtlpProtocol::Protobuf),
                    ("json", OtlpProtocol::Json),
                ],
            )?,
            jwt_secret: get("jwt_secret")
                .map(|s| s.value.clone())
                .filter(|v| !v.is_empty()),
            env: choose(
                get("env"),
                "env",
                &[
                    ("development", Environment::Development),
                    ("production", Environment::Production),
                ],
            )?,
            data_dir: PathBuf::from(text(get("data_dir"), "data_dir")?),
            log_format: match get("log_format") {
                Some(s) if !s.value.is_empty() && s.value != "auto" => Some(choose(
                    Some(s),
                    "log_format",
                    &[("json", LogFormat::Json), ("pretty", LogFormat::Pretty)],
                )?),
                _ => None,
            },
            log_level: choose(
                get("log_level"),
                "log_level",
                &[
                    ("trace", "trace"),
                    ("debug", "debug"),
                    ("info", "info"),
                    ("warning", "warning"),
                    ("error", "error"),
                ],
            )?
            .to_owned(),
            access_token_ttl_s: parse_range(
                get("access_token_ttl_s"),
                "access_token_ttl_s",
                30,
                86_400,
            )?,
            refresh_token_ttl_s: parse_range(
                get("refresh_token_ttl_s"),
                "refresh_token_ttl_s",
                60,
                365 * 86_400,
            )?,
            max_body_bytes: parse_range(get("max_body_bytes"), "max_body_bytes", 1024, 64 << 20)?,
            workers: parse_range(get("workers"), "workers", 0, 1024)?,
            shutdown_timeout_s: parse_range(
                get("shutdown_timeout_s"),
                "shutdown_timeout_s",
                0,
                3600,
            )?,
            node_id: parse_range(get("node_id"), "node_id", 0, 1023)?,
            auth_rate_per_minute: parse_range(
                get("auth_rate_per_minute"),
                "auth_rate_per_minute",
                0,
                100_000,
            )?,
            ip_rate_per_minute: parse_range(
                get("ip_rate_per_minute"),
                "ip_rate_per_minute",
                0,
                10_000_000,
            )?,
            user_rate_per_minute: parse_range(
                get("user_rate_per_minute"),
                "user_rate_per_minute",
                0,
                10_000_000,
            )?,
            write_rate_per_minute: parse_range(
                get("write_rate_per_minute"),
                "write_rate_per_minute",
                0,
                10_000_000,
            )?,
            redis_prefix: text(get("redis_prefix"), "redis_prefix")?,
            hash_concurrency: parse_range(get("hash_concurrency"), "hash_concurrency", 0, 1024)?,
            hash_queue: parse_range(get("hash_queue"), "hash_queue", 0, 100_000)?,
            reauth_window_s: parse_range(get("reauth_window_s"), "reauth_window_s", 0, 86_400)?,
            ws_send_rate: parse_range(get("ws_send_rate"), "ws_send_rate", 1, 1_000_000)?,
            ws_send_burst: parse_range(get("ws_send_burst"), "ws_send_burst", 1, 1_000_000)?,
            ws_bot_send_rate: parse_range(
                get("ws_bot_send_rate"),
                "ws_bot_send_rate",
                1,
                1_000_000,
            )?,
            ws_bot_send_burst: parse_range(
                get("ws_bot_send_burst"),
                "ws_bot_send_burst",
                1,
                1_000_000,
            )?,
            ws_outbound_queue: parse_range(
                get("ws_outbound_queue"),
                "ws_outbound_queue",
                1,
                1_000_000,
            )?,
            ws_heartbeat_ms: parse_range(get("ws_heartbeat_ms"), "ws_heartbeat_ms", 10, 3_600_000)?,
            ws_timeout_ms: parse_range(get("ws_timeout_ms"), "ws_timeout_ms", 20, 86_400_000)?,
            persist_shards: parse_range(get("persist_shards"), "persist_shards", 0, 64)?,
            persist_max_batch: parse_range(
                get("persist_max_batch"),
                "persist_max_batch",
                1,
                100_000,
            )?,
            room_ring_size: parse_range(get("room_ring_size"), "room_ring_size", 1, 100_000)?,
            presence_list_max: parse_range(
                get("presence_list_max"),
                "presence_list_max",
                10,
                100_000,
            )?,
            room_idle_s: parse_range(get("room_idle_s"), "room_idle_s", 1, 86_400)?,
            ingest_max_connections: parse_range(
                get("ingest_max_connections"),
                "ingest_max_connections",
                1,
                1_000_000,
            )?,
            ingest_max_per_ip: parse_range(
                get("ingest_max_per_ip"),
                "ingest_max_per_ip",
                1,
                1_000_000,
            )?,
            ingest_head_timeout_ms: parse_range(
                get("ingest_head_timeout_ms"),
                "ingest_head_timeout_ms",
                100,
                120_000,
            )?,
            refresh_grace_ms: parse_range(get("refresh_grace_ms"), "refresh_grace_ms", 0, 60_000)?,
            max_websockets_per_user: parse_range(
                get("max_websockets_per_user"),
                "max_websockets_per_user",
                1,
                100_000_000,
            )?,
            max_group_members: parse_range(get("max_group_members"), "max_group_members", 2, 100)?,
            max_rooms_per_user: parse_range(
                get("max_rooms_per_user"),
                "max_rooms_per_user",
                0,
                1_000_000_000,
            )?,
            max_streams_per_user: parse_range(
                get("max_streams_per_user"),
                "max_streams_per_user",
                0,
                1_000_000_000,
            )?,
            media_rate_per_minute: parse_range(
                get("media_rate_per_minute"),
                "media_rate_per_minute",
                0,
                10_000_000,
            )?,
            ingest_recheck_ms: parse_range(
                get("ingest_recheck_ms"),
                "ingest_recheck_ms",
                100,
                3_600_000,
            )?,
            http_max_connections: parse_range(
                get("http_max_connections"),
                "http_max_connections",
                1,
                10_000_000,
            )?,
            http_max_per_ip: parse_range(get("http_max_per_ip"), "http_max_per_ip", 1, 10_000_000)?,
            max_bots_per_user: parse_range(
                get("max_bots_per_user"),
                "max_bots_per_user",
                0,
                100_000,
            )?,
            bot_rate_per_minute: parse_range(
                get("bot_rate_per_minute"),
                "bot_rate_per_minute",
                0,
                1_000_000,
            )?,
            webhook_rate_per_minute: parse_range(
                get("webhook_rate_per_minute"),
                "webhook_rate_per_minute",
                0,
                1_000_000,
            )?,
            ingest_advertise: get("ingest_advertise")
                .map(|s| s.value.trim().to_owned())
                .filter(|v| !v.is_empty()),
            stream_ladder: veza_actors::stream::ladder::parse_ladder(&text(
                get("stream_ladder"),
                "stream_ladder",
            )?)
            .map_err(|e| invalid(get("stream_ladder"), "stream_ladder", e))?,
            stream_burst_ms: parse_range(get("stream_burst_ms"), "stream_burst_ms", 0, 60_000)?,
            streams_require_broadcaster: choose(
                get("streams_require_broadcaster"),
                "streams_require_broadcaster",
                &[("true", true), ("false", false), ("1", true), ("0", false)],
            )?,
            hls_segment_seconds: parse_range(
                get("hls_segment_seconds"),
                "hls_segment_seconds",
                1,
                10,
            )?,
            hls_dvr_seconds: parse_range(get("hls_dvr_seconds"), "hls_dvr_seconds", 10, 86_400)?,
            clip_max_seconds: parse_range(get("clip_max_seconds"), "clip_max_seconds", 1, 86_400)?,
            clip_workers: parse_range(get("clip_workers"), "clip_workers", 1, 64)?,
            clip_queue: parse_range(get("clip_queue"), "clip_queue", 1, 4096)?,
            clips_per_user_hour: parse_range(
                get("clips_per_user_hour"),
                "clips_per_user_hour",
                0,
                100_000,
            )?,
            clip_expire_seconds: parse_range(
                get("clip_expire_seconds"),
                "clip_expire_seconds",
                1,
                315_360_000,
            )?,
            recordings: choose(
                get("recordings"),
                "recordings",
                &[("true", true), ("false", false), ("1", true), ("0", false)],
            )?,
            recording_target_lufs: parse_range(
                get("recording_target_lufs"),
                "recording_target_lufs",
                -40.0,
                -5.0,
            )?,
            recording_silence_dbfs: parse_range(
                get("recording_silence_dbfs"),
                "recording_silence_dbfs",
                -90.0,
                -20.0,
            )?,
            cors_origins: list(get("cors_origins"))
                .into_iter()
                .map(|o| {
                    let o = o.trim_end_matches('/').to_owned();
                    if o.starts_with("http://") || o.starts_with("https://") {
                        Ok(o)
                    } else {
                        Err(invalid(
                            get("cors_origins"),
                            "cors_origins",
                            format!("{o:?} is not an origin like https://example.org"),
                        ))
                    }
                })
                .collect::<Result<_, _>>()?,
            trusted_proxies: list(get("trusted_proxies"))
                .into_iter()
                .map(|p| {
                    p.parse::<ipnet::IpNet>()
                        .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            invalid(
                                get("trusted_proxies"),
                                "trusted_proxies",
                                format!("{p:?} is not an IP address or CIDR block"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
            behind_tls_proxy: choose(
                get("behind_tls_proxy"),
                "behind_tls_proxy",
                &[("true", true), ("false", false), ("1", true), ("0", false)],
            )?,
            tls_cert: get("tls_cert")
                .map(|s| s.value.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            tls_key: get("tls_key")
                .map(|s| s.value.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            public_url: oauth::public_url(get("public_url"))?,
            oauth: oauth::providers(values)?,
            outgoing_webhooks: webhooks::outgoing(values)?,
            uploads: uploads::uploads(values)?,
            tracks: tracks::tracks(values)?,
            schedules: schedules::schedules(values)?,
            autodj: autodj::autodj(values)?,
            analytics: analytics::analytics(values)?,
            totp_key: match get("totp_key").map(|s| s.value.trim().to_owned()) {
                Some(k) if k.is_empty() => None,
                Some(k) if k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()) => Some(k),
                Some(_) => {
                    return Err(invalid(
                        get("totp_key"),
                        "totp_key",
                        "must be 64 hex characters (32 bytes), e.g. from `openssl rand -hex 32`"
                            .into(),
                    ))
                }
                None => None,
            },
        };
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            return Err(invalid(
                get("tls_cert").or(get("tls_key")),
                "tls_cert",
                "set both tls_cert and tls_key (PEM files), or neither".into(),
            ));
        }
        if config.ws_timeout_ms <= config.ws_heartbeat_ms {
            return Err(invalid(
                get("ws_timeout_ms"),
                "ws_timeout_ms",
                "must be longer than ws_heartbeat_ms".into(),
            ));
        }
        if let Err(e) = backend_of(&config.database_url) {
            return Err(invalid(get("database_url"), "database_url", e.to_string()));
        }
        if let Some(url) = &config.redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid(
                    get("redis_url"),
                    "redis_url",
                    "must start with redis:// or rediss://".into(),
                ));
            }
            if let Err(e) = redis::Client::open(url.as_str()) {
                return Err(invalid(get("redis_url"), "redis_url", e.to_string()));
            }
        }
        if let Some(url) = &config.otlp_endpoint {
            let parsed = url::Url::parse(url)
                .map_err(|e| e.to_string())
                .and_then(|u| {
                    matches!(u.scheme(), "http" | "https")
                        .then_some(())
                        .ok_or_else(|| "must be an http:// or https:// URL".to_owned())
                });
            if let Err(message) = parsed {
                return Err(invalid(get("otlp_endpoint"), "otlp_endpoint", message));
            }
        }
        if config.env == Environment::Production {
            secret::check_production_secret(config.jwt_secret.as_deref())?;
        }
        Ok(config)
    }

    /// Where browsers reach this server: `public_url`, or `http://{bind}`.
    pub fn base_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }

    /// The configuration as JSON with the secret replaced, for `veza config check` and logs.
    pub fn redacted(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(obj) = value.as_object_mut() {
            if self.jwt_secret.is_some() {
                obj.insert("jwt_secret".into(), "<set>".into());
            }
            if self.totp_key.is_some() {
                obj.insert("totp_key".into(), "<set>".into());
            }
            if let Some(url) = &self.database_url.split_once('@') {
                // postgres://user:password@host: keep the host, hide the credentials.
                obj.insert(
                    "database_url".into(),
                    format!("postgres://***@{}", url.1).into(),
                );
            }
        }
        value
    }
}

fn read_toml(path: &Path) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
        path: source_name.clone(),
        source,
    })?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::ParseFile {
            path: source_name.clone(),
            message: e.message().to_owned(),
        })?;
    let mut out = Vec::new();
    for (name, value) in table {
        let key = KEYS
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| ConfigError::UnknownKey {
                key: name.clone(),
                source_name: source_name.clone(),
            })?;
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => {
                return Err(ConfigError::Invalid {
                    key: name,
                    source_name,
                    message: format!(
                        "expected a string, number or boolean, got {}",
                        other.type_str()
                    ),
                })
            }
        };
        out.push((key.name, value));
    }
    Ok(out)
}

fn invalid(sourced: Option<&Sourced>, key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        source_name: sourced
            .map(|s| s.source_name.clone())
            .unwrap_or_else(|| "the default".into()),
        message,
    }
}

fn text(sourced: Option<&Sourced>, key: &str) -> Result<String, ConfigError> {
    match sourced {
        Some(s) if !s.value.trim().is_empty() => Ok(s.value.trim().to_owned()),
        _ => Err(invalid(sourced, key, "must not be empty".into())),
    }
}

fn parse<T: std::str::FromStr>(sourced: Option<&Sourced>, key: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let raw = text(sourced, key)?;
    raw.parse::<T>()
        .map_err(|e| invalid(sourced, key, format!("{raw:?}: {e}")))
}

/// A comma-separated list; empty items dropped.
fn list(sourced: Option<&Sourced>) -> Vec<String> {
    sourced
        .map(|s| {
            s.value
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn parse_range<T>(sourced: Option<&Sourced>, key: &str, min: T, max: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    T::Err: std::fmt::Display,
{
    let value: T = parse(sourced, key)?;
    if !(value >= min && value <= max) {
        return Err(invalid(
            sourced,
            key,
            format!("{value} is outside {min}..={max}"),
        ));
    }
    Ok(value)
}

fn choose<T: Copy>(
    sourced: Option<&Sourced>,
    key: &str,
    options: &[(&str, T)],
) -> Result<T, ConfigError> {
    let raw = text(sourced, key)?.to_lowercase();
    options
        .iter()
        .find(|(name, _)| *name == raw)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<_> = options.iter().map(|(n, _)| *n).collect();
            invalid(
                sourced,
                key,
                format!("{raw:?} is not one of {}", names.join(", ")),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn oauth_providers_are_on_with_a_client_id_and_need_its_secret() {
        let c = Config::load(None, env(&[])).unwrap();
        assert!(c.oauth.is_empty());
        let c = Config::load(
            None,
            env(&[
                ("VEZA_OAUTH_GITHUB_CLIENT_ID", "id"),
                ("VEZA_OAUTH_GITHUB_CLIENT_SECRET", "shh"),
                ("VEZA_PUBLIC_URL", "https://chat.example.org/"),
            ]),
        )
        .unwrap();
        assert_eq!(c.oauth.len(), 1);
        assert_eq!(c.oauth[0].provider, oauth::Provider::GitHub);
        assert_eq!(
            c.oauth[0].token_url,
            "https://github.com/login/oauth/access_token"
        );
        assert_eq!(c.base_url(), "https://chat.example.org");
        assert!(
            !c.redacted().to_string().contains("shh"),
            "the secret is never printed"
        );
        let err = Config::load(None, env(&[("VEZA_OAUTH_GOOGLE_CLIENT_ID", "id")])).unwrap_err();
        assert!(
            err.to_string().contains("oauth_google_client_secret"),
            "{err}"
        );
        let err = Config::load(
            None,
            env(&[
                ("VEZA_OAUTH_DISCORD_CLIENT_ID", "id"),
                ("VEZA_OAUTH_DISCORD_CLIENT_SECRET", "s"),
                ("VEZA_OAUTH_DISCORD_TOKEN_URL", "ftp://x"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("oauth_discord_token_url"), "{err}");
    }

    #[test]
    fn defaults_match_the_design() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.ingest_bind.to_string(), "127.0.0.1:8000");
        assert_eq!(c.database_url, "sqlite://./data/veza.db");
        assert_eq!(c.redis_url, None);
        assert_eq!(c.env, Environment::Development);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.access_token_ttl_s, 900);
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("veza.toml");
        std::fs::write(&file, "bind = \"0.0.0.0:9000\"\ndb_pool_size = 4\n").unwrap();
        let c = Config::load(Some(&file), env(&[])).unwrap();
        assert_eq!(c.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(c.db_pool_size, 4);
        let c = Config::load(Some(&file), env(&[("VEZA_BIND", "127.0.0.1:7000")])).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:7000");
        assert_eq!(c.db_pool_size, 4);
    }

    #[test]
    fn the_config_file_can_come_from_veza_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("veza.toml");
        std::fs::write(&file, "log_level = \"debug\"\n").unwrap();
        let path = file.to_str().unwrap();
        let c = Config::load(None, env(&[("VEZA_CONFIG", path)])).unwrap();
        assert_eq!(c.log_level, "debug");
    }

    #[test]
    fn errors_name_the_bad_key_and_its_source() {
        let err = Config::load(None, env(&[("VEZA_BIND", "nowhere")])).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`bind`") && msg.contains("VEZA_BIND"), "{msg}");

        let err = Config::load(None, env(&[("VEZA_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(err.to_string().contains("`database_url`"), "{err}");

        let err = Config::load(None, env(&[("VEZA_ENV", "staging")])).unwrap_err();
        assert!(err.to_string().contains("`env`"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("veza.toml");
        std::fs::write(&file, "bnid = \"x\"\n").unwrap();
        let err = Config::load(Some(&file), env(&[])).unwrap_err();
        assert!(err.to_string().contains("`bnid`"), "{err}");
    }

    #[test]
    fn production_refuses_missing_default_or_short_secrets() {
        for secret in [None, Some("change-me"), Some("short-secret")] {
            let mut vars = vec![("VEZA_ENV", "production")];
            if let Some(s) = secret {
                vars.push(("VEZA_JWT_SECRET", s));
            }
            let err = Config::load(None, env(&vars)).unwrap_err();
            assert!(err.to_string().contains("jwt_secret"), "{err}");
        }
        let good = "k3Jd9aLq0Zx7Vb2Nm5Rt8Yw1Pe4Uo6Ii9Ss3Dd";
        let c = Config::load(
            None,
            env(&[("VEZA_ENV", "production"), ("VEZA_JWT_SECRET", good)]),
        )
        .unwrap();
        assert_eq!(c.env, Environment::Production);
    }

    #[test]
    fn production_refuses_low_entropy_secrets() {
        // Long enough, but one character, a short pattern, a repeated phrase (the tests' own
        // secret), or too few distinct characters.
        let weak = [
            "x".repeat(40),
            "abc".repeat(14),
            "test-secret-test-secret-test-secret-0123".into(),
            "aabbccddeeffgghhaabbccddeeffgghhabcdefgh".into(),
        ];
        for secret in weak {
            let vars = [
                ("VEZA_ENV", "production"),
                ("VEZA_JWT_SECRET", secret.as_str()),
            ];
            let err = Config::load(None, env(&vars)).unwrap_err().to_string();
            assert!(
                err.contains("jwt_secret")
                    && (err.contains("distinct characters") || err.contains("pattern")),
                "{secret}: {err}"
            );
            // Development still takes it (tests and local runs use such secrets).
            let dev = [("VEZA_JWT_SECRET", secret.as_str())];
            assert!(Config::load(None, env(&dev)).is_ok(), "{secret}");
        }
    }

    #[test]
    fn redacted_config_hides_secrets() {
        let c = Config::load(
            None,
            env(&[
                ("VEZA_JWT_SECRET", "super-secret-value"),
                ("VEZA_DATABASE_URL", "postgres://u:pw@db:5432/veza"),
            ]),
        )
        .unwrap();
        let text = c.redacted().to_string();
        assert!(!text.contains("super-secret-value"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }
}
