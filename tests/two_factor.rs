//! Two-factor login (TOTP): enrol, confirm, login that needs the code, ±1 step, no replay,
//! one-time backup codes, regeneration, disabling, the secret encrypted at rest, and the audit.

mod common;

use common::audio::http;
use common::server::TestServer;
use common::{Kind, TestDb};
use serde_json::{json, Value};
use veza::auth::totp;

fn now_step() -> i64 {
    totp::step_of(veza_actors::ids::now_ms() as i64 / 1000)
}

fn code(secret: &[u8], step: i64) -> String {
    format!("{:06}", totp::code_at(secret, step))
}

async fn login(server: &TestServer, name: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"username": name, "password": "correct horse battery"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    http(server, "POST", "/api/v2/auth/login", None, Some(body)).await
}

/// Enrols and confirms; returns the secret, the step the confirmation used and the backup codes.
async fn turn_on(server: &TestServer, token: &str) -> (Vec<u8>, i64, Vec<String>) {
    let (status, e) = http(server, "POST", "/api/v2/auth/2fa/enroll", Some(token), None).await;
    assert_eq!(status, 200, "{e}");
    let secret = common::base32_decode(e["secret"].as_str().unwrap());
    assert_eq!(secret.len(), 20);
    assert!(e["otpauth_uri"]
        .as_str()
        .unwrap()
        .contains(&format!("secret={}", e["secret"].as_str().unwrap())));
    assert!(e["qr_svg"].as_str().unwrap().contains("<svg"));
    let (status, body) = http(
        server,
        "POST",
        "/api/v2/auth/2fa/confirm",
        Some(token),
        Some(json!({"code": "000000"})),
    )
    .await;
    assert!(
        status == 401 || code(&secret, now_step()) == "000000",
        "{body}"
    );
    let step = now_step();
    let (status, body) = http(
        server,
        "POST",
        "/api/v2/auth/2fa/confirm",
        Some(token),
        Some(json!({"code": code(&secret, step)})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, step, codes)
}

async fn totp_guards_the_login(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let bob = server.user("bob").await;
    let (secret, step, _) = turn_on(&server, &bob.token).await;
    let (status, body) = login(&server, "bob", json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("totp_required")),
        "{body}"
    );
    let (status, body) = login(&server, "bob", json!({"totp_code": "12345"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_totp"))
    );
    // The confirmation's code is spent; the next step's is accepted (+1 step of skew), once.
    let (status, _) = login(&server, "bob", json!({"totp_code": code(&secret, step)})).await;
    assert_eq!(status, 401, "a used code cannot be replayed");
    let (status, body) = login(
        &server,
        "bob",
        json!({"totp_code": code(&secret, step + 1)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = login(
        &server,
        "bob",
        json!({"totp_code": code(&secret, step + 1)}),
    )
    .await;
    assert_eq!(status, 401, "nor this one");
    let (status, _) = login(
        &server,
        "bob",
        json!({"totp_code": code(&secret, step - 5)}),
    )
    .await;
    assert_eq!(status, 401, "outside the window");
    // The wrong password still fails first, whatever the code.
    let (status, body) = http(
        &server,
        "POST",
        "/api/v2/auth/login",
        None,
        Some(json!({"username": "bob", "password": "wrong password!", "totp_code": "123456"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    // At rest the secret is encrypted: neither the raw bytes nor the base32 form is stored.
    let pool = server.state.pool.clone();
    let user = veza::db::users::find_by_id(&mut pool.get().unwrap(), veza_actors::UserId(bob.id))
        .unwrap()
        .unwrap();
    let stored = user.totp_secret.unwrap();
    assert!(!stored.contains(&totp::base32(&secret)));
    let body = stored.strip_prefix("v2:").expect("bound to its user");
    let sealed = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
    assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
    let opened = veza::server::totp_secrets(&server.state.config, common::TEST_SECRET)
        .open_for(bob.id, &stored);
    assert_eq!(opened.as_deref(), Some(secret.as_slice()));
    // Audited.
    let failures =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("login.failure"), 20).unwrap();
    assert!(failures.iter().any(|e| e
        .details
        .as_deref()
        .is_some_and(|d| d.contains("totp_missing"))));
    assert!(failures
        .iter()
        .any(|e| e.details.as_deref().is_some_and(|d| d.contains("bad_totp"))));
    let enabled =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("2fa.enabled"), 5).unwrap();
    assert_eq!(enabled.len(), 1);
}

async fn backup_codes_work_once_and_two_factor_can_be_turned_off(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let t = Some(alice.token.as_str());
    let (secret, step, old_codes) = turn_on(&server, &alice.token).await;
    let (status, _) = http(&server, "POST", "/api/v2/auth/2fa/enroll", t, None).await;
    assert_eq!(status, 409, "already on");
    // Regenerate with the next code: the old backup codes stop working.
    let (status, body) = http(
        &server,
        "POST",
        "/api/v2/auth/2fa/backup-codes",
        t,
        Some(json!({"code": code(&secret, step + 1)})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let (status, _) = login(&server, "alice", json!({"backup_code": old_codes[0]})).await;
    assert_eq!(status, 401);
    // A backup code logs in once (typed in lower case with a space: still the same code).
    let typed = codes[0].to_lowercase().replace('-', " ");
    let (status, body) = login(&server, "alice", json!({"backup_code": typed})).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = login(&server, "alice", json!({"backup_code": codes[0]})).await;
    assert_eq!(status, 401, "one time only");
    // Disabling needs the password and a code.
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/auth/2fa/disable",
        t,
        Some(json!({"password": "wrong password!", "code": codes[1]})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/auth/2fa/disable",
        t,
        Some(json!({"password": "correct horse battery", "code": "000000"})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/auth/2fa/disable",
        t,
        Some(json!({"password": "correct horse battery", "code": codes[1]})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = login(&server, "alice", json!({})).await;
    assert_eq!(status, 200, "a password is enough again");
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/auth/2fa/disable",
        t,
        Some(json!({"password": "correct horse battery", "code": codes[2]})),
    )
    .await;
    assert_eq!(status, 409, "already off");
    let pool = server.state.pool.clone();
    let disabled =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("2fa.disabled"), 5).unwrap();
    assert_eq!(disabled.len(), 1);
    let regenerated = veza::db::audit::recent(
        &mut pool.get().unwrap(),
        Some("2fa.backup_codes_regenerated"),
        5,
    )
    .unwrap();
    assert_eq!(regenerated.len(), 1);
}

async fn the_totp_key_can_be_rotated(kind: Kind) {
    let db = TestDb::new(kind);
    let old_key = "11".repeat(32);
    let new_key = "22".repeat(32);
    let config = |key: &str| common::server::config_with(&db, &[("VEZA_TOTP_KEY", key)]);
    let old_server = TestServer::start_with(&db, config(&old_key)).await;
    let erin = old_server.user("erin").await;
    let (secret, step, _) = turn_on(&old_server, &erin.token).await;
    old_server.stop().await;

    // Restarted with a new key: the stored secret no longer opens.
    let server = TestServer::start_with(&db, config(&new_key)).await;
    let (status, _) = login(
        &server,
        "erin",
        json!({"totp_code": code(&secret, step + 1)}),
    )
    .await;
    assert_eq!(
        status, 500,
        "a secret under another key is an operator error, not a pass"
    );
    let auth = server.state.auth.clone();
    let old = veza::server::secret_box(Some(&old_key), "");
    let (first, second) = actix_web::web::block(move || {
        (
            auth.rekey_totp_secrets(&old).unwrap(),
            auth.rekey_totp_secrets(&old).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!((first.rekeyed, first.current, first.unreadable), (1, 0, 0));
    assert_eq!(
        (second.rekeyed, second.current),
        (0, 1),
        "running it again changes nothing"
    );
    let (status, body) = login(
        &server,
        "erin",
        json!({"totp_code": code(&secret, step + 1)}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.stop().await;
}

/// A stolen access token of an old login cannot turn 2FA on (which would lock the owner out behind
/// the thief's authenticator): it needs the current password; a fresh login needs none. Refusals
/// and the change are audited.
async fn turning_two_factor_on_needs_the_password_or_a_fresh_login(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let carol = server.user("carol").await;
    let pool = server.state.pool.clone();
    common::age_sessions(&pool, carol.id);
    let t = Some(carol.token.as_str());
    let (status, e) = http(&server, "POST", "/api/v2/auth/2fa/enroll", t, None).await;
    assert_eq!(status, 200, "{e}");
    let secret = common::base32_decode(e["secret"].as_str().unwrap());
    let confirm = |extra: Value, step: i64| {
        let mut body = json!({"code": code(&secret, step)});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        http(&server, "POST", "/api/v2/auth/2fa/confirm", t, Some(body))
    };
    let step = now_step();
    let (status, body) = confirm(json!({}), step).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("reauth_required")),
        "{body}"
    );
    let refused = common::last_audit_details(&pool, "reauth.failed");
    assert_eq!(refused["action"], "2fa.enable");
    assert_eq!(refused["reason"], "stale_login");
    let (status, body) = confirm(json!({"current_password": "not my password"}), step).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_credentials"))
    );
    assert_eq!(
        common::last_audit_details(&pool, "reauth.failed")["reason"],
        "bad_password"
    );
    let (status, body) = confirm(json!({"current_password": "correct horse battery"}), step).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        common::last_audit_details(&pool, "2fa.enabled")["reauth"],
        "password"
    );

    // From a fresh login no password is asked.
    let dave = server.user("dave").await;
    let (secret, _, _) = turn_on(&server, &dave.token).await;
    assert_eq!(secret.len(), 20);
    assert_eq!(
        common::last_audit_details(&pool, "2fa.enabled")["reauth"],
        "fresh_login"
    );
}

/// Issue 11 (Low): TOTP secrets are sealed bound to their user (a ciphertext moved to another
/// account does not open there), rows from before are bound at start and keep working, and
/// backup codes are keyed digests; codes stored the old way still work once.
async fn secrets_are_bound_to_their_user_and_old_rows_migrate(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let old = server.user("old_timer").await;
    let thief = server.user("thief").await;
    let pool = server.state.pool.clone();
    let secrets = veza::server::totp_secrets(&server.state.config, common::TEST_SECRET);
    let secret = totp::new_secret();
    // A row as an older server wrote it: sealed without the user, a backup code as plain SHA-256.
    let (legacy, s2, old_id) = (
        secrets.seal(&secret),
        secret.clone(),
        veza_actors::UserId(old.id),
    );
    actix_web::web::block(move || {
        let conn = &mut pool.get().unwrap();
        veza::db::two_factor::set_pending_secret(conn, old_id, &legacy, 1)?;
        veza::db::two_factor::enable(conn, old_id, 1)?;
        let plain = veza::auth::opaque::hash("AAAABBBBCCCC");
        veza::db::two_factor::replace_backup_codes(conn, old_id, &[(old_id.0 + 1, plain)], 1)
    })
    .await
    .unwrap()
    .unwrap();
    let auth = server.state.auth.clone();
    let report = actix_web::web::block(move || auth.bind_totp_secrets())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.rekeyed, 1, "{report:?}");
    let pool = server.state.pool.clone();
    let bound = actix_web::web::block(move || {
        veza::db::users::find_by_id(&mut pool.get().unwrap(), old_id)
            .unwrap()
            .unwrap()
            .totp_secret
            .unwrap()
    })
    .await
    .unwrap();
    assert!(veza::auth::totp::SecretBox::is_bound(&bound), "{bound}");
    let (status, body) = login(
        &server,
        "old_timer",
        json!({"totp_code": code(&s2, now_step())}),
    )
    .await;
    assert_eq!(status, 200, "the bound row still works: {body}");
    let (status, body) = login(
        &server,
        "old_timer",
        json!({"backup_code": "aaaa-bbbb-cccc"}),
    )
    .await;
    assert_eq!(status, 200, "an old backup code works once: {body}");
    let (status, _) = login(
        &server,
        "old_timer",
        json!({"backup_code": "aaaa-bbbb-cccc"}),
    )
    .await;
    assert_eq!(status, 401, "and only once");

    // The bound ciphertext copied into the thief's row does not open there.
    let (pool, thief_id) = (server.state.pool.clone(), veza_actors::UserId(thief.id));
    actix_web::web::block(move || {
        let conn = &mut pool.get().unwrap();
        veza::db::two_factor::set_pending_secret(conn, thief_id, &bound, 1)?;
        veza::db::two_factor::enable(conn, thief_id, 1)
    })
    .await
    .unwrap()
    .unwrap();
    let (status, _) = login(
        &server,
        "thief",
        json!({"totp_code": code(&s2, now_step())}),
    )
    .await;
    assert_ne!(
        status, 200,
        "a secret moved to another account must not work"
    );
}

on_both_backends!(
    secrets_are_bound_to_their_user_and_old_rows_migrate,
    turning_two_factor_on_needs_the_password_or_a_fresh_login,
    the_totp_key_can_be_rotated,
    totp_guards_the_login,
    backup_codes_work_once_and_two_factor_can_be_turned_off,
);
