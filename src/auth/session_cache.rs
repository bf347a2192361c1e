//! Sessions that recently passed `authenticate`, so a busy client does not cost a store read per
//! request. An entry lives `TTL` at most and is dropped at once when its session or user is revoked
//! (on any node: the registry hands every revocation to [`SessionCache::forget`]); when revocations
//! may have been missed (the bus went down or came back) everything is dropped. Logout, disabling,
//! a role or password change therefore act within the event's travel time, and within `TTL` in
//! the worst case (a change made by another process without an event, e.g. `veza admin`).

use super::service::Authenticated;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};
use veza_actors::revocation::Revoke;

const TTL: Duration = Duration::from_secs(10);
/// Past this many entries the cache starts over (a bound on memory, not an LRU).
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct SessionCache {
    entries: RwLock<HashMap<i64, (Authenticated, Instant)>>,
    /// Bumped by every `forget`: a store read that began before a revocation must not put its
    /// (stale) answer back after it.
    generation: AtomicU64,
}

impl SessionCache {
    /// Take before reading the store; hand to [`SessionCache::put`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, session: i64) -> Option<Authenticated> {
        let entries = self.entries.read().ok()?;
        let (who, at) = entries.get(&session)?;
        (at.elapsed() < TTL).then(|| who.clone())
    }

    /// Caches `who`, read from the store after `generation()` returned `read_at`; dropped if a
    /// revocation came in between.
    pub fn put(&self, who: &Authenticated, read_at: u64) {
        if let Ok(mut entries) = self.entries.write() {
            if self.generation.load(Ordering::Acquire) != read_at {
                return;
            }
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(who.session_id, (who.clone(), Instant::now()));
        }
    }

    /// Drops what a revocation covers (`None`: everything).
    pub fn forget(&self, revoke: Option<&Revoke>) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        self.generation.fetch_add(1, Ordering::AcqRel);
        match revoke {
            None => entries.clear(),
            Some(r) => entries
                .retain(|session, (who, _)| who.user_id != r.user || !r.scope.covers(*session)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use veza_actors::revocation::Scope;
    use veza_actors::UserId;

    fn who(user: UserId, session: i64) -> Authenticated {
        Authenticated {
            user_id: user,
            username: "u".into(),
            role: Role::User,
            session_id: session,
            created_at: 0,
        }
    }

    #[test]
    fn revocations_drop_what_they_cover() {
        let cache = SessionCache::default();
        for (u, s) in [(1, 10), (1, 11), (2, 20)] {
            cache.put(&who(UserId(u), s), cache.generation());
        }
        let revoke = |scope| Revoke {
            user: UserId(1),
            scope,
            reason: String::new(),
        };
        cache.forget(Some(&revoke(Scope::AllExcept(11))));
        assert!(cache.get(10).is_none());
        assert!(cache.get(11).is_some() && cache.get(20).is_some());
        cache.forget(Some(&revoke(Scope::Session(11))));
        assert!(cache.get(11).is_none() && cache.get(20).is_some());
        cache.forget(None);
        assert!(cache.get(20).is_none());
    }

    #[test]
    fn a_read_from_before_a_revocation_is_not_cached() {
        let cache = SessionCache::default();
        let read_at = cache.generation();
        cache.forget(None);
        cache.put(&who(UserId(1), 10), read_at);
        assert!(cache.get(10).is_none());
    }
}
