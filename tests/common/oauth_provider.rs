//! A real OAuth2 / OpenID Connect provider for the tests, speaking the protocol over HTTP on its
//! own port: Google-style (`/google`: id_token signed RS256, JWKS), GitHub-style (`/github`: API
//! `/user`, `/user/emails`) and Discord-style (`/discord`: `/users/@me`). It checks what a real
//! provider checks: client id and secret, registered redirect URI, PKCE S256 verifier against the
//! challenge, codes good once (a replayed code is `invalid_grant`).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "veza-test-client";
pub const CLIENT_SECRET: &str = "veza-test-secret";
const KEY_PEM: &[u8] = include_bytes!("oauth_test_key.pem");
const KEY_N: &str = "_SHGexzgZjJgcn-k57qrW4NPsEpCrFu3hw8Pb2w-6-E8TPFUHWHI92ll6iZwkbFUfxAG5qlNRKwHagEYbmXZumSnsG0JbASIKxQv2HNQDnqyHy1x4U4ZoAPBSnKO8TmZNchZVhT5rNFf3c89LQ7uxDSI1y5Rp3yyDqOvHYXT__7vgzg65I24pUq1t7xh4uKI5z8tixPxw2_eflNRY3zOhlcQ5Y_46N6JW3k4KxI5013LilRZTj1CDj-5dN24h4pPGTcZ34brWFL4mYhDxXpUwp7SlQdX-Tka28qDalvfJkQFsn_enVSWiar6SEnvUiR9qk6CuoqUV0ZoMT8cEmC35w";

/// The provider account that "logs in" at the consent page.
#[derive(Debug, Clone)]
pub struct Account {
    pub subject: String,
    pub name: String,
    pub email: String,
    pub verified: bool,
}

impl Account {
    pub fn new(subject: &str, name: &str, email: &str, verified: bool) -> Self {
        Self {
            subject: subject.into(),
            name: name.into(),
            email: email.into(),
            verified,
        }
    }
}

#[derive(Debug, Clone)]
struct Grant {
    challenge: String,
    redirect_uri: String,
    nonce: Option<String>,
    account: Account,
    flavour: String,
    used: bool,
}

/// A defect to put into the id_tokens, to see each check refuse it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdTokenFault {
    #[default]
    None,
    /// Issued to another client.
    WrongAudience,
    /// From another issuer.
    WrongIssuer,
    /// Not this login's nonce.
    WrongNonce,
    /// Expired an hour ago.
    Expired,
    /// The payload changed after signing.
    Tampered,
}

#[derive(Default)]
struct Inner {
    /// Who consents next (per flavour).
    next: HashMap<String, Account>,
    /// The user declines at the consent page.
    deny: bool,
    /// What is wrong with the id_tokens issued.
    fault: IdTokenFault,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Account>,
    /// Redirect URIs registered for the client.
    redirect_prefix: String,
    /// How often the signing keys were fetched.
    jwks_fetches: u32,
}

pub struct Provider {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    handle: actix_web::dev::ServerHandle,
}

