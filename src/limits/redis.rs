//! The shared store: the same GCRA as one atomic Lua script in Redis (bb8-redis pool), with
//! Redis's own clock, so every node of a cluster sees one limit per key.

use super::gcra::{Decision, Rule};
use bb8_redis::bb8::Pool;
use bb8_redis::RedisConnectionManager;

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

pub struct RedisStore {
    pool: Pool<RedisConnectionManager>,
    script: redis::Script,
    prefix: String,
}

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let manager = RedisConnectionManager::new(url)?;
        let pool = Pool::builder()
            .max_size(16)
            .connection_timeout(std::time::Duration::from_secs(2))
            .build(manager)
            .await?;
        Ok(Self {
            pool,
            script: redis::Script::new(SCRIPT),
            prefix: prefix.to_owned(),
        })
    }

    pub async fn check(&self, key: &str, rule: Rule) -> Result<Decision, String> {
        let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
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
