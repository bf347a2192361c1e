//! OAuth2 / OpenID Connect login against a real provider on a local port (tests/common/
//! oauth_provider.rs): account creation, linking by verified address, explicit linking, unlinking
//! rules, 2FA after the provider, and the attacks: forged or foreign state, replayed callback,
//! replayed code, the user declining, an id_token for another client.

mod common;

use common::audio::http;
use common::oauth_provider::{Account, IdTokenFault, Provider};
use common::server::{config_with, TestServer};
use common::{Kind, TestDb};
use serde_json::{json, Value};

struct Setup {
    _db: TestDb,
    server: TestServer,
    provider: Provider,
}

async fn setup(kind: Kind) -> Setup {
    let db = TestDb::new(kind);
    let provider = Provider::start("");
    let mut pairs = provider.config_pairs();
    // The per-IP limit on /auth/* (start, callback, complete count) is tested in rate_limits.
    pairs.push(("VEZA_AUTH_RATE_PER_MINUTE".into(), "0".into()));
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let server = TestServer::start_with(&db, config_with(&db, &pairs)).await;
    provider.set_redirect_prefix(&format!("http://{}", server.addr));
    Setup {
        _db: db,
        server,
        provider,
    }
}

fn web_url(server: &TestServer, path: &str) -> String {
    format!("http://{}{path}", server.addr)
}

impl Setup {
    async fn stop(&self) {
        self.server.stop().await;
        self.provider.stop().await;
    }
}

/// One HTTP exchange, redirects not followed: status, Location, Set-Cookie, body.
struct Reply {
    status: u16,
    location: String,
    set_cookie: String,
    body: Value,
}

