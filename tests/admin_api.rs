//! The admin API: search users, disable/enable (tokens stop at once), change roles (new
//! permissions at once), revoke sessions, and the audit log with filters and paging.

mod common;

use common::audio::http;
use common::server::TestServer;
use common::{Kind, TestDb};
use serde_json::json;
use veza::auth::Role;

async fn admins_manage_users_and_read_the_audit_log(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let admin = server.user_with_role("root", Role::Admin).await;
    let alice = server.user("alice").await;
    let _al = server.user("al_ice").await;
    let t = Some(admin.token.as_str());

    // Search by name; LIKE metacharacters are literal.
    let (status, body) = http(&server, "GET", "/api/v2/admin/users?q=ALI", t, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["alice"], "{body}");
    let (_, body) = http(&server, "GET", "/api/v2/admin/users?q=_", t, None).await;
    assert_eq!(
        body["users"].as_array().unwrap().len(),
        1,
        "only al_ice has an underscore: {body}"
    );
    let (_, body) = http(&server, "GET", "/api/v2/admin/users?limit=1", t, None).await;
    assert_eq!(body["next_offset"], 1);
    // Found by schemathesis: the extremes of i64 (SQLite wraps LIMIT + OFFSET) once panicked.
    let extreme = "/api/v2/admin/users?limit=-9223372036854775808&offset=9223372036854775807";
    let (status, body) = http(&server, "GET", extreme, t, None).await;
    assert_eq!(status, 200, "{body}");

    // Disable: her token stops working at once; enable: she can log in again.
    let (status, _) = http(
        &server,
        "POST",
        &format!("/api/v2/admin/users/{}/disable", alice.id),
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = http(&server, "GET", "/api/v2/users/me", Some(&alice.token), None).await;
    assert_eq!(status, 401);
    let (status, _) = http(
        &server,
        "POST",
        &format!("/api/v2/admin/users/{}/enable", alice.id),
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, login) = http(
        &server,
        "POST",
        "/api/v2/auth/login",
        None,
        Some(json!({"username": "alice", "password": "correct horse battery"})),
    )
    .await;
    assert_eq!(status, 200, "{login}");
    let fresh = login["access_token"].as_str().unwrap().to_owned();

    // A new role applies to the next request; only admins read the audit log (issue 11, Low).
    let (status, _) = http(&server, "GET", "/api/v2/admin/audit", Some(&fresh), None).await;
    assert_eq!(status, 403);
    for (role, audit) in [("moderator", 403), ("admin", 200)] {
        let (status, body) = http(
            &server,
            "PUT",
            &format!("/api/v2/admin/users/{}/role", alice.id),
            t,
            Some(json!({"role": role})),
        )
        .await;
        assert_eq!((status, body["role"].as_str()), (200, Some(role)));
        let (status, _) = http(&server, "GET", "/api/v2/admin/audit", Some(&fresh), None).await;
        assert_eq!(status, audit, "{role} reading the audit log");
    }

    // Revoke her sessions: the fresh token is dead too.
    let (status, body) = http(
        &server,
        "POST",
        &format!("/api/v2/admin/users/{}/revoke-sessions", alice.id),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["revoked"].as_u64().unwrap() >= 1, "{body}");
    let (status, _) = http(&server, "GET", "/api/v2/users/me", Some(&fresh), None).await;
    assert_eq!(status, 401);

    // A user who lost their authenticator: an admin turns 2FA off; the password is enough again.
    let bob = server.user("bob").await;
    let pool = server.state.pool.clone();
    let bob_id = veza_actors::UserId(bob.id);
    actix_web::web::block(move || {
        let conn = &mut pool.get().unwrap();
        veza::db::two_factor::set_pending_secret(conn, bob_id, "sealed", 1)?;
        veza::db::two_factor::enable(conn, bob_id, 1)
    })
    .await
    .unwrap()
    .unwrap();
    let bob_login = json!({"username": "bob", "password": "correct horse battery"});
    let (status, body) = http(
        &server,
        "POST",
        "/api/v2/auth/login",
        None,
        Some(bob_login.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("totp_required"))
    );
    let (status, _) = http(
        &server,
        "POST",
        &format!("/api/v2/admin/users/{}/reset-2fa", bob.id),
        Some(&fresh),
        None,
    )
    .await;
    assert_eq!(status, 401, "alice's sessions were revoked above");
    let (status, _) = http(
        &server,
        "POST",
        &format!("/api/v2/admin/users/{}/reset-2fa", bob.id),
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = http(&server, "POST", "/api/v2/auth/login", None, Some(bob_login)).await;
    assert_eq!(status, 200);
    let (_, body) = http(
        &server,
        "GET",
        "/api/v2/admin/audit?action=admin.2fa_reset",
        t,
        None,
    )
    .await;
    assert_eq!(body["entries"][0]["target_id"], bob.id.to_string());

    // Bad requests.
    let me = format!("/api/v2/admin/users/{}", admin.id);
    let (status, _) = http(&server, "POST", &format!("{me}/disable"), t, None).await;
    assert_eq!(status, 422, "no locking oneself out");
    let (status, _) = http(
        &server,
        "PUT",
        &format!("{me}/role"),
        t,
        Some(json!({"role": "user"})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = http(
        &server,
        "PUT",
        &format!("/api/v2/admin/users/{}/role", alice.id),
        t,
        Some(json!({"role": "god"})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = http(&server, "POST", "/api/v2/admin/users/42/disable", t, None).await;
    assert_eq!(status, 404);

    // The audit log has each action with actor, target, IP and user agent, newest first.
    let (status, body) = http(
        &server,
        "GET",
        &format!(
            "/api/v2/admin/audit?target_id={}&actor_id={}",
            alice.id, admin.id
        ),
        t,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "admin.sessions_revoked",
            "admin.role_changed",
            "admin.role_changed",
            "admin.user_enabled",
            "admin.user_disabled"
        ]
    );
    let entry = &body["entries"][2];
    assert_eq!(entry["actor_id"], admin.id.to_string());
    assert_eq!(entry["details"]["role"], "moderator");
    assert_eq!(body["entries"][1]["details"]["role"], "admin");
    assert_eq!(entry["ip"], "127.0.0.1");
    // Filters and paging.
    let (_, body) = http(
        &server,
        "GET",
        "/api/v2/admin/audit?action=admin.role_changed",
        t,
        None,
    )
    .await;
    assert_eq!(body["entries"].as_array().unwrap().len(), 2);
    let (_, page1) = http(
        &server,
        "GET",
        &format!("/api/v2/admin/audit?actor_id={}&limit=2", admin.id),
        t,
        None,
    )
    .await;
    let before = page1["next_before"].as_str().unwrap().to_owned();
    let (_, page2) = http(
        &server,
        "GET",
        &format!(
            "/api/v2/admin/audit?actor_id={}&limit=2&before={before}",
            admin.id
        ),
        t,
        None,
    )
    .await;
    assert_eq!(
        page2["entries"][0]["action"], "admin.role_changed",
        "{page2}"
    );
    let (status, _) = http(&server, "GET", "/api/v2/admin/audit?before=x", t, None).await;
    assert_eq!(status, 422);
}

/// The production checklist: a development test node fails what it should, a node set up for
/// production (strong secret, TOTP key, TLS proxy, Redis reachable, limits on) passes everything.
async fn the_production_checklist_says_what_is_missing(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let admin = server.user_with_role("root", Role::Admin).await;
    let (status, body) = http(
        &server,
        "GET",
        "/api/v2/production-validation",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let check = |body: &serde_json::Value, name: &str| {
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {body}"))["ok"]
            .as_bool()
            .unwrap()
    };
    assert_eq!(body["ok"], false);
    assert!(check(&body, "store_reachable") && check(&body, "migrations_current"));
    assert!(check(&body, "rate_limits") && check(&body, "redis"));
    for failing in ["environment", "jwt_secret", "totp_key", "tls"] {
        assert!(!check(&body, failing), "{failing}: {body}");
    }
    server.stop().await;

    let redis =
        std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("veza-test-{}", rand::random::<u64>());
    let ready = common::server::config_with(
        &db,
        &[
            ("VEZA_ENV", "production"),
            // The tests' TEST_SECRET repeats itself: production refuses it.
            ("VEZA_JWT_SECRET", "k3Jd9aLq0Zx7Vb2Nm5Rt8Yw1Pe4Uo6Ii9Ss3Dd"),
            ("VEZA_REDIS_PREFIX", &prefix),
            ("VEZA_TOTP_KEY", &"ab".repeat(32)),
            ("VEZA_BEHIND_TLS_PROXY", "true"),
            ("VEZA_REDIS_URL", &redis),
        ],
    );
    let server = TestServer::start_with(&db, ready).await;
    let (status, body) = http(&server, "GET", "/api/v2/production-validation", None, None).await;
    assert_eq!(status, 401, "{body}");
    let admin = server.user_with_role("root2", Role::Admin).await;
    let (_, body) = http(
        &server,
        "GET",
        "/api/v2/production-validation",
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(body["ok"], true, "{body}");
    assert!(check(&body, "redis") && check(&body, "jwt_secret"));
    server.stop().await;
}

on_both_backends!(
    admins_manage_users_and_read_the_audit_log,
    the_production_checklist_says_what_is_missing,
);
