//! Live audio on two real nodes: a stream runs on exactly one node (a lease in Redis), a second
//! source on the other node is refused as on one node, listeners and HLS requests that reach the
//! other node are redirected (307) to the owner, and `GET /api/v2/streams/{id}` says which node
//! serves it. Both storage backends.

mod common;

use common::audio::{broadcast, probe};
use common::cluster::{eventually, Cluster};
use common::Kind;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::time::Duration;

/// A raw HTTP request; returns the status line and headers (lower-cased names).
fn head(port: u16, method: &str, path: &str, extra: &str) -> String {
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        tcp,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let _ = tcp.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    // The status line and headers are enough: a live listener would stream forever.
    while !reply.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&reply).to_string();
    text.split("\r\n\r\n").next().unwrap_or("").to_lowercase()
}

fn stream_on(c: &Cluster, node: usize, id: &str) -> Value {
    c.call(
        node,
        "GET",
        &format!("/api/v2/streams/{id}"),
        None,
        None,
        200,
    )
}

async fn a_stream_lives_on_one_node_and_other_nodes_redirect(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let dj = c.register(0, "deejay");
    let s = c.call(
        0,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": "night shift"})),
        201,
    );
    let (id, mount, key) = (
        s["id"].as_str().unwrap().to_owned(),
        s["mount"].as_str().unwrap().to_owned(),
        s["stream_key"].as_str().unwrap().to_owned(),
    );
    let source = broadcast(s["ingest_url"].as_str().unwrap(), 60, 440, false);
    eventually(
        Duration::from_secs(20),
        "the stream goes live on node 0",
        || (stream_on(&c, 0, &id)["live"] == true).then_some(()),
    )
    .await;

    // Both nodes say who serves it.
    let owner = json!({"id": c.nodes[0].id, "url": c.nodes[0].base()});
    assert_eq!(stream_on(&c, 0, &id)["node"], owner);
    let elsewhere = stream_on(&c, 1, &id);
    assert_eq!(elsewhere["node"], owner, "{elsewhere}");
    assert_eq!(elsewhere["live"], true);

    // A second source is refused on either node, the same way.
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("source:{key}"));
    for node in [1, 0] {
        let reply = head(
            c.nodes[node].ingest_port,
            "PUT",
            &format!("/live/{mount}"),
            &format!("Authorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\n"),
        );
        assert!(reply.starts_with("http/1.1 403"), "node {node}: {reply}");
    }

    // Listeners and HLS on node 1 are sent to node 0.
    for path in [
        format!("/live/{mount}/mp3-128"),
        format!("/hls/{mount}/master.m3u8"),
        format!("/hls/{mount}/mp3-128/index.m3u8?sid=abc"),
    ] {
        let reply = head(c.port(1), "GET", &path, "");
        assert!(reply.starts_with("http/1.1 307"), "{path}: {reply}");
        let location = format!("location: {}{}", c.nodes[0].base(), path).to_lowercase();
        assert!(reply.contains(&location), "{path}: {reply}");
    }
    // The Icecast-style listener port of node 1 sends listeners to node 0's main port.
    let path = format!("/live/{mount}/mp3-128");
    let reply = head(c.nodes[1].ingest_port, "GET", &path, "");
    assert!(reply.starts_with("http/1.0 307"), "{reply}");
    let location = format!("location: {}{path}", c.nodes[0].base()).to_lowercase();
    assert!(reply.contains(&location), "{reply}");
    // A real client follows the redirect and hears the stream.
    let probed = probe(format!(
        "http://127.0.0.1:{}/live/{mount}/mp3-128",
        c.port(1)
    ))
    .await;
    assert_eq!(probed["codec_name"], "mp3");

    // Off air: the lease is gone, node 1 no longer redirects.
    drop(source);
    eventually(
        Duration::from_secs(20),
        "node 1 sees the stream end",
        || {
            let v = stream_on(&c, 1, &id);
            (v["node"].is_null() && v["live"] == false).then_some(())
        },
    )
    .await;
    let reply = head(c.port(1), "GET", &format!("/live/{mount}/mp3-128"), "");
    assert!(reply.starts_with("http/1.1 404"), "{reply}");
}

on_both_backends!(a_stream_lives_on_one_node_and_other_nodes_redirect);

/// Two sources for one mount racing on node 1 share its lease: the one that loses (refused by the
/// node's registry) leaves without releasing what the other is live on; node 2 stays refused
/// until the last of them is gone.
#[actix_rt::test]
async fn sources_racing_on_one_node_share_its_lease() {
    use veza::cluster::{Owner, StreamLeases};
    let url =
        std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!(
        "leasetest{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let log = slog::Logger::root(slog::Discard, slog::o!());
    let node = |id: u16| {
        let me = Owner {
            id,
            url: format!("http://node{id}"),
        };
        std::sync::Arc::new(StreamLeases::new(&url, &prefix, me, log.clone()).unwrap())
    };
    let (one, two) = (node(1), node(2));
    let winner = one.acquire("radio").await.expect("free mount");
    let loser = one.acquire("radio").await.expect("shared on its node");
    drop(loser);
    let refused = two
        .acquire("radio")
        .await
        .err()
        .expect("node 1 still holds it");
    assert_eq!(refused.id, 1);
    assert_eq!(two.other_owner("radio").await.map(|o| o.id), Some(1));
    drop(winner);
    // Released by the renewing task as it ends: node 2 gets the mount.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while two.acquire("radio").await.is_err() {
        assert!(std::time::Instant::now() < deadline, "lease never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
