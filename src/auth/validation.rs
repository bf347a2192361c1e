//! Rules for usernames and passwords, checked before anything touches the store.

use super::AuthError;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const PASSWORD_MIN: usize = 10;
/// Bounded so a huge password cannot be used to make argon2 work for nothing.
pub const PASSWORD_MAX: usize = 256;

pub fn username(name: &str) -> Result<(), AuthError> {
    let len = name.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(AuthError::Validation(format!(
            "username must be {USERNAME_MIN}-{USERNAME_MAX} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(AuthError::Validation(
            "username may contain only letters, digits, '_', '.' and '-'".into(),
        ));
    }
    Ok(())
}

pub fn password(password: &str) -> Result<(), AuthError> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(AuthError::Validation(format!(
            "password must be at least {PASSWORD_MIN} characters"
        )));
    }
    if len > PASSWORD_MAX {
        return Err(AuthError::Validation(format!(
            "password must be at most {PASSWORD_MAX} characters"
        )));
    }
    Ok(())
}

pub fn email(email: &str) -> Result<(), AuthError> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(AuthError::Validation("email is not a valid address".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_rules() {
        for good in ["abc", "alice_01", "a.b-c", &"x".repeat(32)] {
            assert!(username(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            &"x".repeat(33),
            "has space",
            "émile",
            "semi;colon",
            "",
        ] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_10_to_256_characters() {
        assert!(password("123456789").is_err());
        assert!(password("1234567890").is_ok());
        assert!(password(&"p".repeat(256)).is_ok());
        assert!(password(&"p".repeat(257)).is_err());
    }

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(email("a@example.org").is_ok());
        assert!(email("example.org").is_err());
        assert!(email("@example.org").is_err());
        assert!(email("a b@example.org").is_err());
    }
}
