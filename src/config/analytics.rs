//! Stream analytics settings: how often listener sessions are written, when an HLS listener has
//! left, how long raw sessions are kept before they are folded into per-minute aggregates.

use super::{parse_range, ConfigError, Sourced};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Analytics {
    /// Milliseconds between two batch writes of session starts and ends (a listener never waits
    /// on the store; this is how stale the store's view of them may be).
    pub flush_ms: u64,
    /// Seconds without a playlist poll after which an HLS session has ended.
    pub hls_timeout_s: u64,
    /// Seconds a session is kept raw after it ended; then it is folded into the aggregates.
    pub retention_s: u64,
    /// Seconds between two folds of expired sessions on each node.
    pub fold_s: u64,
}

impl Analytics {
    pub fn flush_every(&self) -> Duration {
        Duration::from_millis(self.flush_ms)
    }

    pub fn hls_timeout(&self) -> Duration {
        Duration::from_secs(self.hls_timeout_s)
    }

    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_s)
    }

    pub fn fold_every(&self) -> Duration {
        Duration::from_secs(self.fold_s)
    }
}

pub(super) fn analytics(
    values: &BTreeMap<&'static str, Sourced>,
) -> Result<Analytics, ConfigError> {
    let get = |key: &'static str| values.get(key);
    Ok(Analytics {
        flush_ms: parse_range(get("analytics_flush_ms"), "analytics_flush_ms", 50, 60_000)?,
        hls_timeout_s: parse_range(
            get("analytics_hls_timeout_s"),
            "analytics_hls_timeout_s",
            1,
            3600,
        )?,
        retention_s: parse_range(
            get("analytics_retention_s"),
            "analytics_retention_s",
            1,
            31_536_000,
        )?,
        fold_s: parse_range(get("analytics_fold_s"), "analytics_fold_s", 1, 86_400)?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use std::collections::HashMap;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, super::ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(None, move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_bounds() {
        let a = load(&[]).unwrap().analytics;
        assert_eq!(
            (a.flush_ms, a.hls_timeout_s, a.retention_s, a.fold_s),
            (2000, 30, 604_800, 600)
        );
        let a = load(&[("VEZA_ANALYTICS_HLS_TIMEOUT_S", "3")])
            .unwrap()
            .analytics;
        assert_eq!(a.hls_timeout().as_secs(), 3);
        let err = load(&[("VEZA_ANALYTICS_FLUSH_MS", "10")]).unwrap_err();
        assert!(err.to_string().contains("`analytics_flush_ms`"), "{err}");
        let err = load(&[("VEZA_ANALYTICS_RETENTION_S", "0")]).unwrap_err();
        assert!(err.to_string().contains("`analytics_retention_s`"), "{err}");
    }
}