impl Provider {
    /// Starts the provider; `redirect_prefix` is the registered redirect URI prefix (the Veza
    /// server's base URL).
    pub fn start(redirect_prefix: &str) -> Provider {
        let inner = Arc::new(Mutex::new(Inner {
            redirect_prefix: redirect_prefix.to_owned(),
            ..Inner::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind provider");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let data = web::Data::new((inner.clone(), url.clone()));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/{flavour}/authorize", web::get().to(authorize))
                .route("/{flavour}/token", web::post().to(token))
                .route("/google/jwks", web::get().to(jwks))
                .route("/github/api/user", web::get().to(github_user))
                .route("/github/api/user/emails", web::get().to(github_emails))
                .route("/discord/api/users/@me", web::get().to(discord_me))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Provider { url, inner, handle }
    }

    /// The Veza configuration (environment variables) that points all three providers here.
    pub fn config_pairs(&self) -> Vec<(String, String)> {
        let u = &self.url;
        let mut pairs = vec![];
        for p in ["google", "github", "discord"] {
            pairs.push((format!("oauth_{p}_client_id"), CLIENT_ID.to_owned()));
            pairs.push((format!("oauth_{p}_client_secret"), CLIENT_SECRET.to_owned()));
            pairs.push((format!("oauth_{p}_auth_url"), format!("{u}/{p}/authorize")));
            pairs.push((format!("oauth_{p}_token_url"), format!("{u}/{p}/token")));
        }
        pairs.push(("oauth_google_jwks_url".into(), format!("{u}/google/jwks")));
        pairs.push(("oauth_google_issuer".into(), format!("{u}/google")));
        pairs.push(("oauth_github_api_url".into(), format!("{u}/github/api")));
        pairs.push(("oauth_discord_api_url".into(), format!("{u}/discord/api")));
        pairs
            .into_iter()
            .map(|(k, v)| (format!("VEZA_{}", k.to_uppercase()), v))
            .collect()
    }

    /// Registers the Veza server's base URL (known once it listens) for redirects.
    pub fn set_redirect_prefix(&self, prefix: &str) {
        self.inner.lock().unwrap().redirect_prefix = prefix.to_owned();
    }

    /// The next login at `flavour`'s consent page is `account`'s.
    pub fn next_login(&self, flavour: &str, account: Account) {
        self.inner
            .lock()
            .unwrap()
            .next
            .insert(flavour.into(), account);
    }

    pub fn set_deny(&self, deny: bool) {
        self.inner.lock().unwrap().deny = deny;
    }

    pub fn set_id_token_fault(&self, fault: IdTokenFault) {
        self.inner.lock().unwrap().fault = fault;
    }

    pub fn jwks_fetches(&self) -> u32 {
        self.inner.lock().unwrap().jwks_fetches
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

type Data = web::Data<(Arc<Mutex<Inner>>, String)>;

fn random() -> String {
    let bytes: [u8; 24] = rand::thread_rng().gen();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn oauth_error(status: u16, error: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .json(json!({"error": error}))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    nonce: Option<String>,
}

async fn authorize(
    data: Data,
    flavour: web::Path<String>,
    q: web::Query<AuthorizeQuery>,
) -> HttpResponse {
    let mut inner = data.0.lock().unwrap();
    let redirect = q.redirect_uri.clone().unwrap_or_default();
    let expected_redirect = format!(
        "{}/api/v2/auth/oauth/{}/callback",
        inner.redirect_prefix, flavour
    );
    if q.client_id.as_deref() != Some(CLIENT_ID) || redirect != expected_redirect {
        return HttpResponse::BadRequest().body("unknown client or unregistered redirect_uri");
    }
    let bad = |why: &str| {
        HttpResponse::Found()
            .insert_header((
                "Location",
                format!(
                    "{redirect}?error=invalid_request&error_description={why}&state={}",
                    q.state.clone().unwrap_or_default()
                ),
            ))
            .finish()
    };
    if q.response_type.as_deref() != Some("code") {
        return bad("response_type");
    }
    if q.code_challenge_method.as_deref() != Some("S256") || q.code_challenge.is_none() {
        return bad("pkce_required");
    }
    let Some(state) = q.state.clone() else {
        return bad("state_required");
    };
    let scope = q.scope.clone().unwrap_or_default();
    let needed = match flavour.as_str() {
        "google" => "openid",
        "github" => "user:email",
        _ => "email",
    };
    if !scope.split(' ').any(|s| s == needed) {
        return bad("scope");
    }
    if flavour.as_str() == "google" && q.nonce.is_none() {
        return bad("nonce_required");
    }
    if inner.deny {
        return HttpResponse::Found()
            .insert_header((
                "Location",
                format!("{redirect}?error=access_denied&state={state}"),
            ))
            .finish();
    }
    let Some(account) = inner.next.get(flavour.as_str()).cloned() else {
        return HttpResponse::BadRequest().body("nobody to log in");
    };
    let code = random();
    inner.codes.insert(
        code.clone(),
        Grant {
            challenge: q.code_challenge.clone().unwrap_or_default(),
            redirect_uri: redirect.clone(),
            nonce: q.nonce.clone(),
            account,
            flavour: flavour.into_inner(),
            used: false,
        },
    );
    HttpResponse::Found()
        .insert_header(("Location", format!("{redirect}?code={code}&state={state}")))
        .finish()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn token(data: Data, flavour: web::Path<String>, form: web::Form<TokenForm>) -> HttpResponse {
    let (inner, url) = &**data;
    let mut inner = inner.lock().unwrap();
    if form.client_id.as_deref() != Some(CLIENT_ID)
        || form.client_secret.as_deref() != Some(CLIENT_SECRET)
    {
        return oauth_error(401, "invalid_client");
    }
    if form.grant_type.as_deref() != Some("authorization_code") {
        return oauth_error(400, "unsupported_grant_type");
    }
    let Some(grant) = form.code.as_ref().and_then(|c| inner.codes.get_mut(c)) else {
        return oauth_error(400, "invalid_grant");
    };
    if grant.used || grant.flavour != *flavour {
        if flavour.as_str() == "github" {
            // As GitHub does: 200 with an error body.
            return HttpResponse::Ok().json(json!({
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
            }));
        }
        return oauth_error(400, "invalid_grant");
    }
    grant.used = true;
    let verifier = form.code_verifier.clone().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge || form.redirect_uri.as_deref() != Some(&grant.redirect_uri) {
        return oauth_error(400, "invalid_grant");
    }
    let grant = grant.clone();
    let access = random();
    inner.tokens.insert(access.clone(), grant.account.clone());
    let mut body = json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600});
    if grant.flavour == "google" {
        let now = veza_actors::ids::now_ms() / 1000;
        let fault = inner.fault;
        let pick = |faulty: IdTokenFault, bad: String, good: String| {
            if fault == faulty {
                bad
            } else {
                good
            }
        };
        let exp = if fault == IdTokenFault::Expired {
            now - 3600
        } else {
            now + 3600
        };
        let claims = json!({
            "iss": pick(IdTokenFault::WrongIssuer, "https://evil.example".into(), format!("{url}/google")),
            "aud": pick(IdTokenFault::WrongAudience, "someone-else".into(), CLIENT_ID.into()),
            "nonce": pick(IdTokenFault::WrongNonce, "another-nonce".into(), grant.nonce.clone().unwrap_or_default()),
            "sub": grant.account.subject, "email": grant.account.email,
            "email_verified": grant.account.verified, "name": grant.account.name,
            "iat": now - 7200, "exp": exp,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("test-key".into());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(KEY_PEM).expect("test key");
        let mut token = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
        if fault == IdTokenFault::Tampered {
            // Same signature, another subject: someone else's account.
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let mut payload: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
            payload["sub"] = "victim".into();
            parts[1] = URL_SAFE_NO_PAD.encode(payload.to_string());
            token = parts.join(".");
        }
        body["id_token"] = token.into();
    }
    HttpResponse::Ok().json(body)
}

async fn jwks(data: Data) -> HttpResponse {
    data.0.lock().unwrap().jwks_fetches += 1;
    HttpResponse::Ok().json(json!({"keys": [{
        "kty": "RSA", "kid": "test-key", "alg": "RS256", "use": "sig", "n": KEY_N, "e": "AQAB",
    }]}))
}

fn bearer(data: &Data, req: &HttpRequest) -> Option<Account> {
    let token = req
        .headers()
        .get("Authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    data.0.lock().unwrap().tokens.get(token).cloned()
}

async fn github_user(data: Data, req: HttpRequest) -> HttpResponse {
    match bearer(&data, &req) {
        Some(a) => HttpResponse::Ok().json(json!({
            "id": a.subject.parse::<u64>().unwrap_or(1), "login": a.name, "name": "Display Name",
            "email": null,
        })),
        None => oauth_error(401, "bad credentials"),
    }
}

async fn github_emails(data: Data, req: HttpRequest) -> HttpResponse {
    match bearer(&data, &req) {
        Some(a) => HttpResponse::Ok().json(json!([
            {"email": "old@unverified.example", "primary": false, "verified": false},
            {"email": a.email, "primary": true, "verified": a.verified},
        ])),
        None => oauth_error(401, "bad credentials"),
    }
}

async fn discord_me(data: Data, req: HttpRequest) -> HttpResponse {
    match bearer(&data, &req) {
        Some(a) => HttpResponse::Ok().json(json!({
            "id": a.subject, "username": a.name, "global_name": "Global", "email": a.email,
            "verified": a.verified,
        })),
        None => oauth_error(401, "unauthorized"),
    }
}
