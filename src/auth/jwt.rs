//! Access tokens: HS256 JWTs carrying the user, role and login session.

use super::{AuthError, Role};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use veza_actors::UserId;

/// The `iss` of every access token. A fixed name rather than `public_url`: nodes of one cluster
/// share the secret and must accept each other's tokens whatever URL each is reached at.
pub const ISSUER: &str = "veza";
/// The `aud` of every access token: the API. A token some other service minted with the same
/// secret (or one minted for another purpose later) is refused unless it names this audience.
pub const AUDIENCE: &str = "veza-api";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id, as a string.
    pub sub: String,
    pub role: Role,
    /// The login session (refresh-token family) this token was minted under; revoking the session
    /// invalidates the token before it expires.
    pub sid: String,
    /// Who minted the token: always [`ISSUER`].
    pub iss: String,
    /// Who the token is for: always [`AUDIENCE`].
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    /// Unique token id, for audit and future deny-lists.
    pub jti: String,
}

/// The signing and verification keys for one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256 is accepted: a token claiming `none` or another algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub", "iat", "iss", "aud"]);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs an access token for `user_id` valid for `ttl_s` seconds from `now_s`.
    pub fn issue(
        &self,
        user_id: UserId,
        role: Role,
        session_id: i64,
        now_s: u64,
        ttl_s: u64,
    ) -> Result<(String, Claims), AuthError> {
        let mut jti = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut jti);
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            sid: session_id.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now_s,
            exp: now_s + ttl_s,
            jti: hex::encode(jti),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Internal(format!("signing token: {e}")))?;
        Ok((token, claims))
    }

    /// Checks signature, algorithm, expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    AuthError::InvalidToken("access token expired")
                }
                _ => AuthError::InvalidToken("invalid access token"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        veza_actors::ids::now_ms() / 1000
    }

    #[test]
    fn issued_tokens_verify_with_the_same_key_only() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let (token, claims) = keys.issue(UserId(42), Role::User, 7, now(), 900).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), claims);
        assert_eq!(claims.exp - claims.iat, 900);
        let other = JwtKeys::new(b"another-key-another-key-another-key");
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn expired_and_unsigned_tokens_are_refused() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let (token, _) = keys
            .issue(UserId(42), Role::User, 7, now() - 1000, 60)
            .unwrap();
        assert!(matches!(
            keys.verify(&token),
            Err(AuthError::InvalidToken("access token expired"))
        ));
        // alg "none": header and payload with an empty signature.
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(
            format!(
                r#"{{"sub":"1","role":"admin","sid":"1","iat":{},"exp":{},"jti":"x"}}"#,
                now(),
                now() + 900
            )
            .as_bytes(),
        );
        assert!(keys.verify(&format!("{header}.{body}.")).is_err());
    }

    /// Signs `claims` with the right key and algorithm, as a token minted elsewhere would be.
    fn sign(secret: &[u8], claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn claims_with(iss: Option<&str>, aud: Option<&str>) -> serde_json::Value {
        let mut claims = serde_json::json!({
            "sub": "42", "role": "user", "sid": "7", "iat": now(), "exp": now() + 900, "jti": "x",
        });
        if let Some(iss) = iss {
            claims["iss"] = iss.into();
        }
        if let Some(aud) = aud {
            claims["aud"] = aud.into();
        }
        claims
    }

    #[test]
    fn tokens_carry_the_issuer_and_audience() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let (_, claims) = keys.issue(UserId(42), Role::User, 7, now(), 900).unwrap();
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            (ISSUER, AUDIENCE)
        );
    }

    #[test]
    fn tokens_with_a_wrong_or_missing_issuer_or_audience_are_refused() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = JwtKeys::new(secret);
        let right = sign(secret, claims_with(Some(ISSUER), Some(AUDIENCE)));
        assert!(keys.verify(&right).is_ok(), "the control token must pass");
        for (iss, aud) in [
            (Some("someone-else"), Some(AUDIENCE)),
            (Some(ISSUER), Some("another-service")),
            (None, Some(AUDIENCE)),
            (Some(ISSUER), None),
            (None, None),
        ] {
            let token = sign(secret, claims_with(iss, aud));
            assert!(
                matches!(
                    keys.verify(&token),
                    Err(AuthError::InvalidToken("invalid access token"))
                ),
                "iss {iss:?}, aud {aud:?} must be refused"
            );
        }
    }
}
