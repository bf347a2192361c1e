//! The account API over HTTP, good and bad paths, on both storage backends.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use common::{Kind, TestDb};
use serde_json::{json, Value};

/// Sends a request to the app and returns the status and the JSON body (Null when empty).
macro_rules! call {
    ($app:expr, $req:expr) => {{
        let res = test::call_service(&$app, $req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = test::read_body(res).await;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, body, headers)
    }};
}

fn post(path: &str, body: Value) -> TestRequest {
    TestRequest::post().uri(path).set_json(body)
}

fn me(token: &str) -> TestRequest {
    TestRequest::get()
        .uri("/api/v2/users/me")
        .insert_header(("Authorization", format!("Bearer {token}")))
}

fn creds(name: &str) -> Value {
    json!({"username": name, "password": "correct horse battery"})
}

fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
}

async fn register_login_me_refresh_logout(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;

    let (status, reg, _) = call!(app, post("/api/v2/auth/register", creds("alice")));
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["user"]["username"], "alice");
    assert_eq!(reg["user"]["role"], "user");
    assert!(reg["user"]["id"].is_string(), "ids are strings: {reg}");
    assert!(reg["access_token"].is_string() && reg["refresh_token"].is_string());

    let (status, login, _) = call!(app, post("/api/v2/auth/login", creds("alice")));
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["user"]["id"], reg["user"]["id"]);

    let (status, who, headers) = call!(app, me(login["access_token"].as_str().unwrap()));
    assert_eq!(status, StatusCode::OK, "{who}");
    assert_eq!(who["username"], "alice");
    assert_eq!(who["id"], reg["user"]["id"]);
    assert_eq!(who["role"], "user");
    assert!(who["created_at"].is_number());
    assert!(headers.contains_key("x-request-id"));

    let refresh = login["refresh_token"].as_str().unwrap();
    let (status, pair, _) = call!(
        app,
        post("/api/v2/auth/refresh", json!({"refresh_token": refresh}))
    );
    assert_eq!(status, StatusCode::OK, "{pair}");
    assert_ne!(pair["refresh_token"], login["refresh_token"], "rotated");
    let (status, _, _) = call!(app, me(pair["access_token"].as_str().unwrap()));
    assert_eq!(status, StatusCode::OK);

    let newest = pair["refresh_token"].as_str().unwrap();
    let (status, body, _) = call!(
        app,
        post("/api/v2/auth/logout", json!({"refresh_token": newest}))
    );
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // The family is gone: its refresh token and the access tokens minted under it.
    let (status, body, _) = call!(
        app,
        post("/api/v2/auth/refresh", json!({"refresh_token": newest}))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body, _) = call!(app, me(pair["access_token"].as_str().unwrap()));
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The registration's own login is a different family and still works.
    let (status, _, _) = call!(app, me(reg["access_token"].as_str().unwrap()));
    assert_eq!(status, StatusCode::OK);
}

async fn duplicate_username_is_409_in_any_case(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (status, _, _) = call!(app, post("/api/v2/auth/register", creds("Bob")));
    assert_eq!(status, StatusCode::CREATED);
    for name in ["Bob", "bob", "BOB"] {
        let (status, body, _) = call!(app, post("/api/v2/auth/register", creds(name)));
        assert_eq!(status, StatusCode::CONFLICT, "{name}: {body}");
        assert_error(&body, "username_taken");
    }
    // Login is case-insensitive on the name too.
    let (status, _, _) = call!(app, post("/api/v2/auth/login", creds("bOB")));
    assert_eq!(status, StatusCode::OK);
}

async fn invalid_username_or_password_is_422(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let cases = [
        json!({"username": "ab", "password": "correct horse battery"}),
        json!({"username": "x".repeat(33), "password": "correct horse battery"}),
        json!({"username": "bad name", "password": "correct horse battery"}),
        json!({"username": "robert');DROP TABLE users;--", "password": "correct horse battery"}),
        json!({"username": "carol", "password": "short"}),
        json!({"username": "carol", "password": "p".repeat(257)}),
        json!({"username": "carol", "password": "correct horse battery", "email": "not-an-email"}),
    ];
    for case in cases {
        let (status, body, _) = call!(app, post("/api/v2/auth/register", case.clone()));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {body}");
        assert_error(&body, "validation_failed");
    }
    // Nothing was created by the failed attempts, and the users table survived.
    let (status, _, _) = call!(app, post("/api/v2/auth/register", creds("carol")));
    assert_eq!(status, StatusCode::CREATED);
}

