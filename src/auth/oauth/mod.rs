//! Log in with Google (OpenID Connect), GitHub or Discord: authorization code flow with PKCE (S256)
//! and a one-time `state` bound to the browser, the identity read from the provider, then an account
//! found, linked by a verified address, or created. [`flow`] holds the account rules; this module the
//! configured providers.

pub mod flow;
pub mod http_client;
pub mod oidc;
pub mod providers;

use crate::config::oauth::{OAuthProvider, Provider};
use crate::config::Config;
use http_client::ProviderHttp;

/// Who logged in, as the provider tells it.
#[derive(Debug, Clone)]
pub struct ProviderIdentity {
    /// The provider's stable account id (`sub`, GitHub's numeric id, Discord's snowflake).
    pub subject: String,
    pub email: Option<String>,
    /// The provider vouches that the account owns `email`.
    pub email_verified: bool,
    /// A display or login name, to suggest a username from.
    pub name: Option<String>,
}

/// The providers switched on in the configuration, and how to reach them.
#[derive(Clone, Default)]
pub struct OAuthClients {
    providers: Vec<OAuthProvider>,
    base_url: String,
    pub(crate) http: ProviderHttp,
    /// Google's signing keys, shared by the request threads.
    pub(crate) jwks: std::sync::Arc<oidc::JwksCache>,
}

impl OAuthClients {
    pub fn new(config: &Config) -> Self {
        Self {
            providers: config.oauth.clone(),
            base_url: config.base_url(),
            http: ProviderHttp::default(),
            jwks: Default::default(),
        }
    }

    pub fn get(&self, provider: Provider) -> Option<&OAuthProvider> {
        self.providers.iter().find(|p| p.provider == provider)
    }

    pub fn enabled(&self) -> Vec<Provider> {
        self.providers.iter().map(|p| p.provider).collect()
    }

    /// Where the provider sends the browser back to (registered with the provider).
    pub fn redirect_uri(&self, provider: Provider) -> String {
        format!(
            "{}/api/v2/auth/oauth/{}/callback",
            self.base_url,
            provider.as_str()
        )
    }

    /// The web page, where a finished login lands.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}
