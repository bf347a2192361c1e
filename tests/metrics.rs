//! `GET /metrics`: Prometheus text with the node's gauges and the HTTP counters, moving as requests
//! are answered.

mod common;

use common::audio::http;
use common::server::TestServer;
use common::{Kind, TestDb};

fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

async fn scrape(server: &TestServer) -> String {
    let port = server.addr.port();
    actix_web::web::block(move || {
        let (status, body) =
            common::process::request(port, "GET", "/metrics", None, None).expect("GET /metrics");
        assert_eq!(status, 200, "{body}");
        body
    })
    .await
    .unwrap()
}

async fn metrics_count_requests_and_show_the_node(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let _ws = server.ws(&alice).await;
    let before = scrape(&server).await;
    assert!(before.contains("# TYPE veza_http_request_duration_seconds histogram"));
    assert!(before.contains(&format!(
        "veza_build_info{{version=\"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
    assert_eq!(sample(&before, "veza_connections"), 1.0);
    let ok_before = sample(&before, "veza_http_requests_total{code=\"2xx\"}");
    let missing_before = sample(&before, "veza_http_requests_total{code=\"4xx\"}");
    for _ in 0..3 {
        assert_eq!(
            http(&server, "GET", "/api/v2/users/me", Some(&alice.token), None)
                .await
                .0,
            200
        );
    }
    assert_eq!(
        http(
            &server,
            "GET",
            "/api/v2/rooms/404",
            Some(&alice.token),
            None
        )
        .await
        .0,
        404
    );
    let after = scrape(&server).await;
    // The scrape before this one counts too.
    assert_eq!(
        sample(&after, "veza_http_requests_total{code=\"2xx\"}"),
        ok_before + 4.0
    );
    assert_eq!(
        sample(&after, "veza_http_requests_total{code=\"4xx\"}"),
        missing_before + 1.0
    );
    let count = sample(&after, "veza_http_request_duration_seconds_count");
    assert_eq!(
        sample(
            &after,
            "veza_http_request_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        count
    );
    assert!(sample(&after, "veza_db_connections_open") >= 1.0);
    server.stop().await;
}

on_both_backends!(metrics_count_requests_and_show_the_node);
