//! Rate limits at three levels, each configurable (requests per minute; 0 turns one off):
//! per IP (`ip_rate_per_minute` on everything but media, and the tight `auth_rate_per_minute` on
//! `/auth/*`), per user (`user_rate_per_minute` on every authenticated request) and per endpoint
//! class (`write_rate_per_minute` per user on requests that change something). GCRA in memory on
//! one node, or in Redis (one atomic Lua script) when `redis_url` is set, so limits hold across
//! nodes. Refusals are 429 with `Retry-After` and `RateLimit-*` headers.

pub mod account;
pub mod gcra;
mod memory;
mod redis;

use crate::config::Config;
use gcra::{Decision, Rule};
use memory::MemoryStore;
use redis::RedisStore;
use slog::{warn, Logger};
use veza_actors::ids::now_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Register, login, 2FA codes: per IP, tight.
    Auth,
    /// Everything from one IP.
    Ip,
    /// Everything from one user.
    User,
    /// Requests of one user that change something (POST, PUT, PATCH, DELETE).
    Write,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::Ip => "ip",
            Class::User => "user",
            Class::Write => "write",
        }
    }
}

enum Store {
    Memory(MemoryStore),
    Redis(RedisStore, MemoryStore),
}

pub struct Limits {
    store: Store,
    auth: Option<Rule>,
    ip: Option<Rule>,
    user: Option<Rule>,
    write: Option<Rule>,
    log: Logger,
}

fn rule(per_minute: u32) -> Option<Rule> {
    (per_minute > 0).then(|| Rule::per_minute(per_minute))
}

impl Limits {
    /// In-memory limits (Redis, if configured, is attached with [`Limits::connect_redis`]).
    pub fn new(config: &Config, log: Logger) -> Self {
        Self {
            store: Store::Memory(MemoryStore::default()),
            auth: rule(config.auth_rate_per_minute),
            ip: rule(config.ip_rate_per_minute),
            user: rule(config.user_rate_per_minute),
            write: rule(config.write_rate_per_minute),
            log,
        }
    }

    /// Shares the limits through Redis.
    pub async fn connect_redis(mut self, url: &str, prefix: &str) -> Result<Self, String> {
        let store = RedisStore::connect(url, prefix)
            .await
            .map_err(|e| format!("redis at {url}: {e}"))?;
        self.store = Store::Redis(store, MemoryStore::default());
        Ok(self)
    }

    pub fn shared(&self) -> bool {
        matches!(self.store, Store::Redis(..))
    }

    /// Checks one request of `class` by `key` (an IP or a user id). `None`: no limit applies.
    pub async fn check(&self, class: Class, key: &str) -> Option<(Rule, Decision)> {
        let rule = match class {
            Class::Auth => self.auth,
            Class::Ip => self.ip,
            Class::User => self.user,
            Class::Write => self.write,
        }?;
        let key = format!("{}:{key}", class.name());
        let decision = match &self.store {
            Store::Memory(m) => m.check(&key, rule, now_ms() as i64),
            Store::Redis(r, fallback) => match r.check(&key, rule).await {
                Ok(d) => d,
                Err(e) => {
                    // Redis down: limit on this node rather than not at all.
                    warn!(self.log, "rate limit store unavailable; limiting locally"; "error" => e);
                    fallback.check(&key, rule, now_ms() as i64)
                }
            },
        };
        Some((rule, decision))
    }
}
