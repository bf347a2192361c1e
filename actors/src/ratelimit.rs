//! A token bucket: `rate` tokens a second, at most `burst` saved up. Two per connection; the rate
//! and burst come from the shared configuration at each call, so a bucket is only its state.

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(burst: f64) -> Self {
        Self {
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes a token if there is one (refilled at `rate` a second, up to `burst`).
    pub fn take(&mut self, now: Instant, rate: f64, burst: f64) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(40.0);
        let mut take = |at| b.take(at, 20.0, 40.0);
        assert!((0..40).all(|_| take(t0)));
        assert!(!take(t0));
        assert!(take(t0 + Duration::from_millis(50)));
        assert!(!take(t0 + Duration::from_millis(50)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(100);
        assert_eq!((0..100).filter(|_| take(later)).count(), 40);
    }
}