fn get(url: &str, cookie: Option<&str>, bearer: Option<&str>, method: &str) -> Reply {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let mut req = agent.request(method, url);
    if let Some(c) = cookie {
        req = req.set("Cookie", c);
    }
    if let Some(t) = bearer {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let response = match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    Reply {
        status: response.status(),
        location: response.header("Location").unwrap_or_default().to_owned(),
        set_cookie: response.header("Set-Cookie").unwrap_or_default().to_owned(),
        body: response.into_json().unwrap_or(Value::Null),
    }
}

/// A login started in a browser: the provider's callback URL and the browser's state cookie.
struct Started {
    callback: String,
    cookie: String,
}

/// `/start`, then the provider's consent page; stops before the callback.
async fn begin(s: &Setup, provider: &str) -> Started {
    let start = web_url(&s.server, &format!("/api/v2/auth/oauth/{provider}/start"));
    actix_web::web::block(move || {
        let r = get(&start, None, None, "GET");
        assert_eq!(r.status, 302, "{:?}", r.body);
        assert!(r.set_cookie.contains("HttpOnly") && r.set_cookie.contains("SameSite=Lax"));
        let cookie = r.set_cookie.split(';').next().unwrap().to_owned();
        assert!(
            r.location.contains("code_challenge_method=S256"),
            "{}",
            r.location
        );
        let consent = get(&r.location, None, None, "GET");
        assert_eq!(consent.status, 302, "consent: {:?}", consent.body);
        Started {
            callback: consent.location,
            cookie,
        }
    })
    .await
    .unwrap()
}

async fn follow(url: &str, cookie: Option<&str>) -> Reply {
    let (url, cookie) = (url.to_owned(), cookie.map(str::to_owned));
    actix_web::web::block(move || get(&url, cookie.as_deref(), None, "GET"))
        .await
        .unwrap()
}

/// The ticket in a successful callback's redirect to the web page.
fn ticket_of(s: &Setup, r: &Reply) -> String {
    assert_eq!(r.status, 303, "{:?}", r.body);
    let prefix = format!("http://{}/#oauth_ticket=", s.server.addr);
    r.location
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{}", r.location))
        .to_owned()
}

async fn complete(s: &Setup, ticket: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({ "ticket": ticket });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    http(
        &s.server,
        "POST",
        "/api/v2/auth/oauth/complete",
        None,
        Some(body),
    )
    .await
}

/// The whole login: start, consent, callback, ticket -> tokens.
async fn login(s: &Setup, provider: &str) -> Value {
    let started = begin(s, provider).await;
    let r = follow(&started.callback, Some(&started.cookie)).await;
    let ticket = ticket_of(s, &r);
    let (status, body) = complete(s, &ticket, json!({})).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `account` logs in at `provider`'s consent page: the whole login.
async fn login_as(s: &Setup, provider: &str, account: Account) -> Value {
    s.provider.next_login(provider, account);
    login(s, provider).await
}

fn audit_count(s: &Setup, action: &str) -> usize {
    let pool = s.server.state.pool.clone();
    veza::db::audit::recent(&mut pool.get().unwrap(), Some(action), 100)
        .unwrap()
        .len()
}

async fn me(s: &Setup, token: &str) -> Value {
    let (status, body) = http(&s.server, "GET", "/api/v2/users/me", Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn google_login_creates_an_account_and_opens_it_again(kind: Kind) {
    let s = setup(kind).await;
    let (status, body) = http(&s.server, "GET", "/api/v2/auth/oauth/providers", None, None).await;
    assert_eq!(
        (status, body),
        (200, json!({"providers": ["google", "github", "discord"]}))
    );
    let first = login_as(
        &s,
        "google",
        Account::new("g-1001", "Ann Lee", "ann@example.org", true),
    )
    .await;
    assert_eq!(first["user"]["username"], "Ann_Lee");
    let token = first["access_token"].as_str().unwrap();
    let who = me(&s, token).await;
    assert_eq!(who["username"], "Ann_Lee");
    let again = login(&s, "google").await;
    assert_eq!(
        s.provider.jwks_fetches(),
        1,
        "the signing keys are kept between logins"
    );
    assert_eq!(
        again["user"]["id"], first["user"]["id"],
        "same Google account, same user"
    );
    let (status, methods) = http(
        &s.server,
        "GET",
        "/api/v2/users/me/identities",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(methods["password"], false);
    assert_eq!(methods["identities"][0]["provider"], "google");
    assert_eq!(methods["identities"][0]["email"], "ann@example.org");
    // The account has no password: a password login cannot open it.
    let (status, _) = http(
        &s.server,
        "POST",
        "/api/v2/auth/login",
        None,
        Some(json!({"username": "Ann_Lee", "password": ""})),
    )
    .await;
    assert_eq!(status, 401);
    // Nor can the only provider be unlinked.
    let (status, body) = http(
        &s.server,
        "DELETE",
        "/api/v2/users/me/identities/google",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(audit_count(&s, "user.register"), 1);
    assert_eq!(audit_count(&s, "oauth.link"), 1);
    assert_eq!(audit_count(&s, "login.success"), 2);
    s.stop().await;
}

async fn verified_addresses_link_and_unlinking_keeps_a_way_in(kind: Kind) {
    let s = setup(kind).await;
    let octo = login_as(
        &s,
        "github",
        Account::new("4242", "octocat", "octo@example.org", true),
    )
    .await;
    assert_eq!(octo["user"]["username"], "octocat");
    // Discord vouches for the same address: the same account opens, now with both providers.
    let via_discord = login_as(
        &s,
        "discord",
        Account::new("80351110224678912", "octo_d", "OCTO@example.org", true),
    )
    .await;
    assert_eq!(via_discord["user"]["id"], octo["user"]["id"]);
    let token = via_discord["access_token"].as_str().unwrap();
    let (_, methods) = http(
        &s.server,
        "GET",
        "/api/v2/users/me/identities",
        Some(token),
        None,
    )
    .await;
    let linked: Vec<_> = methods["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["provider"].as_str().unwrap())
        .collect();
    assert_eq!(linked, ["discord", "github"]);
    let unlink = |p: &'static str| {
        let server = &s.server;
        async move {
            http(
                server,
                "DELETE",
                &format!("/api/v2/users/me/identities/{p}"),
                Some(token),
                None,
            )
            .await
        }
    };
    assert_eq!(unlink("github").await.0, 204);
    assert_eq!(unlink("github").await.0, 404, "not linked any more");
    assert_eq!(
        unlink("discord").await.0,
        409,
        "the last way to log in stays"
    );
    // An unverified address never links.
    let other = login_as(
        &s,
        "github",
        Account::new("777", "mallory", "octo@example.org", false),
    )
    .await;
    assert_ne!(other["user"]["id"], octo["user"]["id"]);

    // Mallory registers with Victor's address (nobody verifies it): Victor's provider sign-up is
    // not blocked (issue 11, Low); he gets his own account and the typed claim is released.
    let (status, squat) = http(
        &s.server,
        "POST",
        "/api/v2/auth/register",
        None,
        Some(json!({"username": "squatter", "password": "correct horse battery", "email": "victor@example.org"})),
    )
    .await;
    assert_eq!(status, 201, "{squat}");
    let victor = login_as(
        &s,
        "discord",
        Account::new("998", "victor_d", "victor@example.org", true),
    )
    .await;
    assert_ne!(victor["user"]["id"], squat["user"]["id"]);
    let pool = s.server.state.pool.clone();
    let squatter: veza_actors::UserId = squat["user"]["id"].as_str().unwrap().parse().unwrap();
    let victor_id: veza_actors::UserId = victor["user"]["id"].as_str().unwrap().parse().unwrap();
    let (squatted, owned) = actix_web::web::block(move || {
        let conn = &mut pool.get().unwrap();
        let mut email = |id| {
            veza::db::users::find_by_id(conn, id)
                .unwrap()
                .unwrap()
                .email
        };
        (email(squatter), email(victor_id))
    })
    .await
    .unwrap();
    assert_eq!(squatted, None, "the typed claim is released");
    assert_eq!(owned.as_deref(), Some("victor@example.org"));
    assert_eq!(audit_count(&s, "email.released"), 1);

    // Carol typed her own address at registration: she links the provider from her account.
    let (status, carol) = http(
        &s.server,
        "POST",
        "/api/v2/auth/register",
        None,
        Some(json!({"username": "carol", "password": "correct horse battery", "email": "carol@example.org"})),
    )
    .await;
    assert_eq!(status, 201);
    let carol_token = carol["access_token"].as_str().unwrap().to_owned();
    s.provider.next_login(
        "discord",
        Account::new("999", "carol_d", "carol@example.org", true),
    );
    let link_url = web_url(&s.server, "/api/v2/auth/oauth/discord/link");
    let token = carol_token.clone();
    let linked = actix_web::web::block(move || {
        let r = get(&link_url, None, Some(&token), "POST");
        assert_eq!(r.status, 200, "{:?}", r.body);
        let cookie = r.set_cookie.split(';').next().unwrap().to_owned();
        let consent = get(r.body["authorize_url"].as_str().unwrap(), None, None, "GET");
        get(&consent.location, Some(&cookie), None, "GET")
    })
    .await
    .unwrap();
    assert_eq!(linked.status, 303, "{:?}", linked.body);
    assert!(
        linked.location.ends_with("/#oauth_linked=discord"),
        "{}",
        linked.location
    );
    let via_discord = login(&s, "discord").await;
    assert_eq!(via_discord["user"]["username"], "carol");
    let (status, _) = http(
        &s.server,
        "DELETE",
        "/api/v2/users/me/identities/discord",
        Some(&carol_token),
        None,
    )
    .await;
    assert_eq!(status, 204, "carol keeps her password");
    assert_eq!(audit_count(&s, "oauth.unlink"), 2);
    s.stop().await;
}

/// A stolen access token of an old login can neither link the thief's provider account (a lasting
/// way in) nor unlink the owner's: both need the current password then. Audited.
async fn linking_and_unlinking_need_the_password_or_a_fresh_login(kind: Kind) {
    let s = setup(kind).await;
    let (status, erin) = http(
        &s.server,
        "POST",
        "/api/v2/auth/register",
        None,
        Some(json!({"username": "erin", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, 201);
    let token = erin["access_token"].as_str().unwrap().to_owned();
    let id: i64 = erin["user"]["id"].as_str().unwrap().parse().unwrap();
    let pool = s.server.state.pool.clone();
    common::age_sessions(&pool, id);
    let link = |body: Option<Value>| {
        let (url, token) = (
            web_url(&s.server, "/api/v2/auth/oauth/discord/link"),
            token.clone(),
        );
        actix_web::web::block(move || {
            let agent = ureq::AgentBuilder::new().redirects(0).build();
            let req = agent
                .post(&url)
                .set("Authorization", &format!("Bearer {token}"));
            let sent = match body {
                Some(b) => req.send_json(b),
                None => req.call(),
            };
            let response = match sent {
                Ok(r) | Err(ureq::Error::Status(_, r)) => r,
                Err(e) => panic!("{url}: {e}"),
            };
            let cookie = response.header("Set-Cookie").unwrap_or_default();
            let cookie = cookie.split(';').next().unwrap_or_default().to_owned();
            (
                response.status(),
                cookie,
                response.into_json::<Value>().unwrap_or(Value::Null),
            )
        })
    };
    let (status, _, body) = link(None).await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("reauth_required"))
    );
    assert_eq!(
        common::last_audit_details(&pool, "reauth.failed")["action"],
        "oauth.link"
    );
    let (status, _, _) = link(Some(json!({"current_password": "not my password"})))
        .await
        .unwrap();
    assert_eq!(status, 401);
    let (status, cookie, body) = link(Some(json!({"current_password": "correct horse battery"})))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        common::last_audit_details(&pool, "oauth.link_started")["reauth"],
        "password"
    );
    s.provider.next_login(
        "discord",
        Account::new("555", "erin_d", "erin@example.org", true),
    );
    let consent = follow(body["authorize_url"].as_str().unwrap(), None).await;
    let linked = follow(&consent.location, Some(&cookie)).await;
    assert!(
        linked.location.ends_with("/#oauth_linked=discord"),
        "{}",
        linked.location
    );

    let path = "/api/v2/users/me/identities/discord";
    let (status, body) = http(&s.server, "DELETE", path, Some(&token), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("reauth_required"))
    );
    assert_eq!(
        common::last_audit_details(&pool, "reauth.failed")["action"],
        "oauth.unlink"
    );
    let password = json!({"current_password": "correct horse battery"});
    let (status, body) = http(&s.server, "DELETE", path, Some(&token), Some(password)).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        common::last_audit_details(&pool, "oauth.unlink")["reauth"],
        "password"
    );
    s.stop().await;
}

async fn forged_replayed_and_refused_callbacks_fail(kind: Kind) {
    let s = setup(kind).await;
    s.provider.next_login(
        "github",
        Account::new("1", "victim", "victim@example.org", true),
    );
    let users_before = {
        let pool = s.server.state.pool.clone();
        veza::db::users::count(&mut pool.get().unwrap()).unwrap()
    };
    let code_of = |url: &str| {
        url.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("code="))
            .unwrap()
            .to_owned()
    };
    let state_of = |url: &str| {
        url.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("state="))
            .unwrap()
            .to_owned()
    };
    let callback = |state: &str, code: &str| {
        web_url(
            &s.server,
            &format!("/api/v2/auth/oauth/github/callback?state={state}&code={code}"),
        )
    };

    // A state the server never issued.
    let started = begin(&s, "github").await;
    let forged = callback("forged-state", &code_of(&started.callback));
    let r = follow(&forged, Some("veza_oauth_state=forged-state")).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
    // The right state, but not from the browser that started it (login CSRF): no cookie, or
    // another flow's cookie.
    let r = follow(&started.callback, None).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
    let other = begin(&s, "github").await;
    let r = follow(&started.callback, Some(&other.cookie)).await;
    assert_eq!(r.status, 400);

    // The real callback works once; replaying it is refused.
    let fresh = begin(&s, "github").await;
    let r = follow(&fresh.callback, Some(&fresh.cookie)).await;
    let ticket = ticket_of(&s, &r);
    let r = follow(&fresh.callback, Some(&fresh.cookie)).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
    // A used code replayed inside a new flow of this browser: the provider refuses it.
    let again = begin(&s, "github").await;
    let replay = callback(&state_of(&again.callback), &code_of(&fresh.callback));
    let r = follow(&replay, Some(&again.cookie)).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("oauth_failed"))
    );
    // The ticket opens the account once.
    assert_eq!(complete(&s, &ticket, json!({})).await.0, 200);
    let (status, body) = complete(&s, &ticket, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );

    // The user declines at the provider.
    s.provider.set_deny(true);
    let declined = begin(&s, "github").await;
    assert!(declined.callback.contains("error=access_denied"));
    let r = follow(&declined.callback, Some(&declined.cookie)).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("oauth_failed"))
    );
    s.provider.set_deny(false);

    // Each defect of an id_token is refused.
    for fault in [
        IdTokenFault::WrongAudience,
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongNonce,
        IdTokenFault::Expired,
        IdTokenFault::Tampered,
    ] {
        s.provider.next_login(
            "google",
            Account::new("g-9", "eve", "eve@example.org", true),
        );
        s.provider.set_id_token_fault(fault);
        let google = begin(&s, "google").await;
        let r = follow(&google.callback, Some(&google.cookie)).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (400, Some("oauth_failed")),
            "{fault:?}: {:?}",
            r.body
        );
        assert!(r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("id_token"));
    }
    s.provider.set_id_token_fault(IdTokenFault::None);

    // A provider that is not switched on or does not exist.
    let (status, body) = http(
        &s.server,
        "GET",
        "/api/v2/auth/oauth/myspace/start",
        None,
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("oauth_unavailable"))
    );

    let users_after = {
        let pool = s.server.state.pool.clone();
        veza::db::users::count(&mut pool.get().unwrap()).unwrap()
    };
    assert_eq!(
        users_after,
        users_before + 1,
        "only the one real login made an account"
    );
    assert!(audit_count(&s, "oauth.failure") >= 11);
    s.stop().await;
}