async fn wrong_password_and_unknown_user_get_the_same_401(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    call!(app, post("/api/v2/auth/register", creds("dave")));
    let (s1, wrong, _) = call!(
        app,
        post(
            "/api/v2/auth/login",
            json!({"username": "dave", "password": "not the password"})
        )
    );
    let (s2, unknown, _) = call!(app, post("/api/v2/auth/login", creds("nobody_here")));
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_error(&wrong, "invalid_credentials");
    assert_eq!(wrong, unknown, "the two failures must be indistinguishable");
    // The audit log keeps a digest of the typed name, never the text (issue 11, Low).
    let (_, again, _) = call!(app, post("/api/v2/auth/login", creds("Nobody_Here")));
    assert_eq!(again, unknown);
    let pool = db.pool();
    let rows =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("login.failure"), 10).unwrap();
    let digests: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let details: Value = serde_json::from_str(r.details.as_deref()?).ok()?;
            assert!(details.get("username").is_none(), "{details}");
            details["username_digest"].as_str().map(str::to_owned)
        })
        .collect();
    assert_eq!(digests.len(), 2, "{rows:?}");
    assert_eq!(digests[0], digests[1], "one name, one digest");
    assert!(
        rows.iter().all(|r| !format!("{r:?}").contains("obody")),
        "{rows:?}"
    );
}

