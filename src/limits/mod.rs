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
use std::time::{Duration, Instant};
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
    /// Per-account login slow-down: here on one node, the fallback when Redis is down.
    logins: account::AccountThrottle,
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
            logins: account::AccountThrottle::default(),
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

    /// `None` when the limits are not in Redis; else whether Redis answers.
    pub async fn ping_shared_store(&self) -> Option<Result<(), String>> {
        match &self.store {
            Store::Redis(r, _) => Some(r.ping().await),
            Store::Memory(_) => None,
        }
    }

    pub fn shared(&self) -> bool {
        matches!(self.store, Store::Redis(..))
    }

    /// How long `account` must still wait before its next login attempt, if at all.
    pub async fn login_wait(&self, account: &str) -> Option<Duration> {
        if let Store::Redis(r, _) = &self.store {
            match r.login_wait(account).await {
                Ok(wait) => return wait,
                Err(e) => {
                    warn!(self.log, "login slow-down store unavailable; using this node's"; "error" => e)
                }
            }
        }
        self.logins.wait(account, Instant::now())
    }

    /// A failed login of `account` (wrong password or second factor).
    pub async fn login_failed(&self, account: &str) {
        if let Store::Redis(r, _) = &self.store {
            if let Err(e) = r.login_failed(account).await {
                warn!(self.log, "login slow-down store unavailable; using this node's"; "error" => e);
            }
        }
        // Also counted here, so a Redis outage does not reset the slow-down.
        self.logins.failed(account, Instant::now());
    }

    pub async fn login_succeeded(&self, account: &str) {
        if let Store::Redis(r, _) = &self.store {
            if let Err(e) = r.login_succeeded(account).await {
                warn!(self.log, "login slow-down store unavailable"; "error" => e);
            }
        }
        self.logins.succeeded(account);
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
