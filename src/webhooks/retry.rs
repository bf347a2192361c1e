//! What an attempt's outcome means for its delivery: done, try again later (exponential backoff
//! with jitter), or give up; and which outcomes count against the endpoint's circuit breaker.

use std::time::Duration;

/// The retry and circuit-breaker settings (from the `webhook_*` configuration keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first failed attempt; it doubles with each further one.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
    /// Attempts in all before a delivery is `failed`.
    pub max_attempts: u32,
    /// Failures in a row (of any of the hook's deliveries) that open its circuit.
    pub circuit_failures: u32,
    /// How long an open circuit holds calls back before one trial call.
    pub circuit_open: Duration,
}

/// How one call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// The endpoint answered with this status (and `Retry-After` seconds, if it sent them).
    Status { code: u16, retry_after: Option<u64> },
    /// No answer: connection refused or reset, timeout, name not found.
    Transport(String),
    /// The address is not one webhooks may call (any more).
    Refused(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth another attempt; counts against the circuit.
    Retry,
    /// Will not get better by trying again (a 4xx, a redirect, a refused address).
    GiveUp,
}

pub fn verdict(result: &CallResult) -> Verdict {
    match result {
        CallResult::Status { code, .. } => match code {
            200..=299 => Verdict::Delivered,
            408 | 425 | 429 | 500..=599 => Verdict::Retry,
            _ => Verdict::GiveUp,
        },
        CallResult::Transport(_) => Verdict::Retry,
        CallResult::Refused(_) => Verdict::GiveUp,
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1 = the first): `base * 2^(attempt-1)`,
    /// capped at `max`, of which the upper half is random (`jitter` in 0..1), so endpoints that
    /// come back are not hit by every queued delivery at the same moment. A `Retry-After` longer
    /// than that is honoured (up to `max`).
    pub fn backoff(&self, attempt: u32, jitter: f64, retry_after: Option<u64>) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let full = self
            .base
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .as_millis() as f64;
        let wait = full / 2.0 + full / 2.0 * jitter.clamp(0.0, 1.0);
        let asked = retry_after.map_or(0.0, |s| {
            (s as f64 * 1000.0).min(self.max.as_millis() as f64)
        });
        Duration::from_millis(wait.max(asked) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        base: Duration::from_secs(2),
        max: Duration::from_secs(60),
        max_attempts: 8,
        circuit_failures: 5,
        circuit_open: Duration::from_secs(60),
    };

    #[test]
    fn outcomes_are_classified() {
        let status = |code| CallResult::Status {
            code,
            retry_after: None,
        };
        assert_eq!(verdict(&status(204)), Verdict::Delivered);
        assert_eq!(verdict(&status(500)), Verdict::Retry);
        assert_eq!(verdict(&status(503)), Verdict::Retry);
        assert_eq!(verdict(&status(429)), Verdict::Retry);
        assert_eq!(verdict(&status(404)), Verdict::GiveUp);
        assert_eq!(verdict(&status(301)), Verdict::GiveUp);
        assert_eq!(
            verdict(&CallResult::Transport("refused".into())),
            Verdict::Retry
        );
        assert_eq!(
            verdict(&CallResult::Refused("private".into())),
            Verdict::GiveUp
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_in_the_upper_half_and_is_capped() {
        assert_eq!(POLICY.backoff(1, 0.0, None), Duration::from_secs(1));
        assert_eq!(POLICY.backoff(1, 1.0, None), Duration::from_secs(2));
        assert_eq!(POLICY.backoff(3, 1.0, None), Duration::from_secs(8));
        assert_eq!(POLICY.backoff(3, 0.5, None), Duration::from_secs(6));
        assert_eq!(POLICY.backoff(20, 1.0, None), Duration::from_secs(60));
        assert_eq!(POLICY.backoff(u32::MAX, 0.0, None), Duration::from_secs(30));
        // Retry-After wins when longer, never past the cap.
        assert_eq!(POLICY.backoff(1, 0.0, Some(10)), Duration::from_secs(10));
        assert_eq!(POLICY.backoff(1, 0.0, Some(3600)), Duration::from_secs(60));
    }
}
