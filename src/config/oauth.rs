//! The OAuth login providers in the configuration: a provider is on when its client id is set.

use super::{invalid, text, ConfigError, Sourced};
use serde::Serialize;
use std::collections::BTreeMap;

/// A login provider Veza knows how to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenID Connect: identity from the checked `id_token`.
    Google,
    /// OAuth2 + REST API: `/user` and `/user/emails`.
    GitHub,
    /// OAuth2 + REST API: `/users/@me`.
    Discord,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Google, Provider::GitHub, Provider::Discord];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
            Provider::Discord => "discord",
        }
    }

    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// One configured provider: who we are to it and where its endpoints are.
#[derive(Debug, Clone, Serialize)]
pub struct OAuthProvider {
    pub provider: Provider,
    pub client_id: String,
    /// Never printed.
    #[serde(skip_serializing)]
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    /// GitHub and Discord: the REST API base the identity is read from.
    pub api_url: Option<String>,
    /// Google: the signing keys and issuer of the `id_token`.
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
}

/// The providers whose client id is set, with their endpoints checked to be URLs.
pub(super) fn providers(
    values: &BTreeMap<&'static str, Sourced>,
) -> Result<Vec<OAuthProvider>, ConfigError> {
    let mut out = Vec::new();
    for provider in Provider::ALL {
        let name = provider.as_str();
        let key = |field: &str| -> &'static str {
            super::KEYS
                .iter()
                .map(|k| k.name)
                .find(|k| *k == format!("oauth_{name}_{field}"))
                .unwrap_or("")
        };
        let get = |field: &str| values.get(key(field));
        let Some(client_id) = get("client_id")
            .map(|s| s.value.trim().to_owned())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        let client_secret = text(get("client_secret"), key("client_secret")).map_err(|_| {
            invalid(
                get("client_secret"),
                key("client_secret"),
                format!("{} is set: set its client secret too", key("client_id")),
            )
        })?;
        let url = |field: &str| -> Result<String, ConfigError> {
            let value = text(get(field), key(field))?;
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value.trim_end_matches('/').to_owned())
            } else {
                Err(invalid(
                    get(field),
                    key(field),
                    format!("{value:?} is not an http(s) URL"),
                ))
            }
        };
        let (api_url, jwks_url, issuer) = match provider {
            Provider::Google => (
                None,
                Some(url("jwks_url")?),
                Some(text(get("issuer"), key("issuer"))?),
            ),
            Provider::GitHub | Provider::Discord => (Some(url("api_url")?), None, None),
        };
        out.push(OAuthProvider {
            provider,
            client_id,
            client_secret,
            auth_url: url("auth_url")?,
            token_url: url("token_url")?,
            api_url,
            jwks_url,
            issuer,
        });
    }
    Ok(out)
}

/// `public_url` without a trailing slash, checked to be an http(s) URL.
pub(super) fn public_url(sourced: Option<&Sourced>) -> Result<Option<String>, ConfigError> {
    let Some(value) = sourced
        .map(|s| s.value.trim().trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(Some(value))
    } else {
        Err(invalid(
            sourced,
            "public_url",
            format!("{value:?} is not a URL like https://chat.example.org"),
        ))
    }
}
