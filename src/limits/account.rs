//! Login slow-down per account: after `FREE_FAILURES` failed logins, each further attempt on that
//! account must wait 1 s, 2 s, 4 s ... (at most `MAX_DELAY`) after the previous failure. A right
//! password resets it. The delay is short and bounded, so an attacker guessing a victim's
//! password slows the guessing to a crawl without locking the victim out for more than a minute.
//! This is the in-memory store of one node; with Redis the same counts live there
//! (`limits::redis`), so guesses spread over nodes add up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FREE_FAILURES: u32 = 5;
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// Failures older than this are forgotten.
pub const MEMORY: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct AccountThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

/// The wait after the last failure, for an account with `failures` recent failures.
pub fn delay(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let exp = (failures - FREE_FAILURES).min(16);
    Duration::from_secs(1u64 << exp).min(MAX_DELAY)
}

impl AccountThrottle {
    /// How long this account must still wait before a login attempt, if at all.
    pub fn wait(&self, account: &str, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (failures, last) = map.get(&account.to_lowercase())?;
        let ready = *last + delay(*failures);
        (ready > now).then(|| ready - now)
    }

    pub fn failed(&self, account: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, last)| now.duration_since(*last) < MEMORY);
        }
        let entry = map.entry(account.to_lowercase()).or_insert((0, now));
        if now.duration_since(entry.1) >= MEMORY {
            entry.0 = 0;
        }
        *entry = (entry.0 + 1, now);
    }

    pub fn succeeded(&self, account: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&account.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_free_failures_then_doubling_delays_capped_at_a_minute() {
        let t = AccountThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.wait("Alice", t0), None);
            t.failed("alice", t0);
        }
        assert_eq!(t.wait("ALICE", t0), Some(Duration::from_secs(1)));
        assert_eq!(t.wait("alice", t0 + Duration::from_secs(1)), None);
        t.failed("alice", t0);
        assert_eq!(t.wait("alice", t0), Some(Duration::from_secs(2)));
        for _ in 0..20 {
            t.failed("alice", t0);
        }
        assert_eq!(
            t.wait("alice", t0),
            Some(MAX_DELAY),
            "never more than a minute"
        );
        assert_eq!(t.wait("bob", t0), None, "other accounts are not affected");
        t.succeeded("alice");
        assert_eq!(t.wait("alice", t0), None);
    }
}
