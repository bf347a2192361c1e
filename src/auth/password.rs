//! argon2id password hashing with the OWASP parameters (m = 19 MiB, t = 2, p = 1). CPU-bound (~tens
//! of ms): call from a blocking thread.

use super::AuthError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(19_456, 2, 1, None)
        .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) for `password`.
pub fn hash(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(format!("argon2: {e}")))
}

/// True if `password` matches the stored PHC string. A malformed stored hash is an error, not a
/// mismatch, so a corrupted row shows up in the logs.
pub fn verify(password: &str, stored: &str) -> Result<bool, AuthError> {
    let parsed = PasswordHash::new(stored)
        .map_err(|e| AuthError::Internal(format!("stored password hash is malformed: {e}")))?;
    Ok(hasher()?
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Burns the same time as a real verification, for logins with an unknown username, so response
/// time does not reveal which usernames exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(stored) = DUMMY.get_or_init(|| hash("veza-dummy-password").ok()) {
        let _ignored_by_design = verify(password, stored);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let stored = hash("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery", &stored).unwrap());
        assert!(!verify("wrong horse battery", &stored).unwrap());
        assert_ne!(stored, hash("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn a_corrupt_stored_hash_is_an_error() {
        assert!(verify("x", "not-a-phc-string").is_err());
    }
}