async fn bad_access_tokens_are_401(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (_, reg, _) = call!(app, post("/api/v2/auth/register", creds("erin")));
    let good = reg["access_token"].as_str().unwrap().to_owned();

    // Missing.
    let (status, body, headers) = call!(app, TestRequest::get().uri("/api/v2/users/me"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
    assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
    // Wrong scheme.
    let (status, _, _) = call!(
        app,
        TestRequest::get()
            .uri("/api/v2/users/me")
            .insert_header(("Authorization", format!("Basic {good}")))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Garbled.
    let (status, body, _) = call!(app, me("not.a.jwt"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized");
    // Tampered payload (role raised to admin), original signature.
    let parts: Vec<&str> = good.split('.').collect();
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["role"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let (status, _, _) = call!(app, me(&forged));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Signed with another key.
    let other = veza::auth::JwtKeys::new(b"some-other-secret-some-other-secret!!");
    let sub: veza_actors::UserId = claims["sub"].as_str().unwrap().parse().unwrap();
    let sid: i64 = claims["sid"].as_str().unwrap().parse().unwrap();
    let now = veza_actors::ids::now_ms() / 1000;
    let (foreign, _) = other
        .issue(sub, veza::auth::Role::Admin, sid, now, 900)
        .unwrap();
    let (status, _, _) = call!(app, me(&foreign));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // alg "none" (no signature at all), and the right key under another algorithm (HS384): only
    // HS256 is accepted.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!(
        "{none_header}.{}.",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let (status, _, _) = call!(app, me(&unsigned));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let hs384 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(common::TEST_SECRET.as_bytes()),
    )
    .unwrap();
    let (status, _, _) = call!(app, me(&hs384));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The right key and algorithm, but minted for another audience or by another issuer, or
    // without either (as tokens from before `iss`/`aud` were): refused.
    let right_key = jsonwebtoken::EncodingKey::from_secret(common::TEST_SECRET.as_bytes());
    let mut stripped = claims.clone();
    stripped.as_object_mut().unwrap().remove("iss");
    stripped.as_object_mut().unwrap().remove("aud");
    let mut other_aud = claims.clone();
    other_aud["aud"] = json!("another-service");
    let mut other_iss = claims.clone();
    other_iss["iss"] = json!("someone-else");
    for variant in [stripped, other_aud, other_iss] {
        let token =
            jsonwebtoken::encode(&jsonwebtoken::Header::default(), &variant, &right_key).unwrap();
        let (status, body, _) = call!(app, me(&token));
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{variant}");
        assert_error(&body, "unauthorized");
    }
    // Expired (right key, right session, past its lifetime).
    let keys = veza::auth::JwtKeys::new(common::TEST_SECRET.as_bytes());
    let (expired, _) = keys
        .issue(sub, veza::auth::Role::User, sid, now - 3600, 900)
        .unwrap();
    let (status, body, _) = call!(app, me(&expired));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    // The good one still works.
    let (status, _, _) = call!(app, me(&good));
    assert_eq!(status, StatusCode::OK);
}

async fn a_query_token_is_refused_on_rest_routes(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (_, reg, _) = call!(app, post("/api/v2/auth/register", creds("quinn")));
    let good = reg["access_token"].as_str().unwrap().to_owned();
    // A valid token in the URL (where logs, history and Referer headers keep it): refused on REST,
    // reads and writes alike, with a message that says where it is accepted.
    let reads = TestRequest::get().uri(&format!("/api/v2/users/me?access_token={good}"));
    let writes = TestRequest::post()
        .uri(&format!("/api/v2/rooms?access_token={good}"))
        .set_json(json!({"name": "lobby"}));
    for request in [reads, writes] {
        let (status, body, headers) = call!(app, request);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_error(&body, "unauthorized");
        assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("/ws") && message.contains("Authorization"),
            "{message}"
        );
    }
    // Nothing was created, and the token itself is fine in the header.
    let rooms = TestRequest::get()
        .uri("/api/v2/rooms")
        .insert_header(("Authorization", format!("Bearer {good}")));
    let (status, body, _) = call!(app, rooms);
    assert_eq!(status, StatusCode::OK);
    assert!(!body.to_string().contains("lobby"), "{body}");
}

async fn refresh_reuse_revokes_the_whole_family(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (_, login, _) = call!(app, post("/api/v2/auth/register", creds("frank")));
    let first = login["refresh_token"].clone();
    let (status, second, _) = call!(
        app,
        post("/api/v2/auth/refresh", json!({"refresh_token": first}))
    );
    assert_eq!(status, StatusCode::OK);
    // An attacker replays the stolen first token (later than another tab could have).
    common::age_used_refresh_tokens(&db.pool());
    let (status, body, _) = call!(
        app,
        post("/api/v2/auth/refresh", json!({"refresh_token": first}))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    // The reuse is in the audit log.
    let pool = db.pool();
    let entries =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("token.reuse"), 10).unwrap();
    assert_eq!(entries.len(), 1);
    // The legitimate holder's newer token is dead too, as are the access tokens of the family.
    let (status, _, _) = call!(
        app,
        post(
            "/api/v2/auth/refresh",
            json!({"refresh_token": second["refresh_token"]})
        )
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call!(app, me(second["access_token"].as_str().unwrap()));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A token that never existed is a plain 401.
    let (status, _, _) = call!(
        app,
        post("/api/v2/auth/refresh", json!({"refresh_token": "nope"}))
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Issue 11 (Low): two tabs refreshing with the same token at once both get a pair (within
/// `refresh_grace_ms`); after the window the same token is reuse, as before.
async fn two_tabs_refreshing_at_once_both_get_a_pair(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (_, login, _) = call!(app, post("/api/v2/auth/register", creds("tabby")));
    let shared = login["refresh_token"].clone();
    let mut pairs = Vec::new();
    for tab in ["first", "second"] {
        let (status, pair, _) = call!(
            app,
            post("/api/v2/auth/refresh", json!({"refresh_token": shared}))
        );
        assert_eq!(status, StatusCode::OK, "{tab} tab: {pair}");
        pairs.push(pair);
    }
    assert_ne!(pairs[0]["refresh_token"], pairs[1]["refresh_token"]);
    for pair in &pairs {
        let (status, _, _) = call!(app, me(pair["access_token"].as_str().unwrap()));
        assert_eq!(status, StatusCode::OK);
    }
    let pool = db.pool();
    let reuse = veza::db::audit::recent(&mut pool.get().unwrap(), Some("token.reuse"), 10).unwrap();
    assert!(reuse.is_empty(), "not counted as reuse");
    common::age_used_refresh_tokens(&pool);
    let (status, _, _) = call!(
        app,
        post("/api/v2/auth/refresh", json!({"refresh_token": shared}))
    );
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "past the window it is reuse"
    );
}

async fn malformed_oversized_and_non_json_bodies(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (status, body, _) = call!(
        app,
        TestRequest::post()
            .uri("/api/v2/auth/register")
            .insert_header(("content-type", "application/json"))
            .set_payload("{\"username\": \"x\", ")
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "bad_request");

    let (status, body, _) = call!(
        app,
        post("/api/v2/auth/register", json!({"username": "only"}))
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "missing field: {body}");

    let huge = json!({"username": "x".repeat(100_000), "password": "correct horse battery"});
    let (status, body, _) = call!(app, post("/api/v2/auth/register", huge));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&body, "too_large");

    let (status, body, _) = call!(
        app,
        TestRequest::post()
            .uri("/api/v2/auth/login")
            .insert_header(("content-type", "text/plain"))
            .set_payload("username=alice")
    );
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&body, "unsupported_media_type");

    let (status, body, _) = call!(app, TestRequest::get().uri("/api/v2/nowhere"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found");

    let (status, body, _) = call!(app, TestRequest::get().uri("/api/v2/auth/login"));
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&body, "method_not_allowed");
}

async fn health_and_status_answer(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (status, body, _) = call!(app, TestRequest::get().uri("/health"));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
    let (status, body, _) = call!(app, TestRequest::get().uri("/api/v2/status"));
    assert_eq!(status, StatusCode::OK);
    let expected = match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
    };
    assert_eq!(body["store"], expected);
    assert_eq!(body["redis"], "off");
    for key in [
        "version",
        "uptime_s",
        "connections",
        "rooms",
        "live_streams",
    ] {
        assert!(!body[key].is_null(), "{key} missing: {body}");
    }
}

async fn disabled_users_cannot_log_in_or_use_tokens(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (_, reg, _) = call!(app, post("/api/v2/auth/register", creds("gina")));
    let pool = db.pool();
    {
        use diesel::prelude::*;
        use veza::db::schema::users;
        diesel::update(users::table.filter(users::username_lower.eq("gina")))
            .set(users::disabled.eq(true))
            .execute(&mut *pool.get().unwrap())
            .unwrap();
    }
    let (status, body, _) = call!(app, post("/api/v2/auth/login", creds("gina")));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "invalid_credentials");
    let (status, _, _) = call!(app, me(reg["access_token"].as_str().unwrap()));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn login_is_rate_limited_per_ip(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let attacker: std::net::SocketAddr = "203.0.113.7:40000".parse().unwrap();
    let bystander: std::net::SocketAddr = "198.51.100.9:40000".parse().unwrap();
    // A different account each time: the per-account slow-down (rate_limits.rs) stays out of it.
    let guess = json!({"username": "victim", "password": "wrong password guess"});
    let started = std::time::Instant::now();
    for i in 0..20 {
        let spray = json!({"username": format!("victim{i}"), "password": "wrong password guess"});
        let (status, _, _) = call!(app, post("/api/v2/auth/login", spray).peer_addr(attacker));
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "attempt {i} is within the default limit"
        );
    }
    // The bucket refills one attempt every 3 s: on a loaded machine the 20 attempts (each a
    // password hash) may take long enough to earn a few more, and no more than that.
    let mut refilled = 0;
    let (body, headers) = loop {
        let (status, body, headers) = call!(
            app,
            post("/api/v2/auth/login", guess.clone()).peer_addr(attacker)
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            break (body, headers);
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        refilled += 1;
        let earned = started.elapsed().as_secs() / 3 + 1;
        assert!(
            refilled <= earned,
            "{refilled} attempts past the burst in {:?}",
            started.elapsed()
        );
    };
    assert_error(&body, "rate_limited");
    let retry: u64 = headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry), "{retry}");
    // Registration shares the budget; another address does not.
    let (status, _, _) = call!(
        app,
        post("/api/v2/auth/register", creds("mallory")).peer_addr(attacker)
    );
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _, _) = call!(
        app,
        post("/api/v2/auth/register", creds("henry")).peer_addr(bystander)
    );
    assert_eq!(status, StatusCode::CREATED);
}

fn put_password(token: &str, body: Value) -> TestRequest {
    TestRequest::put()
        .uri("/api/v2/users/me/password")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .set_json(body)
}

async fn changing_the_password_needs_the_old_one_and_ends_other_sessions(kind: Kind) {
    let db = TestDb::new(kind);
    let state = db.state();
    let pool = state.pool.clone();
    let app = test::init_service(veza::http::app(state)).await;
    let (_, reg, _) = call!(app, post("/api/v2/auth/register", creds("alice")));
    let (_, other, _) = call!(app, post("/api/v2/auth/login", creds("alice")));
    let token = reg["access_token"].as_str().unwrap();
    let new =
        json!({"current_password": "guess guess guess", "new_password": "a brand new passphrase"});
    let (status, body, _) = call!(app, put_password(token, new));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "invalid_credentials");
    let (status, body, _) = call!(
        app,
        put_password(token, json!({"new_password": "a brand new passphrase"}))
    );
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the current password is required: {body}"
    );
    let (status, body, _) = call!(
        app,
        put_password(
            token,
            json!({"current_password": "correct horse battery", "new_password": "short"})
        )
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, "validation_failed");
    let (status, body, _) = call!(
        app,
        put_password(
            token,
            json!({"current_password": "correct horse battery", "new_password": "a brand new passphrase"})
        )
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sessions_ended"], 1);
    // The other login is over; this one goes on; only the new password opens the account.
    let (status, _, _) = call!(app, me(other["access_token"].as_str().unwrap()));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call!(
        app,
        post(
            "/api/v2/auth/refresh",
            json!({"refresh_token": other["refresh_token"]})
        )
    );
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(call!(app, me(token)).0, StatusCode::OK);
    assert_eq!(
        call!(app, post("/api/v2/auth/login", creds("alice"))).0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, _) = call!(
        app,
        post(
            "/api/v2/auth/login",
            json!({"username": "alice", "password": "a brand new passphrase"})
        )
    );
    assert_eq!(status, StatusCode::OK);
    let audit = |action: &str| {
        veza::db::audit::recent(&mut pool.get().unwrap(), Some(action), 10)
            .unwrap()
            .len()
    };
    assert_eq!(audit("password.changed"), 1);
    assert_eq!(audit("password.change_failed"), 2);
}

/// A burst of registrations and logins on a real server that may hash one password at a time with
/// one request waiting: the rest are refused at once with 503 `overloaded` and `Retry-After`,
/// nothing fails with a 500, and the refused logins do not count against the account.
async fn a_hashing_burst_gets_503_with_retry_after(kind: Kind) {
    let db = TestDb::new(kind);
    let config = common::server::config_with(
        &db,
        &[
            ("VEZA_HASH_CONCURRENCY", "1"),
            ("VEZA_HASH_QUEUE", "1"),
            ("VEZA_AUTH_RATE_PER_MINUTE", "0"),
        ],
    );
    let server = common::server::TestServer::start_with(&db, config).await;
    server.user("regular").await;
    let addr = server.addr;
    let registrations = (0..16).map(|i| async move {
        let body = json!({"username": format!("burst{i}"), "password": "correct horse battery"});
        common::http::call(addr, "POST", "/api/v2/auth/register", &[], Some(&body)).await
    });
    let logins = (0..8).map(|_| async move {
        let body = creds("regular");
        common::http::call(addr, "POST", "/api/v2/auth/login", &[], Some(&body)).await
    });
    let (registered, logged_in) = futures_util::future::join(
        futures_util::future::join_all(registrations),
        futures_util::future::join_all(logins),
    )
    .await;
    let replies: Vec<_> = registered.iter().chain(&logged_in).collect();
    let busy: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(!busy.is_empty(), "no request was refused: {statuses:?}");
    for reply in &busy {
        assert_error(&reply.body, "overloaded");
        let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!(retry >= 1);
    }
    assert!(
        registered.iter().all(|r| [201, 503].contains(&r.status)),
        "{statuses:?}"
    );
    assert!(
        logged_in.iter().all(|r| [200, 503].contains(&r.status)),
        "{statuses:?}"
    );
    // Calm again: everything is served, and the refused logins left no slow-down behind.
    let body = creds("regular");
    for _ in 0..6 {
        let reply = common::http::call(addr, "POST", "/api/v2/auth/login", &[], Some(&body)).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    server.stop().await;
}

on_both_backends!(
    a_hashing_burst_gets_503_with_retry_after,
    changing_the_password_needs_the_old_one_and_ends_other_sessions,
    login_is_rate_limited_per_ip,
    register_login_me_refresh_logout,
    duplicate_username_is_409_in_any_case,
    invalid_username_or_password_is_422,
    wrong_password_and_unknown_user_get_the_same_401,
    bad_access_tokens_are_401,
    a_query_token_is_refused_on_rest_routes,
    refresh_reuse_revokes_the_whole_family,
    two_tabs_refreshing_at_once_both_get_a_pair,
    malformed_oversized_and_non_json_bodies,
    health_and_status_answer,
    disabled_users_cannot_log_in_or_use_tokens,
);