async fn two_factor_accounts_need_their_code_after_the_provider(kind: Kind) {
    let s = setup(kind).await;
    let dana = login_as(
        &s,
        "discord",
        Account::new("55", "dana", "dana@example.org", true),
    )
    .await;
    let token = dana["access_token"].as_str().unwrap();
    let (status, enrolled) = http(
        &s.server,
        "POST",
        "/api/v2/auth/2fa/enroll",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let secret = enrolled["otpauth_uri"].as_str().unwrap().to_owned();
    let secret = secret
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("secret="))
        .unwrap()
        .to_owned();
    let key = common::base32_decode(&secret);
    let step = veza::auth::totp::step_of(veza_actors::ids::now_ms() as i64 / 1000);
    let code = |step: i64| format!("{:06}", veza::auth::totp::code_at(&key, step));
    let (status, confirmed) = http(
        &s.server,
        "POST",
        "/api/v2/auth/2fa/confirm",
        Some(token),
        Some(json!({"code": code(step)})),
    )
    .await;
    assert_eq!(status, 200);
    let backup = |i: usize| confirmed["backup_codes"][i].as_str().unwrap().to_owned();

    let started = begin(&s, "discord").await;
    let ticket = ticket_of(&s, &follow(&started.callback, Some(&started.cookie)).await);
    let (status, body) = complete(&s, &ticket, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("totp_required"))
    );
    let (status, body) = complete(&s, &ticket, json!({"totp_code": code(step + 1)})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], dana["user"]["id"]);
    // A wrong code spends the ticket.
    let started = begin(&s, "discord").await;
    let ticket = ticket_of(&s, &follow(&started.callback, Some(&started.cookie)).await);
    let (status, _) = complete(&s, &ticket, json!({"totp_code": "000000"})).await;
    assert_eq!(status, 401);
    let (status, body) = complete(&s, &ticket, json!({"totp_code": code(step + 1)})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_state"))
    );
    // Dana has no password: turning 2FA off from an old login needs a fresh one first.
    let id: i64 = dana["user"]["id"].as_str().unwrap().parse().unwrap();
    common::age_sessions(&s.server.state.pool, id);
    let off = json!({"code": backup(0)});
    let path = "/api/v2/auth/2fa/disable";
    let (status, body) = http(&s.server, "POST", path, Some(token), Some(off.clone())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("reauth_required"))
    );
    let started = begin(&s, "discord").await;
    let ticket = ticket_of(&s, &follow(&started.callback, Some(&started.cookie)).await);
    let (status, fresh) = complete(&s, &ticket, json!({"backup_code": backup(1)})).await;
    assert_eq!(status, 200, "{fresh}");
    let fresh = fresh["access_token"].as_str().unwrap();
    let (status, body) = http(&s.server, "POST", path, Some(fresh), Some(off)).await;
    assert_eq!(status, 204, "{body}");
    s.stop().await;
}

