//! Login slow-down per account: after `FREE_FAILURES` failed logins, each further attempt on that
//! account must wait 1 s, 2 s, 4 s ... (at most `MAX_DELAY`) after the previous failure. A right
//! password resets it. The delay is short and bounded, so an attacker guessing a victim's
//! password slows the guessing to a crawl without locking the victim out for more than a minute.
//!
//! An attempt is *reserved* (counted as a failure) before the password is checked, in one step with
//! the check of the delay: parallel guesses cannot all pass the check before the first failure is
//! counted. A right password then resets the count; an attempt that ends neither way (a missing
//! second factor, an internal error) is released again.
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
    /// Reserves one login attempt on `account`: `Err(wait)` while the account is in its delay;
    /// else the attempt is counted as a failure now (see [`AccountThrottle::release`]).
    pub fn reserve(&self, account: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let key = account.to_lowercase();
        if let Some((failures, last)) = map.get(&key) {
            if now.saturating_duration_since(*last) < MEMORY {
                let ready = *last + delay(*failures);
                if ready > now {
                    return Err(ready - now);
                }
            }
        }
        Self::count(&mut map, key, now);
        Ok(())
    }

    /// Counts a failure without checking the delay (mirrors what the shared store decided).
    pub fn failed(&self, account: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::count(&mut map, account.to_lowercase(), now);
    }

    fn count(map: &mut HashMap<String, (u32, Instant)>, key: String, now: Instant) {
        if map.len() > 100_000 {
            map.retain(|_, (_, last)| now.saturating_duration_since(*last) < MEMORY);
        }
        let entry = map.entry(key).or_insert((0, now));
        if now.saturating_duration_since(entry.1) >= MEMORY {
            entry.0 = 0;
        }
        *entry = (entry.0 + 1, now);
    }

    /// Gives back a reserved attempt that was neither a failure nor a success.
    pub fn release(&self, account: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get_mut(&account.to_lowercase()) {
            entry.0 = entry.0.saturating_sub(1);
        }
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
            assert_eq!(t.reserve("Alice", t0), Ok(()));
        }
        assert_eq!(t.reserve("ALICE", t0), Err(Duration::from_secs(1)));
        assert_eq!(t.reserve("alice", t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(
            t.reserve("alice", t0 + Duration::from_secs(1)),
            Err(Duration::from_secs(2))
        );
        for _ in 0..20 {
            t.failed("alice", t0);
        }
        assert_eq!(
            t.reserve("alice", t0),
            Err(MAX_DELAY),
            "never more than a minute"
        );
        assert_eq!(
            t.reserve("bob", t0),
            Ok(()),
            "other accounts are not affected"
        );
        t.succeeded("alice");
        assert_eq!(t.reserve("alice", t0), Ok(()));
    }

    #[test]
    fn a_released_attempt_is_not_a_failure() {
        let t = AccountThrottle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES * 3 {
            assert_eq!(t.reserve("carol", t0), Ok(()));
            t.release("carol");
        }
        assert_eq!(t.reserve("carol", t0), Ok(()));
    }
}
