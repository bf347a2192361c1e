//! The track library's settings: how large one track may be and how much one user may keep.

use super::{parse_range, ConfigError, Sourced};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Tracks {
    /// Largest audio file one track upload may carry, in bytes (more: 413 `too_large`).
    pub max_bytes: u64,
    /// Bytes one user's tracks may take in all, 0 for no quota (more: 413 `quota_exceeded`,
    /// as for attachments).
    pub quota_bytes: u64,
}

pub(super) fn tracks(values: &BTreeMap<&'static str, Sourced>) -> Result<Tracks, ConfigError> {
    let get = |key: &'static str| values.get(key);
    let config = Tracks {
        max_bytes: parse_range(get("track_max_bytes"), "track_max_bytes", 1, 1 << 40)?,
        quota_bytes: parse_range(get("track_quota_bytes"), "track_quota_bytes", 0, 1 << 50)?,
    };
    if config.quota_bytes != 0 && config.quota_bytes < config.max_bytes {
        return Err(super::invalid(
            get("track_quota_bytes"),
            "track_quota_bytes",
            format!(
                "{} is smaller than track_max_bytes ({}): no track of the largest size could \
                 ever be uploaded; raise it, or lower track_max_bytes",
                config.quota_bytes, config.max_bytes
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
    fn defaults_are_200_mib_and_2_gib() {
        let c = load(&[]).unwrap();
        assert_eq!(c.tracks.max_bytes, 200 << 20);
        assert_eq!(c.tracks.quota_bytes, 2 << 30);
    }

    #[test]
    fn a_quota_below_the_size_limit_is_refused_by_name() {
        let err = load(&[
            ("VEZA_TRACK_MAX_BYTES", "1000"),
            ("VEZA_TRACK_QUOTA_BYTES", "999"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("`track_quota_bytes`"), "{err}");
        let err = load(&[("VEZA_TRACK_MAX_BYTES", "0")]).unwrap_err();
        assert!(err.to_string().contains("`track_max_bytes`"), "{err}");
        assert!(load(&[("VEZA_TRACK_QUOTA_BYTES", "0")]).is_ok());
    }
}
