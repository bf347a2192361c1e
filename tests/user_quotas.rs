//! Issue 11 (Low): per-user quotas with a clear error: rooms and streams one account may own
//! (409 `quota_exceeded`, counted in the store every node shares) and WebSockets one user may hold
//! open on a node (429 `too_many_connections`; a closed socket gives its place back).

mod common;

use common::audio::http;
use common::server::{config_with, TestServer};
use common::{Kind, TestDb};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

async fn rooms_and_streams_per_user_are_capped(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_MAX_ROOMS_PER_USER", "2"),
            ("VEZA_MAX_STREAMS_PER_USER", "1"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let ann = server.user("ann").await;
    let ben = server.user("ben").await;
    for (n, expected) in [(1, 201), (2, 201), (3, 409)] {
        let (status, body) = http(
            &server,
            "POST",
            "/api/v2/rooms",
            Some(&ann.token),
            Some(json!({"name": format!("room {n}")})),
        )
        .await;
        assert_eq!(status, expected, "room {n}: {body}");
        if status == 409 {
            assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
        }
    }
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/rooms",
        Some(&ben.token),
        Some(json!({"name": "ben's"})),
    )
    .await;
    assert_eq!(status, 201, "the quota is per user");

    let stream = |title: &str| json!({"title": title});
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/streams",
        Some(&ann.token),
        Some(stream("one")),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = http(
        &server,
        "POST",
        "/api/v2/streams",
        Some(&ann.token),
        Some(stream("two")),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("quota_exceeded")),
        "{body}"
    );
}

/// Opens `/ws` for `token`: `Ok` with the socket, or the refusal's HTTP status.
async fn open(server: &TestServer, token: &str) -> Result<common::server::Ws, u16> {
    let mut req = server.url("/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((stream, _)) => Ok(common::server::Ws { stream }),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("ws: {e}"),
    }
}

async fn open_websockets_per_user_are_capped(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_MAX_WEBSOCKETS_PER_USER", "2")]);
    let server = TestServer::start_with(&db, config).await;
    let ann = server.user("ann").await;
    let ben = server.user("ben").await;
    let first = open(&server, &ann.token).await.expect("first");
    let _second = open(&server, &ann.token).await.expect("second");
    assert_eq!(open(&server, &ann.token).await.err(), Some(429));
    assert!(
        open(&server, &ben.token).await.is_ok(),
        "the cap is per user"
    );
    // Closing one gives its place back (once the server has seen the close).
    let mut first = first;
    first.close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open(&server, &ann.token).await {
            Ok(_) => break,
            Err(429) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(status) => panic!("a closed socket's place never came back: {status}"),
        }
    }
}

on_both_backends!(
    rooms_and_streams_per_user_are_capped,
    open_websockets_per_user_are_capped,
);
