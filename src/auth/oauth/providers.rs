//! Talking to one provider: the authorization URL, the code exchange (with the PKCE verifier) and
//! reading who logged in, the way each provider tells it.

use super::http_client::ProviderHttp;
use super::{oidc, ProviderIdentity};
use crate::auth::AuthError;
use crate::config::oauth::{OAuthProvider, Provider};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The token response plus OpenID Connect's `id_token`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type TokenReply = StandardTokenResponse<IdTokenField, BasicTokenType>;
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenReply,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn client(config: &OAuthProvider, redirect_uri: &str) -> Result<Client, AuthError> {
    let url_error = |e: oauth2::url::ParseError| AuthError::Internal(format!("OAuth URL: {e}"));
    Ok(oauth2::Client::new(ClientId::new(config.client_id.clone()))
        .set_client_secret(ClientSecret::new(config.client_secret.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(config.auth_url.clone()).map_err(url_error)?)
        .set_token_uri(TokenUrl::new(config.token_url.clone()).map_err(url_error)?)
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(url_error)?))
}

fn scopes(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Google => &["openid", "email", "profile"],
        Provider::GitHub => &["read:user", "user:email"],
        Provider::Discord => &["identify", "email"],
    }
}

/// Where to send the browser: the provider's consent page for this `state`, PKCE challenge (S256)
/// and, for OpenID Connect, `nonce`.
pub fn authorize_url(
    config: &OAuthProvider,
    redirect_uri: &str,
    state: &str,
    verifier: &str,
    nonce: Option<&str>,
) -> Result<String, AuthError> {
    let client = client(config, redirect_uri)?;
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_owned()));
    let state = state.to_owned();
    let mut request = client
        .authorize_url(move || CsrfToken::new(state))
        .add_scopes(
            scopes(config.provider)
                .iter()
                .map(|s| Scope::new((*s).into())),
        )
        .set_pkce_challenge(challenge);
    if let Some(nonce) = nonce {
        request = request.add_extra_param("nonce", nonce.to_owned());
    }
    Ok(request.url().0.to_string())
}

/// Trades the code for tokens and reads the identity behind them.
pub fn identify(
    http: &ProviderHttp,
    keys: &oidc::JwksCache,
    config: &OAuthProvider,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
    nonce: Option<&str>,
) -> Result<ProviderIdentity, AuthError> {
    let reply = client(config, redirect_uri)?
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
        .request(&|r| http.call(r))
        .map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => {
                AuthError::OAuthFailed(format!("the provider refused the code: {}", r.error()))
            }
            // GitHub answers a refused code with 200 and an error body.
            RequestTokenError::Parse(_, body) => {
                match serde_json::from_slice::<BasicErrorResponse>(&body) {
                    Ok(r) => AuthError::OAuthFailed(format!(
                        "the provider refused the code: {}",
                        r.error()
                    )),
                    Err(_) => AuthError::OAuthProvider(
                        "exchanging the code: the provider's answer is not a token".into(),
                    ),
                }
            }
            other => AuthError::OAuthProvider(format!("exchanging the code: {other}")),
        })?;
    let access = reply.access_token().secret();
    match config.provider {
        Provider::Google => {
            let id_token =
                reply.extra_fields().id_token.as_deref().ok_or_else(|| {
                    AuthError::OAuthFailed("the provider sent no id_token".into())
                })?;
            oidc::verify(
                http,
                keys,
                id_token,
                &oidc::Expected {
                    jwks_url: config.jwks_url.as_deref().unwrap_or_default(),
                    issuer: config.issuer.as_deref().unwrap_or_default(),
                    client_id: &config.client_id,
                    nonce: nonce.unwrap_or_default(),
                },
            )
        }
        Provider::GitHub => github(http, api(config), access),
        Provider::Discord => discord(http, api(config), access),
    }
}

fn api(config: &OAuthProvider) -> &str {
    config.api_url.as_deref().unwrap_or_default()
}

fn fetch(http: &ProviderHttp, url: &str, token: &str) -> Result<Value, AuthError> {
    http.get_json(url, Some(token))
        .map_err(|e| AuthError::OAuthProvider(format!("reading the account: {e}")))
}

fn subject(user: &Value) -> Result<String, AuthError> {
    match &user["id"] {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(AuthError::OAuthProvider("the account has no id".into())),
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// GitHub: `/user` for the id and login, `/user/emails` for a verified (preferably primary) address.
fn github(http: &ProviderHttp, api: &str, token: &str) -> Result<ProviderIdentity, AuthError> {
    let user = fetch(http, &format!("{api}/user"), token)?;
    let emails = http
        .get_json(&format!("{api}/user/emails"), Some(token))
        .unwrap_or(Value::Null);
    let listed = emails.as_array().map(Vec::as_slice).unwrap_or_default();
    let verified = listed
        .iter()
        .filter(|e| e["verified"].as_bool() == Some(true))
        .max_by_key(|e| e["primary"].as_bool() == Some(true))
        .and_then(|e| text(&e["email"]));
    let (email, email_verified) = match verified {
        Some(e) => (Some(e), true),
        None => (text(&user["email"]), false),
    };
    Ok(ProviderIdentity {
        subject: subject(&user)?,
        email,
        email_verified,
        name: text(&user["login"]).or_else(|| text(&user["name"])),
    })
}

/// Discord: `/users/@me` (`verified` is about its `email`).
fn discord(http: &ProviderHttp, api: &str, token: &str) -> Result<ProviderIdentity, AuthError> {
    let user = fetch(http, &format!("{api}/users/@me"), token)?;
    Ok(ProviderIdentity {
        subject: subject(&user)?,
        email: text(&user["email"]),
        email_verified: user["verified"].as_bool() == Some(true),
        name: text(&user["username"]).or_else(|| text(&user["global_name"])),
    })
}
