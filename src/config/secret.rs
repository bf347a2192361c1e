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
/// Fewer distinct characters than this is a typed or patterned secret, not a generated one. A random
/// 32-character hex key (the shortest accepted) shows 14 of its 16 on average, but 9 or fewer once in
/// about 10,000 keys and 6 or fewer once in 5*10^9: the bar sits there, so generated keys pass.
pub const MIN_DISTINCT_CHARS: usize = 7;
/// The least [`estimated_entropy_bits`] production accepts. The estimate under-reads random text:
/// a random 32-character hex key (128 real bits) reads about 115 (the letters' entropy in so short
/// a sample, about 3.6 bits each, times 32); the lowest of 200,000 sampled read 87, and under 72
/// needs a handful of distinct characters. Repeats and patterns read under 70: `abcabc...` 5,
/// `test-secret-test-secret-...` 46, `0123456789abcdef` twice 64.
pub const MIN_ENTROPY_BITS: f64 = 72.0;
/// Repeats shorter than this are ordinary coincidences, not a pattern (a random 32-character hex
/// key repeats 4 characters once in 170 keys, 6 once in 50,000).
const MIN_REPEAT: usize = 6;
/// Only this much of a longer secret is examined: it is already far past the bar if it is random.
const EXAMINED: usize = 256;

/// Production needs a configured secret of at least 32 bytes that is not a known placeholder,
/// has at least [`MIN_DISTINCT_CHARS`] distinct characters and does not repeat itself.
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
    check_entropy(secret.as_bytes())
}

/// Refuses secrets long enough but made by hand: too few distinct characters, or repeats.
fn check_entropy(secret: &[u8]) -> Result<(), ConfigError> {
    let secret = &secret[..secret.len().min(EXAMINED)];
    let distinct = distinct_bytes(secret);
    if distinct < MIN_DISTINCT_CHARS {
        return Err(ConfigError::Secret(format!(
            "uses only {distinct} distinct characters; production needs at least \
             {MIN_DISTINCT_CHARS}: generate one with `openssl rand -hex 32`"
        )));
    }
    let bits = estimated_entropy_bits(secret);
    if bits < MIN_ENTROPY_BITS {
        return Err(ConfigError::Secret(format!(
            "repeats itself or follows a pattern (about {bits:.0} bits of entropy; production \
             needs {MIN_ENTROPY_BITS:.0}): generate one with `openssl rand -hex 32`"
        )));
    }
    Ok(())
}

fn distinct_bytes(secret: &[u8]) -> usize {
    let mut seen = [false; 256];
    secret.iter().for_each(|&b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count()
}

/// A deliberately rough estimate of a secret's entropy: the Shannon entropy per character of its
/// letters, times the number of characters that are not part of a repeat of earlier text (so
/// `test-secret-test-secret-` counts its twelve new characters once).
pub fn estimated_entropy_bits(secret: &[u8]) -> f64 {
    shannon_bits_per_char(secret) * novel_chars(secret) as f64
}

fn shannon_bits_per_char(secret: &[u8]) -> f64 {
    let mut counts = [0usize; 256];
    secret.iter().for_each(|&b| counts[usize::from(b)] += 1);
    let n = secret.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Characters left once every run of at least [`MIN_REPEAT`] that already occurred earlier (an
/// LZ77-style match, overlaps allowed so `aaaa...` is one `a` and a repeat) is skipped.
fn novel_chars(secret: &[u8]) -> usize {
    let (mut i, mut novel) = (0, 0);
    while i < secret.len() {
        let repeat = (0..i)
            .map(|j| common_prefix(&secret[j..], &secret[i..]))
            .max()
            .unwrap_or(0);
        if repeat >= MIN_REPEAT {
            i += repeat;
        } else {
            novel += 1;
            i += 1;
        }
    }
    novel
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
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
    fn generated_secrets_pass_and_patterned_ones_do_not() {
        let reason = |s: &str| match check_production_secret(Some(s)) {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        };
        for weak in [
            "a".repeat(40),
            "abc".repeat(14),
            "0123456789".repeat(4),
            "test-secret-test-secret-test-secret-0123".into(),
            "password1234password1234password1234".into(),
            "0123456789abcdef0123456789abcdef".into(),
        ] {
            let why = reason(&weak).unwrap_or_else(|| panic!("{weak} must be refused"));
            assert!(
                why.contains("jwt_secret")
                    && (why.contains("distinct characters") || why.contains("pattern")),
                "{weak}: {why}"
            );
        }
        for _ in 0..200 {
            let mut bytes = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let hex = hex::encode(bytes);
            assert_eq!(reason(&hex), None, "a random 128-bit hex key: {hex}");
        }
        // Random keys from the tail the old bars refused (fewer than 10 distinct): one CI run drew
        // the first.
        for unlucky in [
            "ea460e457602e26645cc66576040a770",
            "d13af11ad1aefd6a1a3f1ff6122a22ea",
        ] {
            assert_eq!(reason(unlucky), None, "{unlucky}");
        }
        assert_eq!(reason("k3Jd9aLq0Zx7Vb2Nm5Rt8Yw1Pe4Uo6Ii9Ss3Dd"), None);
    }

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
