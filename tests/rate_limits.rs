//! Rate limits at three levels (per IP, per user, per endpoint class), 429 with Retry-After and
//! RateLimit-* headers, the per-account login slow-down (throttled and audited, but bounded), and
//! limits shared by two nodes through a real Redis.

mod common;

use actix_web::dev::ServiceResponse;
use actix_web::test::{self, TestRequest};
use common::http;
use common::server::{config_with, TestServer};
use common::{Kind, TestDb};
use serde_json::json;
use std::time::Duration;
use veza::http::AppState;

fn header<B>(res: &ServiceResponse<B>, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn token(state: &AppState, name: &str) -> String {
    let auth = state.auth.clone();
    let n = name.to_owned();
    actix_web::web::block(move || {
        auth.register(&n, "correct horse battery", None, &Default::default())
    })
    .await
    .unwrap()
    .unwrap()
    .access_token
}

fn me(token: &str) -> actix_http::Request {
    TestRequest::get()
        .uri("/api/v2/users/me")
        .insert_header(("authorization", format!("Bearer {token}")))
        .to_request()
}

fn assert_limited<B>(res: &ServiceResponse<B>, limit: &str) {
    assert_eq!(res.status(), 429);
    assert!(header(res, "retry-after").is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    assert_eq!(header(res, "ratelimit-limit").as_deref(), Some(limit));
    assert_eq!(header(res, "ratelimit-remaining").as_deref(), Some("0"));
    assert!(header(res, "ratelimit-reset").is_some());
}

async fn per_user_and_per_class_limits(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_USER_RATE_PER_MINUTE", "4"),
            ("VEZA_WRITE_RATE_PER_MINUTE", "2"),
            ("VEZA_IP_RATE_PER_MINUTE", "0"),
        ],
    );
    let state = db.state_with(config);
    let (a, b) = (token(&state, "alice").await, token(&state, "bob").await);
    let app = test::init_service(veza::http::app(state)).await;
    // Writes: two rooms, then the write class refuses (reads still pass).
    for i in 0..3 {
        let res = test::call_service(
            &app,
            TestRequest::post()
                .uri("/api/v2/rooms")
                .insert_header(("authorization", format!("Bearer {a}")))
                .set_json(json!({"name": format!("room {i}")}))
                .to_request(),
        )
        .await;
        if i < 2 {
            assert_eq!(res.status(), 201);
        } else {
            assert_limited(&res, "2");
        }
    }
    // The user level: four requests a minute in all (three writes counted already).
    let res = test::call_service(&app, me(&a)).await;
    assert_eq!(res.status(), 200);
    let res = test::call_service(&app, me(&a)).await;
    assert_limited(&res, "4");
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another user is not affected.
    let res = test::call_service(&app, me(&b)).await;
    assert_eq!(res.status(), 200);
}