/// A provider-made account sets its first password only from a fresh login; then the provider can
/// be unlinked and the password opens the account.
async fn a_provider_account_sets_a_first_password_from_a_fresh_login(kind: Kind) {
    let s = setup(kind).await;
    let frank = login_as(
        &s,
        "github",
        Account::new("31", "frank", "frank@example.org", true),
    )
    .await;
    let token = frank["access_token"].as_str().unwrap();
    let set = json!({"new_password": "frank's own passphrase"});
    // An old session (more than ten minutes) may not.
    let pool = s.server.state.pool.clone();
    let session: i64 = {
        use diesel::prelude::*;
        use veza::db::schema::sessions;
        let user: i64 = frank["user"]["id"].as_str().unwrap().parse().unwrap();
        let mut conn = pool.get().unwrap();
        let id = sessions::table
            .filter(sessions::user_id.eq(user))
            .select(sessions::id)
            .first(&mut conn)
            .unwrap();
        diesel::update(sessions::table.find(id))
            .set(sessions::created_at.eq(1_i64))
            .execute(&mut conn)
            .unwrap();
        id
    };
    let (status, body) = http(
        &s.server,
        "PUT",
        "/api/v2/users/me/password",
        Some(token),
        Some(set.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("reauth_required")),
        "{session}"
    );
    let fresh = login(&s, "github").await;
    let token = fresh["access_token"].as_str().unwrap();
    let (status, body) = http(
        &s.server,
        "PUT",
        "/api/v2/users/me/password",
        Some(token),
        Some(set),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, methods) = http(
        &s.server,
        "GET",
        "/api/v2/users/me/identities",
        Some(token),
        None,
    )
    .await;
    assert_eq!(methods["password"], true);
    let (status, _) = http(
        &s.server,
        "DELETE",
        "/api/v2/users/me/identities/github",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, 204, "the password is another way in now");
    let (status, _) = http(
        &s.server,
        "POST",
        "/api/v2/auth/login",
        None,
        Some(json!({"username": "frank", "password": "frank's own passphrase"})),
    )
    .await;
    assert_eq!(status, 200);
    s.stop().await;
}

on_both_backends!(
    linking_and_unlinking_need_the_password_or_a_fresh_login,
    a_provider_account_sets_a_first_password_from_a_fresh_login,
    google_login_creates_an_account_and_opens_it_again,
    verified_addresses_link_and_unlinking_keeps_a_way_in,
    forged_replayed_and_refused_callbacks_fail,
    two_factor_accounts_need_their_code_after_the_provider,
);
