//! The schedule ticker's settings: how often each node looks for occurrences that started, and
//! how late an occurrence may still be announced.

use super::{parse_range, ConfigError, Sourced};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Schedules {
    /// Milliseconds between two looks for due occurrences (an announcement is at most this late).
    pub tick_ms: u64,
    /// Occurrences that started longer ago than this are not announced: a node back from an
    /// outage catches up on the last few minutes, not on history.
    pub grace_s: u64,
}

impl Schedules {
    pub fn every(&self) -> Duration {
        Duration::from_millis(self.tick_ms)
    }

    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_s)
    }
}

pub(super) fn schedules(
    values: &BTreeMap<&'static str, Sourced>,
) -> Result<Schedules, ConfigError> {
    let get = |key: &'static str| values.get(key);
    let config = Schedules {
        tick_ms: parse_range(get("schedule_tick_ms"), "schedule_tick_ms", 100, 600_000)?,
        grace_s: parse_range(get("schedule_grace_s"), "schedule_grace_s", 1, 86_400)?,
    };
    if config.grace_s * 1000 < config.tick_ms {
        return Err(super::invalid(
            get("schedule_grace_s"),
            "schedule_grace_s",
            format!(
                "{} s is shorter than schedule_tick_ms ({} ms): occurrences could start and \
                 leave the window between two ticks and never be announced",
                config.grace_s, config.tick_ms
            ),
        ));
    }
    Ok(config)
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
        let c = load(&[]).unwrap();
        assert_eq!((c.schedules.tick_ms, c.schedules.grace_s), (5000, 300));
        let err = load(&[("VEZA_SCHEDULE_TICK_MS", "10")]).unwrap_err();
        assert!(err.to_string().contains("`schedule_tick_ms`"), "{err}");
        let err = load(&[
            ("VEZA_SCHEDULE_TICK_MS", "60000"),
            ("VEZA_SCHEDULE_GRACE_S", "30"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("`schedule_grace_s`"), "{err}");
    }
}