async fn per_ip_limit_spares_media(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_IP_RATE_PER_MINUTE", "3")]);
    let app = test::init_service(veza::http::app(db.state_with(config))).await;
    let peer = |ip: &str| format!("{ip}:4000").parse().unwrap();
    for i in 0..4 {
        let res = test::call_service(
            &app,
            TestRequest::get()
                .uri("/api/v2/streams")
                .peer_addr(peer("192.0.2.1"))
                .to_request(),
        )
        .await;
        if i < 3 {
            assert_eq!(res.status(), 200);
        } else {
            assert_limited(&res, "3");
        }
    }
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/api/v2/streams")
            .peer_addr(peer("192.0.2.2"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 200, "another address has its own budget");
    for uri in ["/health", "/hls/nope/master.m3u8", "/live/nope/mp3-128"] {
        let res = test::call_service(
            &app,
            TestRequest::get()
                .uri(uri)
                .peer_addr(peer("192.0.2.1"))
                .to_request(),
        )
        .await;
        assert_ne!(
            res.status(),
            429,
            "{uri} does not draw on the API's per-IP budget"
        );
    }
}

/// Issue 11 (Low): media has a per-IP budget of its own.
async fn media_has_its_own_per_ip_limit(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_MEDIA_RATE_PER_MINUTE", "4")]);
    let app = test::init_service(veza::http::app(db.state_with(config))).await;
    let peer = |ip: &str| format!("{ip}:4000").parse().unwrap();
    let get = |uri: &str, ip: &str| TestRequest::get().uri(uri).peer_addr(peer(ip)).to_request();
    for (i, uri) in ["/hls/a/master.m3u8", "/live/a/mp3-128"]
        .iter()
        .cycle()
        .take(5)
        .enumerate()
    {
        let res = test::call_service(&app, get(uri, "192.0.2.1")).await;
        if i < 4 {
            assert_eq!(res.status(), 404, "{uri}");
        } else {
            assert_limited(&res, "4");
        }
    }
    let res = test::call_service(&app, get("/hls/a/master.m3u8", "192.0.2.2")).await;
    assert_eq!(res.status(), 404, "another address has its own budget");
    let res = test::call_service(&app, get("/api/v2/streams", "192.0.2.1")).await;
    assert_eq!(res.status(), 200, "the API budget is separate");
}

async fn brute_force_login_is_slowed_per_account_and_audited(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_AUTH_RATE_PER_MINUTE", "0")]);
    let state = db.state_with(config);
    let pool = state.pool.clone();
    token(&state, "victim").await;
    token(&state, "bystander").await;
    let app = test::init_service(veza::http::app(state)).await;
    let login = |name: &str, password: &str| {
        TestRequest::post()
            .uri("/api/v2/auth/login")
            .set_json(json!({"username": name, "password": password}))
            .to_request()
    };
    for _ in 0..5 {
        let res = test::call_service(&app, login("victim", "guess guess guess")).await;
        assert_eq!(res.status(), 401);
    }
    // Slowed: even the right password waits (the password is not even checked meanwhile).
    let res = test::call_service(&app, login("VICTIM", "correct horse battery")).await;
    assert_eq!(res.status(), 429);
    assert!(header(&res, "retry-after").is_some());
    let res = test::call_service(&app, login("bystander", "correct horse battery")).await;
    assert_eq!(res.status(), 200, "other accounts are not slowed");
    let throttled =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("login.throttled"), 5).unwrap();
    assert_eq!(throttled.len(), 1);
    let failures =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("login.failure"), 10).unwrap();
    assert_eq!(failures.len(), 5);
    // Not a lockout: after the short delay the owner logs in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = test::call_service(&app, login("victim", "correct horse battery")).await;
    assert_eq!(res.status(), 200);
}

async fn limits_hold_across_nodes_through_redis(kind: Kind) {
    let db = TestDb::new(kind);
    let redis =
        std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("veza-test-{}", rand::random::<u64>());
    let pairs = [
        ("VEZA_USER_RATE_PER_MINUTE", "3"),
        ("VEZA_AUTH_RATE_PER_MINUTE", "0"),
        ("VEZA_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut node_a = db.state_with(config_with(&db, &pairs));
    // Nodes of one cluster have their own node ids (ids minted on both must not collide).
    let pairs_b: Vec<_> = pairs
        .iter()
        .copied()
        .chain([("VEZA_NODE_ID", "1")])
        .collect();
    let mut node_b = db.state_with(config_with(&db, &pairs_b));
    let log = slog::Logger::root(slog::Discard, slog::o!());
    for node in [&mut node_a, &mut node_b] {
        let shared = veza::server::shared_limits(&node.config, &redis, log.clone())
            .await
            .expect("Redis must run at VEZA_TEST_REDIS_URL (scripts/services.sh starts it)");
        assert!(shared.shared());
        node.limits = std::sync::Arc::new(shared);
    }
    let t = token(&node_a, "roamer").await;
    let a = test::init_service(veza::http::app(node_a)).await;
    let b = test::init_service(veza::http::app(node_b)).await;
    assert_eq!(test::call_service(&a, me(&t)).await.status(), 200);
    assert_eq!(test::call_service(&b, me(&t)).await.status(), 200);
    assert_eq!(test::call_service(&a, me(&t)).await.status(), 200);
    // The fourth request of the minute, on either node, is one too many.
    assert_limited(&test::call_service(&b, me(&t)).await, "3");
    assert_limited(&test::call_service(&a, me(&t)).await, "3");

    // Password guesses spread over the nodes add up to one per-account slow-down.
    let login = |password: &str| {
        TestRequest::post()
            .uri("/api/v2/auth/login")
            .set_json(json!({"username": "roamer", "password": password}))
            .to_request()
    };
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            test::call_service(node, login("guess guess guess"))
                .await
                .status(),
            401
        );
    }
    for node in [&a, &b] {
        let res = test::call_service(node, login("correct horse battery")).await;
        assert_eq!(res.status(), 429, "slowed on every node");
    }
}

