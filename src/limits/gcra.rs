//! GCRA (the generic cell rate algorithm): `limit` requests may come in a burst, then one every
//! `period / limit`. One number per key, the "theoretical arrival time" (TAT). The same arithmetic
//! runs in memory here and in Redis (the Lua script in `redis.rs`).

/// A rule: `limit` requests per `period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub period_ms: i64,
}

impl Rule {
    pub fn per_minute(limit: u32) -> Self {
        Self {
            limit,
            period_ms: 60_000,
        }
    }

    pub fn interval_ms(&self) -> i64 {
        self.period_ms / i64::from(self.limit.max(1))
    }

    pub fn tolerance_ms(&self) -> i64 {
        self.interval_ms() * i64::from(self.limit.max(1) - 1)
    }
}

/// What a check decided, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests left in the burst after this one.
    pub remaining: u32,
    /// Milliseconds until the bucket is full again (`RateLimit-Reset`).
    pub reset_ms: i64,
    /// When refused: milliseconds until one request is allowed (`Retry-After`).
    pub retry_after_ms: i64,
}

/// Decides for one request at `now_ms` given the key's stored TAT; returns the decision and the
/// TAT to store (unchanged when refused).
pub fn decide(rule: Rule, tat: Option<i64>, now_ms: i64) -> (Decision, i64) {
    let interval = rule.interval_ms();
    let tolerance = rule.tolerance_ms();
    let tat = tat.unwrap_or(now_ms).max(now_ms);
    let ahead = tat - now_ms;
    if ahead > tolerance {
        let decision = Decision {
            allowed: false,
            remaining: 0,
            reset_ms: ahead,
            retry_after_ms: ahead - tolerance,
        };
        return (decision, tat);
    }
    let new_tat = tat + interval;
    let left = (tolerance - (new_tat - now_ms - interval)).max(0) / interval.max(1);
    let decision = Decision {
        allowed: true,
        remaining: left as u32,
        reset_ms: new_tat - now_ms,
        retry_after_ms: 0,
    };
    (decision, new_tat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let rule = Rule::per_minute(3);
        let mut tat = None;
        let mut remaining = Vec::new();
        for _ in 0..3 {
            let (d, t) = decide(rule, tat, 0);
            assert!(d.allowed);
            remaining.push(d.remaining);
            tat = Some(t);
        }
        assert_eq!(remaining, vec![2, 1, 0]);
        let (d, t) = decide(rule, tat, 0);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_ms, 20_000);
        assert_eq!(Some(t), tat, "a refusal does not move the TAT");
        assert!(decide(rule, tat, 20_000).0.allowed);
    }
}
