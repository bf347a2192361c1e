//! Issue 11 item 10 on the main port: one client address holds at most `http_max_per_ip`
//! connections; the next is answered 503 `too_many_connections` and closed, other addresses are
//! served meanwhile, and a place freed is given again. The held connections are WebSockets, which
//! stay open however long the test takes (idle HTTP connections close after 5 s).

mod common;

use common::server::{config_with, TestServer};
use common::{Kind, TestDb};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One `GET /api/v2/status` from a socket bound to `from`; the raw answer.
async fn status_from(from: &str, addr: SocketAddr) -> String {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("addr"))
        .expect("bind");
    let mut tcp = socket.connect(addr).await.expect("connect");
    tcp.write_all(b"GET /api/v2/status HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        // An admitted connection stays open (keep-alive): read the head and a body's worth.
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&answer);
            if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer in 10 s");
    String::from_utf8_lossy(&answer).into_owned()
}

async fn one_address_holds_at_most_http_max_per_ip_connections(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_HTTP_MAX_PER_IP", "3")]);
    let server = TestServer::start_with(&db, config).await;
    let user = server.user("holder").await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(server.ws(&user).await);
    }
    let over = status_from("127.0.0.1", server.addr).await;
    assert!(over.starts_with("HTTP/1.1 503"), "{over}");
    assert!(over.contains("too_many_connections"), "{over}");
    assert!(
        over.to_ascii_lowercase().contains("retry-after: 5"),
        "{over}"
    );
    assert!(
        over.to_ascii_lowercase().contains("connection: close"),
        "{over}"
    );
    // Another address is its own count.
    let other = status_from("127.0.0.2", server.addr).await;
    assert!(other.starts_with("HTTP/1.1 200"), "{other}");
    // A closed WebSocket gives its place back.
    held.pop().expect("held").close().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = status_from("127.0.0.1", server.addr).await;
        if again.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "place not given back: {again}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_trusted_proxy_is_not_capped(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_HTTP_MAX_PER_IP", "1"),
            ("VEZA_TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let user = server.user("proxied").await;
    let _one = server.ws(&user).await;
    let _two = server.ws(&user).await;
    let answer = status_from("127.0.0.1", server.addr).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

on_both_backends!(
    one_address_holds_at_most_http_max_per_ip_connections,
    a_trusted_proxy_is_not_capped,
);
