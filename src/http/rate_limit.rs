//! Per-IP request limit for the account endpoints (register, login), against password guessing and
//! sign-up floods. GCRA in memory on this node: `per_minute` requests may come in a burst, then one
//! every `60 / per_minute` seconds. (Shared limits in Redis come with the security issue.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries are dropped once their bucket is full again; this bounds how often that sweep runs.
const SWEEP_AT: usize = 10_000;

pub struct IpRateLimiter {
    /// Per IP, the "theoretical arrival time" of GCRA: when its bucket will be empty again.
    tat: Mutex<HashMap<IpAddr, Instant>>,
    interval: Duration,
    tolerance: Duration,
    enabled: bool,
}

impl IpRateLimiter {
    /// `per_minute` = 0 disables the limit.
    pub fn new(per_minute: u32) -> Self {
        let n = per_minute.max(1);
        let interval = Duration::from_secs(60) / n;
        Self {
            tat: Mutex::new(HashMap::new()),
            interval,
            tolerance: interval * (n - 1),
            enabled: per_minute > 0,
        }
    }

    /// Ok if `ip` may make a request at `now`; else how long until it may.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        if !self.enabled {
            return Ok(());
        }
        let mut map = self
            .tat
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(&ip).copied().unwrap_or(now).max(now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        map.insert(ip, tat + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let limiter = IpRateLimiter::new(20);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..20 {
            assert!(limiter.check(ip, t0).is_ok(), "request {i} of the burst");
        }
        let wait = limiter.check(ip, t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(2) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        assert!(
            limiter.check(other, t0).is_ok(),
            "other IPs are not affected"
        );
        assert!(limiter.check(ip, t0 + Duration::from_secs(3)).is_ok());
        assert!(limiter.check(ip, t0 + Duration::from_secs(3)).is_err());
    }

    #[test]
    fn zero_disables_the_limit() {
        let limiter = IpRateLimiter::new(0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..1000).all(|_| limiter.check(ip, t0).is_ok()));
    }
}
