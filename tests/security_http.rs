//! Hardened HTTP: security headers on every response (errors included), the page's own CSP kept,
//! HSTS behind a TLS proxy, CORS for configured origins only, and X-Forwarded-For believed only
//! from trusted proxies (audit log and per-IP limits).

mod common;

use actix_web::dev::ServiceResponse;
use actix_web::test::{self, TestRequest};
use common::server::config_with;
use common::{Kind, TestDb};
use serde_json::json;

fn header<'a, B>(res: &'a ServiceResponse<B>, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

fn has_security_headers<B>(res: &ServiceResponse<B>, what: &str) {
    assert_eq!(
        header(res, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(res, "referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    assert_eq!(header(res, "x-frame-options"), Some("DENY"), "{what}");
    assert!(
        header(res, "content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors 'none'")),
        "{what}"
    );
    assert!(header(res, "permissions-policy").is_some(), "{what}");
}

async fn every_response_carries_the_security_headers(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let cases = [
        TestRequest::get().uri("/health"),
        TestRequest::get().uri("/api/v2/no-such-thing"),
        TestRequest::post()
            .uri("/api/v2/auth/login")
            .insert_header(("content-type", "application/json"))
            .set_payload("{"),
        TestRequest::get().uri("/api/v2/users/me"),
        TestRequest::get().uri("/hls/nope/master.m3u8"),
        TestRequest::get().uri("/assets/app.js"),
    ];
    for req in cases {
        let req = req.to_request();
        let what = format!("{} {}", req.method(), req.path());
        let res = test::call_service(&app, req).await;
        has_security_headers(&res, &what);
        assert_eq!(
            header(&res, "content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'"),
            "{what}"
        );
        assert!(
            header(&res, "strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
    }
    // The page keeps its own policy (its script and style from this origin, nothing inline).
    let res = test::call_service(&app, TestRequest::get().uri("/").to_request()).await;
    has_security_headers(&res, "the page");
    assert!(header(&res, "content-security-policy")
        .unwrap()
        .contains("script-src 'self'"));
    // Behind a TLS proxy: HSTS.
    let tls = config_with(&db, &[("VEZA_BEHIND_TLS_PROXY", "true")]);
    let app = test::init_service(veza::http::app(db.state_with(tls))).await;
    let res = test::call_service(&app, TestRequest::get().uri("/health").to_request()).await;
    assert!(header(&res, "strict-transport-security").is_some_and(|h| h.starts_with("max-age=")));
}

async fn cors_answers_only_the_configured_origins(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[(
            "VEZA_CORS_ORIGINS",
            "https://radio.example, https://chat.example/",
        )],
    );
    let app = test::init_service(veza::http::app(db.state_with(config))).await;
    let res = test::call_service(
        &app,
        TestRequest::get()
            .uri("/api/v2/streams")
            .insert_header(("origin", "https://radio.example"))
            .to_request(),
    )
    .await;
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("https://radio.example")
    );
    assert!(header(&res, "vary").is_some_and(|v| v.contains("Origin")));
    assert!(header(&res, "access-control-allow-credentials").is_none());
    // Preflight from an allowed origin.
    let res = test::call_service(
        &app,
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/api/v2/rooms")
            .insert_header(("origin", "https://chat.example"))
            .insert_header(("access-control-request-method", "POST"))
            .insert_header((
                "access-control-request-headers",
                "authorization, content-type",
            ))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("https://chat.example")
    );
    assert!(header(&res, "access-control-allow-headers")
        .unwrap()
        .contains("Authorization"));
    // Anyone else: no CORS headers at all, so the browser keeps the page out.
    for (method, origin) in [
        (actix_web::http::Method::GET, "https://evil.example"),
        (
            actix_web::http::Method::OPTIONS,
            "https://radio.example.evil",
        ),
    ] {
        let res = test::call_service(
            &app,
            TestRequest::default()
                .method(method)
                .uri("/api/v2/streams")
                .insert_header(("origin", origin))
                .insert_header(("access-control-request-method", "POST"))
                .to_request(),
        )
        .await;
        assert!(
            header(&res, "access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    // A bad origin in the configuration is refused at start.
    let bad = veza::config::Config::load(None, |name| match name {
        "VEZA_CORS_ORIGINS" => Some("*".into()),
        _ => None,
    });
    assert!(bad.unwrap_err().to_string().contains("cors_origins"));
}

async fn login<B>(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    forwarded: &str,
) -> u16 {
    let req = TestRequest::post()
        .uri("/api/v2/auth/login")
        .peer_addr("127.0.0.1:5555".parse().unwrap())
        .insert_header(("x-forwarded-for", forwarded))
        .set_json(json!({"username": "nobody", "password": "wrong password!"}))
        .to_request();
    test::call_service(app, req).await.status().as_u16()
}

async fn forwarded_for_counts_only_from_trusted_proxies(kind: Kind) {
    let db = TestDb::new(kind);
    // Untrusted (the default): a forged header changes nothing; all share the peer's bucket.
    let config = config_with(&db, &[("VEZA_AUTH_RATE_PER_MINUTE", "2")]);
    let state = db.state_with(config);
    let pool = state.pool.clone();
    let app = test::init_service(veza::http::app(state)).await;
    assert_eq!(login(&app, "198.51.100.1").await, 401);
    assert_eq!(login(&app, "198.51.100.2").await, 401);
    assert_eq!(
        login(&app, "198.51.100.3").await,
        429,
        "forging X-Forwarded-For does not reset the limit"
    );
    let entries =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("login.failure"), 10).unwrap();
    assert!(
        entries.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")),
        "{entries:?}"
    );

    // Behind a trusted proxy: each client its own bucket and its own address in the audit log.
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_AUTH_RATE_PER_MINUTE", "2"),
            ("VEZA_TRUSTED_PROXIES", "127.0.0.0/8"),
        ],
    );
    let state = db.state_with(config);
    let pool = state.pool.clone();
    let app = test::init_service(veza::http::app(state)).await;
    assert_eq!(login(&app, "203.0.113.5").await, 401);
    assert_eq!(login(&app, "6.6.6.6, 203.0.113.5").await, 401);
    assert_eq!(
        login(&app, "203.0.113.5").await,
        429,
        "the client, not the forged first hop, is limited"
    );
    assert_eq!(
        login(&app, "203.0.113.6").await,
        401,
        "another client has its own bucket"
    );
    let entries =
        veza::db::audit::recent(&mut pool.get().unwrap(), Some("login.failure"), 10).unwrap();
    let ips: Vec<_> = entries.iter().filter_map(|e| e.ip.as_deref()).collect();
    assert!(
        ips.contains(&"203.0.113.5") && ips.contains(&"203.0.113.6") && !ips.contains(&"6.6.6.6"),
        "{ips:?}"
    );
}

on_both_backends!(
    every_response_carries_the_security_headers,
    cors_answers_only_the_configured_origins,
    forwarded_for_counts_only_from_trusted_proxies,
);
