//! The AutoDJ's settings: the loudness tracks are brought to, and how often each node checks that
//! every enabled AutoDJ is on air somewhere.

use super::{parse_range, ConfigError, Sourced};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct AutoDj {
    /// Integrated loudness (LUFS) every track is gained to (from its measured loudness).
    pub target_lufs: f64,
    /// Milliseconds between two checks that every enabled AutoDJ is on air (after a node died
    /// or restarted, or a live-only session ended).
    pub keeper_ms: u64,
}

impl AutoDj {
    pub fn keeper_every(&self) -> Duration {
        Duration::from_millis(self.keeper_ms)
    }
}

pub(super) fn autodj(values: &BTreeMap<&'static str, Sourced>) -> Result<AutoDj, ConfigError> {
    let get = |key: &'static str| values.get(key);
    Ok(AutoDj {
        target_lufs: parse_range(get("autodj_target_lufs"), "autodj_target_lufs", -40.0, -5.0)?,
        keeper_ms: parse_range(get("autodj_keeper_ms"), "autodj_keeper_ms", 200, 600_000)?,
    })
}
