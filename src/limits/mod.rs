//! Rate limits at three levels, each configurable (requests per minute; 0 turns one off):
//! per IP (`ip_rate_per_minute` on everything but media, `media_rate_per_minute` on `/live` and
//! `/hls`, and the tight `auth_rate_per_minute` on `/auth/*`), per user (`user_rate_per_minute` on every authenticated request) and per endpoint
//! class (`write_rate_per_minute` per user on requests that change something, and
//! `clips_per_user_hour` on clips). GCRA in memory on one node, or in Redis (one atomic Lua script)
//! when `redis_url` is set, so limits hold across nodes. Refusals are 429 with `Retry-After` and `RateLimit-*` headers.

pub mod account;
pub mod gcra;
pub mod hashing;
pub mod held;
mod memory;
mod redis;

use crate::config::Config;
use gcra::{Decision, Rule};
use memory::MemoryStore;
use redis::RedisStore;
use slog::{warn, Logger};
use std::net::{IpAddr, Ipv6Addr};
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
    /// Clips one user asks for (per hour).
    Clip,
    /// Media requests (`/live`, `/hls`) from one IP.
    Media,
    /// Everything from one bot (instead of `User` and `Write`: bots answer for many people).
    Bot,
    /// Posts to one incoming webhook.
    Webhook,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Auth => "auth",
            Class::Ip => "ip",
            Class::User => "user",
            Class::Write => "write",
            Class::Clip => "clip",
            Class::Media => "media",
            Class::Bot => "bot",
            Class::Webhook => "webhook",
        }
    }
}

/// The key of a client address in the per-IP limits: an IPv4 address as itself (also when written
/// as `::ffff:a.b.c.d`), an IPv6 address by its /64. One subscriber is usually given a whole /64,
/// so keying on the full address would give one client 2^64 buckets.
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
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
    /// The bound on password hashing (per node: it protects this node's memory).
    pub hashing: hashing::HashGate,
    auth: Option<Rule>,
    ip: Option<Rule>,
    user: Option<Rule>,
    write: Option<Rule>,
    clip: Option<Rule>,
    media: Option<Rule>,
    bot: Option<Rule>,
    webhook: Option<Rule>,
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
            hashing: hashing::HashGate::new(config.hash_concurrency, config.hash_queue),
            auth: rule(config.auth_rate_per_minute),
            ip: rule(config.ip_rate_per_minute),
            user: rule(config.user_rate_per_minute),
            write: rule(config.write_rate_per_minute),
            media: rule(config.media_rate_per_minute),
            bot: rule(config.bot_rate_per_minute),
            webhook: rule(config.webhook_rate_per_minute),
            clip: (config.clips_per_user_hour > 0).then_some(Rule {
                limit: config.clips_per_user_hour,
                period_ms: 3_600_000,
            }),
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

    /// Reserves one login attempt of `account` before its password is checked: `Err(wait)` while
    /// the account is in its slow-down. The attempt counts as a failure until
    /// [`Limits::login_succeeded`] resets the account or [`Limits::login_released`] gives it back.
    pub async fn login_reserve(&self, account: &str) -> Result<(), Duration> {
        if let Store::Redis(r, _) = &self.store {
            match r.login_reserve(account).await {
                Ok(decision) => {
                    if decision.is_ok() {
                        // Also counted here, so a Redis outage does not reset the slow-down.
                        self.logins.failed(account, Instant::now());
                    }
                    return decision;
                }
                Err(e) => {
                    warn!(self.log, "login slow-down store unavailable; using this node's"; "error" => e)
                }
            }
        }
        self.logins.reserve(account, Instant::now())
    }

    /// A reserved attempt that was neither a failure nor a success (a missing second factor, an
    /// error before the password was judged).
    pub async fn login_released(&self, account: &str) {
        if let Store::Redis(r, _) = &self.store {
            if let Err(e) = r.login_release(account).await {
                warn!(self.log, "login slow-down store unavailable"; "error" => e);
            }
        }
        self.logins.release(account);
    }

    pub async fn login_succeeded(&self, account: &str) {
        if let Store::Redis(r, _) = &self.store {
            if let Err(e) = r.login_succeeded(account).await {
                warn!(self.log, "login slow-down store unavailable"; "error" => e);
            }
        }
        self.logins.succeeded(account);
    }

    /// Checks one request of `class` from the client at `ip` (keyed by [`ip_key`]).
    pub async fn check_ip(&self, class: Class, ip: Option<IpAddr>) -> Option<(Rule, Decision)> {
        let key = ip.map(ip_key).unwrap_or_default();
        self.check(class, &key).await
    }

    /// Checks one request of `class` by `key` (an IP or a user id). `None`: no limit applies.
    pub async fn check(&self, class: Class, key: &str) -> Option<(Rule, Decision)> {
        let rule = match class {
            Class::Auth => self.auth,
            Class::Ip => self.ip,
            Class::User => self.user,
            Class::Write => self.write,
            Class::Clip => self.clip,
            Class::Media => self.media,
            Class::Bot => self.bot,
            Class::Webhook => self.webhook,
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
        if !decision.allowed {
            veza_actors::metrics::metrics()
                .rate_limited
                .with(&[class.name()])
                .inc();
        }
        Some((rule, decision))
    }
}

#[cfg(test)]
mod tests {
    use super::ip_key;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let key = |s: &str| ip_key(s.parse().unwrap());
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2:ffff:ffff:ffff:fffe"),
            key("2001:db8:1:2::1"),
            "one /64, one bucket"
        );
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(
            key("::ffff:203.0.113.9"),
            "203.0.113.9",
            "mapped IPv4 as IPv4"
        );
        assert_ne!(key("203.0.113.9"), key("203.0.113.10"));
    }
}
