//! OpenID Connect `id_token` checks (Google): RS256 signature against the provider's published
//! keys (JWKS), issuer, audience (our client id), expiry and the nonce of this login. The keys are
//! kept for an hour, and fetched again early when a token names a key not in them (the provider
//! rotated), at most once a minute.

use super::http_client::ProviderHttp;
use super::ProviderIdentity;
use crate::auth::AuthError;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const KEYS_FRESH_FOR: Duration = Duration::from_secs(3600);
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);

/// The provider's signing keys, as last fetched.
#[derive(Default)]
pub struct JwksCache {
    last: Mutex<Option<(Instant, String, JwkSet)>>,
}

impl JwksCache {
    /// The key `kid` names (or the only key, when the token names none).
    fn key(
        &self,
        http: &ProviderHttp,
        url: &str,
        kid: Option<&str>,
    ) -> Result<Option<Jwk>, AuthError> {
        let pick = |keys: &JwkSet| match kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        let now = Instant::now();
        {
            let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, cached_url, keys)) = last.as_ref() {
                let age = now.duration_since(*at);
                if cached_url == url && age < KEYS_FRESH_FOR {
                    let found = pick(keys);
                    if found.is_some() || age < REFETCH_AT_MOST_EVERY {
                        return Ok(found);
                    }
                }
            }
        }
        let keys: JwkSet =
            serde_json::from_value(http.get_json(url, None).map_err(|e| {
                AuthError::OAuthProvider(format!("fetching the signing keys: {e}"))
            })?)
            .map_err(|e| {
                AuthError::OAuthProvider(format!("the signing keys are not a JWKS: {e}"))
            })?;
        let found = pick(&keys);
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, url.to_owned(), keys));
        Ok(found)
    }
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    email: Option<String>,
    #[serde(default)]
    email_verified: bool,
    name: Option<String>,
    nonce: Option<String>,
}

/// What an `id_token` must match.
pub struct Expected<'a> {
    pub jwks_url: &'a str,
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
}

/// Checks `id_token` and returns the identity it vouches for.
pub fn verify(
    http: &ProviderHttp,
    keys: &JwksCache,
    id_token: &str,
    expected: &Expected<'_>,
) -> Result<ProviderIdentity, AuthError> {
    let bad = |why: &str| AuthError::OAuthFailed(format!("the id_token is not valid: {why}"));
    let header = decode_header(id_token).map_err(|e| bad(&e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(bad("it is not signed with RS256"));
    }
    let jwk = keys
        .key(http, expected.jwks_url, header.kid.as_deref())?
        .ok_or_else(|| bad("signed with a key the provider does not publish"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| bad(&e.to_string()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[expected.client_id]);
    // Google issues both spellings.
    let bare = expected.issuer.trim_start_matches("https://");
    validation.set_issuer(&[expected.issuer, bare]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 60;
    let claims = decode::<IdClaims>(id_token, &key, &validation)
        .map_err(|e| bad(&e.to_string()))?
        .claims;
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
        crate::auth::opaque::matches(n, &crate::auth::opaque::hash(expected.nonce))
    });
    if !nonce_ok {
        return Err(bad("its nonce is not this login's"));
    }
    Ok(ProviderIdentity {
        subject: claims.sub,
        email: claims.email,
        email_verified: claims.email_verified,
        name: claims.name,
    })
}
