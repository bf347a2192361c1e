//! The JWT signing secret: refused in production when weak, generated and kept on disk in development.

use super::ConfigError;
use rand::RngCore;
use std::io::Write;
use std::path::Path;

/// Values people leave in example files; never accepted in production.
const KNOWN_DEFAULTS: &[&str] = &[
    "change-me",
    "changeme",
    "secret",
    "dev",
    "development",
    "veza",
    "jwt-secret",
];
pub const MIN_PRODUCTION_LEN: usize = 32;

/// Production needs a configured secret of at least 32 bytes that is not a known placeholder.
pub fn check_production_secret(secret: Option<&str>) -> Result<(), ConfigError> {
    let secret =
        secret.ok_or_else(|| ConfigError::Secret("must be set when VEZA_ENV=production".into()))?;
    if KNOWN_DEFAULTS
        .iter()
        .any(|d| secret.eq_ignore_ascii_case(d) || secret.to_lowercase().starts_with("change-me"))
    {
        return Err(ConfigError::Secret(
            "is a placeholder value; generate one with `openssl rand -hex 32`".into(),
        ));
    }
    if secret.len() < MIN_PRODUCTION_LEN {
        return Err(ConfigError::Secret(format!(
            "is {} bytes; production needs at least {MIN_PRODUCTION_LEN}",
            secret.len()
        )));
    }
    Ok(())
}

/// Outcome of [`load_or_create_dev_secret`], so the caller can log the right warning.
pub enum DevSecret {
    Loaded(String),
    Created(String),
}

/// Reads `DATA_DIR/jwt_secret`, creating it (random, mode 0600) on first start.
pub fn load_or_create_dev_secret(data_dir: &Path) -> std::io::Result<DevSecret> {
    let path = data_dir.join("jwt_secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= MIN_PRODUCTION_LEN => {
            return Ok(DevSecret::Loaded(s.trim().into()))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(secret.as_bytes())?;
    Ok(DevSecret::Created(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_secret_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = match load_or_create_dev_secret(dir.path()).unwrap() {
            DevSecret::Created(s) => s,
            DevSecret::Loaded(_) => panic!("nothing to load yet"),
        };
        assert_eq!(first.len(), 64);
        match load_or_create_dev_secret(dir.path()).unwrap() {
            DevSecret::Loaded(s) => assert_eq!(s, first),
            DevSecret::Created(_) => panic!("should reuse the stored secret"),
        }
    }
}
