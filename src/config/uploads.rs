//! The attachments' settings: how large one upload may be, how much one user may keep, and how
//! long a deleted message's files stay.

use super::{parse_range, ConfigError, Sourced};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Uploads {
    /// Largest file one upload may carry, in bytes (more: 413 `too_large`).
    pub max_bytes: u64,
    /// Bytes one user's uploads may take in all (more: 413 `quota_exceeded`).
    pub quota_bytes: u64,
    /// How long a deleted message's files are kept before the sweeper deletes them.
    pub grace_s: u64,
}

impl Uploads {
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_s)
    }
}

pub(super) fn uploads(values: &BTreeMap<&'static str, Sourced>) -> Result<Uploads, ConfigError> {
    let get = |key: &'static str| values.get(key);
    let config = Uploads {
        max_bytes: parse_range(get("upload_max_bytes"), "upload_max_bytes", 1, 1 << 40)?,
        quota_bytes: parse_range(get("upload_quota_bytes"), "upload_quota_bytes", 0, 1 << 50)?,
        grace_s: parse_range(get("upload_grace_s"), "upload_grace_s", 0, 365 * 86_400)?,
    };
    if config.quota_bytes != 0 && config.quota_bytes < config.max_bytes {
        return Err(super::invalid(
            get("upload_quota_bytes"),
            "upload_quota_bytes",
            format!(
                "{} is smaller than upload_max_bytes ({}): no file of the largest size could \
                 ever be uploaded; raise it, or lower upload_max_bytes",
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
    fn defaults_are_25_mib_a_gib_and_an_hour() {
        let c = load(&[]).unwrap();
        assert_eq!(c.uploads.max_bytes, 26_214_400);
        assert_eq!(c.uploads.quota_bytes, 1 << 30);
        assert_eq!(c.uploads.grace_s, 3600);
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = load(&[("VEZA_UPLOAD_MAX_BYTES", "0")]).unwrap_err();
        assert!(err.to_string().contains("`upload_max_bytes`"), "{err}");
        let err = load(&[("VEZA_UPLOAD_GRACE_S", "-1")]).unwrap_err();
        assert!(err.to_string().contains("`upload_grace_s`"), "{err}");
        let err = load(&[
            ("VEZA_UPLOAD_MAX_BYTES", "1000"),
            ("VEZA_UPLOAD_QUOTA_BYTES", "999"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("`upload_quota_bytes`"), "{err}");
        // 0: no quota.
        assert!(load(&[("VEZA_UPLOAD_QUOTA_BYTES", "0")]).is_ok());
    }
}