fn redis_url() -> String {
    std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// 30 wrong passwords at once for one account, on a real server: at most the free failures are
/// evaluated, the others are slowed (429) before their password is looked at.
async fn parallel_guesses(kind: Kind, redis: Option<String>) {
    let db = TestDb::new(kind);
    let prefix = format!("veza-test-{}", rand::random::<u64>());
    let mut pairs = vec![
        ("VEZA_AUTH_RATE_PER_MINUTE", "0".to_owned()),
        ("VEZA_REDIS_PREFIX", prefix),
    ];
    if let Some(url) = redis {
        pairs.push(("VEZA_REDIS_URL", url));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = TestServer::start_with(&db, config_with(&db, &pairs)).await;
    assert_eq!(server.state.limits.shared(), pairs.len() == 3);
    server.user("victim").await;
    let body = json!({"username": "victim", "password": "guess guess guess"});
    let guesses =
        (0..30).map(|_| http::call(server.addr, "POST", "/api/v2/auth/login", &[], Some(&body)));
    let replies = futures_util::future::join_all(guesses).await;
    let count = |status| replies.iter().filter(|r| r.status == status).count();
    let free = veza::limits::account::FREE_FAILURES as usize;
    assert_eq!(count(401) + count(429), 30, "{replies:?}");
    assert!(
        count(401) <= free,
        "{} of 30 parallel guesses were evaluated; the allowance is {free}",
        count(401)
    );
    assert!(replies
        .iter()
        .filter(|r| r.status == 429)
        .all(|r| r.header("retry-after").is_some()));
    server.stop().await;
}

async fn parallel_wrong_passwords_are_not_all_evaluated(kind: Kind) {
    parallel_guesses(kind, None).await;
}

async fn parallel_wrong_passwords_are_not_all_evaluated_through_redis(kind: Kind) {
    parallel_guesses(kind, Some(redis_url())).await;
}

/// Behind a trusted proxy, clients of one IPv6 /64 share one per-IP bucket; another /64 has its
/// own.
async fn an_ipv6_64_shares_one_per_ip_bucket(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_AUTH_RATE_PER_MINUTE", "3"),
            ("VEZA_TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let login = |xff: &'static str| {
        let body = json!({"username": "nobody", "password": "guess guess guess"});
        let addr = server.addr;
        async move {
            http::call(
                addr,
                "POST",
                "/api/v2/auth/login",
                &[("X-Forwarded-For", xff)],
                Some(&body),
            )
            .await
            .status
        }
    };
    assert_eq!(login("2001:db8:1:2::1").await, 401);
    assert_eq!(login("2001:db8:1:2::2").await, 401);
    assert_eq!(login("2001:db8:1:2:ffff:0:0:9").await, 401);
    assert_eq!(
        login("2001:db8:1:2:abcd::7").await,
        429,
        "a fresh address of the same /64 does not get a fresh bucket"
    );
    assert_eq!(
        login("2001:db8:1:3::1").await,
        401,
        "another /64 has its own"
    );
    server.stop().await;
}

/// A proxy that appends its own `X-Forwarded-For` line after the client's: the client's line does
/// not decide the address (audit log).
async fn every_forwarded_for_line_is_read(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_TRUSTED_PROXIES", "127.0.0.1/32")]);
    let server = TestServer::start_with(&db, config).await;
    let body = json!({"username": "nobody", "password": "guess guess guess"});
    let headers = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-For", "198.51.100.7"),
    ];
    let reply = http::call(
        server.addr,
        "POST",
        "/api/v2/auth/login",
        &headers,
        Some(&body),
    )
    .await;
    assert_eq!(reply.status, 401);
    let pool = server.state.pool.clone();
    let entries =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("login.failure"), 10).unwrap();
    let ips: Vec<_> = entries.iter().filter_map(|e| e.ip.as_deref()).collect();
    assert_eq!(
        ips,
        vec!["198.51.100.7"],
        "the proxy's line, not the client's"
    );
    server.stop().await;
}

on_both_backends!(
    media_has_its_own_per_ip_limit,
    per_user_and_per_class_limits,
    per_ip_limit_spares_media,
    brute_force_login_is_slowed_per_account_and_audited,
    limits_hold_across_nodes_through_redis,
    parallel_wrong_passwords_are_not_all_evaluated,
    parallel_wrong_passwords_are_not_all_evaluated_through_redis,
    an_ipv6_64_shares_one_per_ip_bucket,
    every_forwarded_for_line_is_read,
);
