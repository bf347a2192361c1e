//! The shared store: the same GCRA as one atomic Lua script in Redis (bb8-redis pool), with
//! Redis's own clock, so every node of a cluster sees one limit per key.

use super::account::{FREE_FAILURES, MAX_DELAY, MEMORY};
use super::gcra::{Decision, Rule};
use bb8_redis::bb8::Pool;
use bb8_redis::RedisConnectionManager;
use std::time::Duration;

const SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local ahead = tat - now
if ahead > tolerance then
  return {0, 0, ahead, ahead - tolerance}
end
local new = tat + interval
redis.call('SET', KEYS[1], new, 'PX', new - now + 1000)
local left = math.floor(math.max(tolerance - (new - now - interval), 0) / math.max(interval, 1))
return {1, left, new - now, 0}
"#;

/// Reserves one login attempt of an account, in one step with the check of its delay: `{0, wait}`
/// while the account must wait, else `{1, 0}` with the attempt counted as a failure. ARGV: the
/// memory (ms), the free failures, the longest delay (ms). Redis's clock.
const LOGIN_RESERVE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local memory = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local max_delay = tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'n', 'last')
local n = tonumber(v[1]) or 0
local last = tonumber(v[2]) or now
if now - last >= memory then n = 0 end
local delay = 0
if n >= free then delay = math.min(1000 * math.pow(2, math.min(n - free, 16)), max_delay) end
if last + delay > now then return {0, last + delay - now} end
redis.call('HSET', KEYS[1], 'n', n + 1, 'last', now)
redis.call('PEXPIRE', KEYS[1], memory)
return {1, 0}
"#;

/// Gives a reserved attempt back (it was neither a failure nor a success).
const LOGIN_RELEASE: &str = r#"
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if n and n > 0 then redis.call('HSET', KEYS[1], 'n', n - 1) end
return 0
"#;

/// After a failure, Redis is not asked again for this long: requests fall back to this node's
/// limits at once instead of each waiting for a connection that will not come.
const SKIP_AFTER_FAILURE_MS: u64 = 1000;

pub struct RedisStore {
    pool: Pool<RedisConnectionManager>,
    /// Unix ms until which Redis is skipped (see [`SKIP_AFTER_FAILURE_MS`]).
    skip_until: std::sync::atomic::AtomicU64,
    script: redis::Script,
    login_reserve: redis::Script,
    login_release: redis::Script,
    prefix: String,
}

impl RedisStore {
    /// A pooled connection, unless Redis failed within the last second.
    async fn conn(
        &self,
    ) -> Result<bb8_redis::bb8::PooledConnection<'_, RedisConnectionManager>, String> {
        use std::sync::atomic::Ordering::Relaxed;
        let now = veza_actors::ids::now_ms();
        if now < self.skip_until.load(Relaxed) {
            return Err("Redis failed within the last second".into());
        }
        self.pool.get().await.map_err(|e| {
            self.skip_until.store(now + SKIP_AFTER_FAILURE_MS, Relaxed);
            e.to_string()
        })
    }

    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let manager = RedisConnectionManager::new(url)?;
        let pool = Pool::builder()
            .max_size(16)
            .connection_timeout(std::time::Duration::from_millis(500))
            .build(manager)
            .await?;
        Ok(Self {
            pool,
            skip_until: Default::default(),
            script: redis::Script::new(SCRIPT),
            login_reserve: redis::Script::new(LOGIN_RESERVE),
            login_release: redis::Script::new(LOGIN_RELEASE),
            prefix: prefix.to_owned(),
        })
    }

    pub async fn check(&self, key: &str, rule: Rule) -> Result<Decision, String> {
        let mut conn = self.conn().await?;
        let (allowed, remaining, reset, retry): (i64, i64, i64, i64) = self
            .script
            .key(format!("{}:rl:{key}", self.prefix))
            .arg(rule.interval_ms())
            .arg(rule.tolerance_ms())
            .invoke_async(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Decision {
            allowed: allowed == 1,
            remaining: remaining.max(0) as u32,
            reset_ms: reset,
            retry_after_ms: retry,
        })
    }
}

impl RedisStore {
    fn login_key(&self, account: &str) -> String {
        format!("{}:login:{}", self.prefix, account.to_lowercase())
    }

    /// Reserves one login attempt (shared slow-down): `Err(wait)` while the account must wait.
    pub async fn login_reserve(&self, account: &str) -> Result<Result<(), Duration>, String> {
        let mut conn = self.conn().await?;
        let (allowed, wait_ms): (i64, i64) = self
            .login_reserve
            .key(self.login_key(account))
            .arg(MEMORY.as_millis() as i64)
            .arg(FREE_FAILURES)
            .arg(MAX_DELAY.as_millis() as i64)
            .invoke_async(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        if allowed == 1 {
            Ok(Ok(()))
        } else {
            Ok(Err(Duration::from_millis(wait_ms.max(1) as u64)))
        }
    }

    pub async fn login_release(&self, account: &str) -> Result<(), String> {
        let mut conn = self.conn().await?;
        let _: i64 = self
            .login_release
            .key(self.login_key(account))
            .invoke_async(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    pub async fn login_succeeded(&self, account: &str) -> Result<(), String> {
        let mut conn = self.conn().await?;
        redis::cmd("DEL")
            .arg(self.login_key(account))
            .query_async::<()>(&mut *conn)
            .await
            .map_err(|e| e.to_string())
    }
}

impl RedisStore {
    /// Whether Redis answers.
    pub async fn ping(&self) -> Result<(), String> {
        let mut conn = self.conn().await?;
        redis::cmd("PING")
            .query_async::<String>(&mut *conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
