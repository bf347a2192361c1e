//! One node per live stream: a lease in Redis (`PREFIX:stream:MOUNT` = `NODE|PUBLIC_URL|TOKEN`,
//! 10 s, renewed every 3 s while the source is connected, released when it leaves). A source for a
//! mount leased by another node is refused like a second source on one node; listeners and HLS
//! requests that reach another node are redirected to the owner's public URL.
//!
//! Redis down: a node cannot see other nodes' leases, so it lets a source go live (availability
//! first) and says so in the log; its own registry still refuses a second source on that node.
//!
//! Sources for one mount racing on one node share the node's one lease: acquisitions on a node
//! take turns, a later one while the node holds the lease only counts itself in, and the lease is
//! released when the last of them ends (the node's registry lets one of them on air). A loser
//! leaving can therefore never drop the winner's lease.

use bb8_redis::bb8::Pool;
use bb8_redis::RedisConnectionManager;
use rand::Rng;
use slog::{warn, Logger};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

const TTL: Duration = Duration::from_secs(10);
const RENEW_EVERY: Duration = Duration::from_secs(3);

/// Takes the lease if it is free or a stale one of this node; answers the holder otherwise.
const ACQUIRE: &str = r#"
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return ''
end
return v
"#;

/// Keeps this node's lease alive (re-taking it if it lapsed); 0 if another node holds it now.
const RENEW: &str = r#"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
if string.sub(v, 1, string.len(ARGV[2])) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"#;

/// Deletes the lease if it is still this acquisition's.
const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

/// The node serving a live stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub id: u16,
    pub url: String,
}

impl Owner {
    fn parse(value: &str) -> Option<Self> {
        let mut parts = value.splitn(3, '|');
        let id = parts.next()?.parse().ok()?;
        let url = parts.next()?.to_owned();
        Some(Owner { id, url })
    }
}

pub struct StreamLeases {
    pool: Pool<RedisConnectionManager>,
    prefix: String,
    me: Owner,
    log: Logger,
    /// Acquisitions on this node take turns (one Redis round trip each; sources are rare).
    turns: tokio::sync::Mutex<()>,
    /// Mounts this node holds: how many sources share the lease, and the renewing task's stop.
    held: Mutex<HashMap<String, Held>>,
}

struct Held {
    sources: usize,
    /// Dropped (with the entry) to end the renewing task, which then releases the lease.
    _stop: oneshot::Sender<()>,
}

/// Held while a source is connected here; the last one for its mount dropped releases the lease.
pub struct LeaseGuard {
    leases: Arc<StreamLeases>,
    mount: String,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        let mut held = self.leases.held();
        if let Some(entry) = held.get_mut(&self.mount) {
            entry.sources -= 1;
            if entry.sources == 0 {
                // Dropping the stop sender ends the renewing task, which releases the lease.
                held.remove(&self.mount);
            }
        }
    }
}

impl StreamLeases {
    pub fn new(url: &str, prefix: &str, me: Owner, log: Logger) -> Result<Self, redis::RedisError> {
        let pool = Pool::builder()
            .max_size(4)
            .connection_timeout(Duration::from_millis(500))
            .build_unchecked(RedisConnectionManager::new(url)?);
        Ok(Self {
            pool,
            prefix: prefix.to_owned(),
            me,
            log,
            turns: tokio::sync::Mutex::new(()),
            held: Mutex::new(HashMap::new()),
        })
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, Held>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A guard sharing this node's lease on `mount`, if the node holds it.
    fn share(self: &Arc<Self>, mount: &str) -> Option<LeaseGuard> {
        let mut held = self.held();
        let entry = held.get_mut(mount)?;
        entry.sources += 1;
        Some(LeaseGuard {
            leases: self.clone(),
            mount: mount.to_owned(),
        })
    }

    pub fn me(&self) -> &Owner {
        &self.me
    }

    fn key(&self, mount: &str) -> String {
        format!("{}:stream:{mount}", self.prefix)
    }

    fn node_prefix(&self) -> String {
        format!("{}|", self.me.id)
    }

    /// Takes the lease for `mount`: `Ok(guard)`, or `Err(owner)` when another node serves it.
    pub async fn acquire(self: &Arc<Self>, mount: &str) -> Result<LeaseGuard, Owner> {
        let _turn = self.turns.lock().await;
        if let Some(shared) = self.share(mount) {
            return Ok(shared);
        }
        let value = format!(
            "{}|{}|{:016x}",
            self.me.id,
            self.me.url,
            rand::thread_rng().gen::<u64>()
        );
        let key = self.key(mount);
        let held: Result<String, String> = async {
            let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
            redis::Script::new(ACQUIRE)
                .key(&key)
                .arg(&value)
                .arg(self.node_prefix())
                .arg(TTL.as_millis() as u64)
                .invoke_async(&mut *conn)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match held {
            Ok(holder) if !holder.is_empty() => {
                if let Some(owner) = Owner::parse(&holder) {
                    return Err(owner);
                }
            }
            Ok(_) => {}
            Err(e) => {
                warn!(self.log, "stream lease unavailable (Redis down?); going live without it"; "mount" => mount, "error" => e)
            }
        }
        let (stop, stopped) = oneshot::channel();
        actix_rt::spawn(self.clone().keep(key, value, stopped));
        self.held().insert(
            mount.to_owned(),
            Held {
                sources: 1,
                _stop: stop,
            },
        );
        Ok(LeaseGuard {
            leases: self.clone(),
            mount: mount.to_owned(),
        })
    }

    /// Renews until the guard is dropped, then releases.
    async fn keep(self: Arc<Self>, key: String, value: String, mut stopped: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(RENEW_EVERY) => {
                    if let Ok(mut conn) = self.pool.get().await {
                        let kept: Result<i64, _> = redis::Script::new(RENEW)
                            .key(&key)
                            .arg(&value)
                            .arg(self.node_prefix())
                            .arg(TTL.as_millis() as u64)
                            .invoke_async(&mut *conn)
                            .await;
                        if let Ok(0) = kept {
                            warn!(self.log, "another node took this stream's lease"; "key" => &key);
                        }
                    }
                }
            }
        }
        if let Ok(mut conn) = self.pool.get().await {
            let _best_effort: Result<i64, _> = redis::Script::new(RELEASE)
                .key(&key)
                .arg(&value)
                .invoke_async(&mut *conn)
                .await;
        }
    }

    /// The node holding `mount`'s lease, if it is another node (and Redis answers).
    pub async fn other_owner(&self, mount: &str) -> Option<Owner> {
        let mut conn = self.pool.get().await.ok()?;
        let value: Option<String> = redis::cmd("GET")
            .arg(self.key(mount))
            .query_async(&mut *conn)
            .await
            .ok()?;
        value
            .as_deref()
            .and_then(Owner::parse)
            .filter(|o| o.id != self.me.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_parse_from_lease_values() {
        assert_eq!(
            Owner::parse("3|http://a:1|00ff"),
            Some(Owner {
                id: 3,
                url: "http://a:1".into()
            })
        );
        assert_eq!(Owner::parse("x|y"), None);
        assert_eq!(Owner::parse(""), None);
    }
}
