//! `GET /metrics`: Prometheus text with the node's gauges and the HTTP counters, moving as requests
//! are answered; every family of deploy/prometheus/METRICS.md moving under real traffic (chat, a
//! slow consumer, slow mode, a live broadcast with a listener, two nodes on one bus).

mod common;

use common::audio::{broadcast, create_stream, http, wait_live};
use common::cluster::{eventually, Cluster};
use common::server::{config_with, TestServer};
use common::{Kind, TestDb};
use serde_json::json;
use std::time::Duration;

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

/// The first sample of `name` whose labels contain `labels` (`""`: any), e.g.
/// `first(text, "veza_stream_listeners", "variant=\"mp3-128\"")`.
fn first(text: &str, name: &str, labels: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let (set, value) = match rest.strip_prefix('{') {
            Some(r) => r.split_once("} ")?,
            None => ("", rest.strip_prefix(' ')?),
        };
        set.contains(labels).then(|| value.parse().ok()).flatten()
    })
}

/// Chat with a slow consumer and slow mode, then a live broadcast with a listener: every
/// family of this node moves (the bus's are in the two-node test below).
async fn every_family_moves_under_real_traffic(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_WS_OUTBOUND_QUEUE", "64"),
            ("VEZA_WS_SEND_RATE", "100000"),
            ("VEZA_WS_SEND_BURST", "100000"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let before = scrape(&server).await;
    for name in [
        "veza_ws_deliveries_total",
        "veza_ws_outbox_dropped_total",
        "veza_ws_slow_closes_total",
        "veza_persistence_batch_size_count",
        "veza_persistence_commit_seconds_count",
        "veza_db_reader_wait_seconds_count",
    ] {
        assert!(
            first(&before, name, "").is_some(),
            "{name} missing:\n{before}"
        );
    }
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let slow = server.user("sloth").await;
    let room = server.room(&alice, "general", false).await;
    let mut a = server.ws(&alice).await;
    let mut b = server.ws(&bob).await;
    let mut s = server.ws_small_buffer(&slow).await;
    a.join(&room).await;
    b.join(&room).await;
    s.join(&room).await;
    // The slow consumer overflows its queue: dropped frames and a 1013 close.
    let body = "z".repeat(3900);
    let reader = actix_rt::spawn(async move {
        let mut got = 0;
        while got < 1500 {
            if b.recv_type("message").await["message"]["body"]
                .as_str()
                .map(str::len)
                == Some(3900)
            {
                got += 1;
            }
        }
        b
    });
    for i in 0..1500 {
        a.say(&room, &body, &format!("m{i}")).await;
    }
    let mut b = reader.await.unwrap();
    assert_eq!(s.closed().await, Some(1013));
    // Slow mode refuses bob's second message.
    a.send(json!({"type": "send", "room": room, "body": "/slow 60", "client_id": "slow"}))
        .await;
    a.recv_type_any(&["ack", "notice"]).await;
    b.say(&room, "first", "b1").await;
    b.send(json!({"type": "send", "room": room, "body": "second", "client_id": "b2"}))
        .await;
    assert_eq!(b.recv_type("error").await["code"], "rate_limited");
    let (status, _) = http(&server, "GET", "/api/v2/users/me", Some(&alice.token), None).await;
    assert_eq!(status, 200);

    let chat = scrape(&server).await;
    let moved = |name: &str, labels: &str| {
        let was = first(&before, name, labels).unwrap_or(0.0);
        let now = first(&chat, name, labels).unwrap_or(0.0);
        assert!(now > was, "{name}{{{labels}}}: {was} -> {now}\n{chat}");
    };
    moved("veza_ws_deliveries_total", "");
    moved("veza_ws_outbox_dropped_total", "");
    moved("veza_ws_slow_closes_total", "");
    moved("veza_persistence_batch_size_count", "");
    moved("veza_persistence_commit_seconds_count", "");
    moved("veza_db_reader_wait_seconds_count", "");
    moved("veza_rate_limited_total", "class=\"slow_mode\"");
    moved(
        "veza_http_route_duration_seconds_count",
        "method=\"GET\",route=\"/api/v2/users/me\"",
    );
    assert!(first(&chat, "veza_persistence_queue_depth", "shard=\"0\"").is_some());
    assert!(first(&chat, "veza_db_pool_max_connections", "").unwrap() >= 1.0);
    for name in [
        "veza_process_resident_memory_bytes",
        "veza_memory_limit_bytes",
        "veza_data_dir_free_bytes",
        "veza_data_dir_size_bytes",
    ] {
        assert!(
            first(&chat, name, "").unwrap_or(0.0) > 0.0,
            "{name}\n{chat}"
        );
    }

    // A live broadcast with one progressive listener.
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Metrics Hour").await;
    let _ffmpeg = broadcast(&stream.ingest_url, 60, 440, false);
    wait_live(&server, &stream).await;
    let _listener = listen(&server, &stream.mount, "mp3-128").await;
    let on_stream = |labels: &str| format!("stream=\"{}\"{labels}", stream.id);
    let mut live = String::new();
    for _ in 0..300 {
        live = scrape(&server).await;
        let listeners = first(
            &live,
            "veza_stream_listeners",
            &on_stream(",variant=\"mp3-128\""),
        );
        let realtime = first(
            &live,
            "veza_transcoder_realtime_factor",
            &on_stream(",rung=\"mp3-128\""),
        );
        let ingest = first(&live, "veza_stream_ingest_bits_per_second", &on_stream(""));
        let age = first(&live, "veza_hls_segment_age_seconds", &on_stream(""));
        if listeners == Some(1.0)
            && realtime.is_some_and(|r| r > 0.5)
            && ingest.is_some_and(|b| b > 100_000.0)
            && age.is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ingest = first(&live, "veza_stream_ingest_bits_per_second", &on_stream(""));
    // ffmpeg sends 192 kbit/s MP3 in real time.
    assert!(
        ingest.is_some_and(|b| (100_000.0..400_000.0).contains(&b)),
        "{ingest:?}\n{live}"
    );
    let realtime = first(
        &live,
        "veza_transcoder_realtime_factor",
        &on_stream(",rung=\"mp3-128\""),
    );
    assert!(
        realtime.is_some_and(|r| r > 0.5 && r < 2.0),
        "{realtime:?}\n{live}"
    );
    let age = first(&live, "veza_hls_segment_age_seconds", &on_stream(""));
    assert!(age.is_some_and(|a| a < 30.0), "{age:?}\n{live}");
    assert_eq!(
        first(
            &live,
            "veza_stream_listeners",
            &on_stream(",variant=\"mp3-128\"")
        ),
        Some(1.0),
        "{live}"
    );
    assert_families(
        &live,
        exported_families().into_iter().filter(|n| !on_the_bus(n)),
    );
    server.stop().await;
}

/// The families deploy/prometheus/METRICS.md says the server exports (not Prometheus's own `up`).
fn exported_families() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus/METRICS.md");
    let text = std::fs::read_to_string(path).expect("METRICS.md");
    let names: Vec<String> = text
        .lines()
        .filter(|l| l.ends_with("| exported today |"))
        .filter_map(|l| Some(l.strip_prefix("| `")?.split('`').next()?.to_owned()))
        .filter(|n| n != "up")
        .collect();
    assert!(names.len() > 30, "{names:?}");
    names
}

/// Each of `names` has its `# TYPE` line in `scrape`.
fn assert_families(scrape: &str, names: impl Iterator<Item = String>) {
    for name in names {
        assert!(
            scrape.contains(&format!("# TYPE {name} ")),
            "METRICS.md lists {name}, the scrape lacks it:\n{scrape}"
        );
    }
}

/// Only a node on a bus renders these.
fn on_the_bus(name: &str) -> bool {
    name.starts_with("veza_bus_") || name == "veza_redis_up"
}

/// A progressive listener that reads the first bytes and stays connected while held.
async fn listen(server: &TestServer, mount: &str, variant: &str) -> std::net::TcpStream {
    let addr = server.addr;
    let path = format!("/live/{mount}/{variant}");
    actix_web::web::block(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let mut first = [0u8; 1024];
        let n = tcp.read(&mut first).expect("the listener's first bytes");
        assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
        tcp
    })
    .await
    .unwrap()
}

/// A message sent on one node arrives at the other through the bus, which measures the trip.
async fn the_bus_lag_is_measured_on_the_receiving_node(kind: Kind) {
    let cluster = Cluster::start(kind, 2);
    let alice = cluster.register(0, "alice");
    let bob = cluster.register(1, "bob");
    let room = cluster.room(0, &alice, "general");
    let mut a = cluster.ws(0, &alice).await;
    let mut b = cluster.ws(1, &bob).await;
    a.join(&room).await;
    b.join(&room).await;
    a.say(&room, "across", "c1").await;
    assert_eq!(b.recv_type("message").await["message"]["body"], "across");
    let lag = |text: &str| first(text, "veza_bus_lag_seconds_count", "").unwrap_or(0.0);
    let text = eventually(
        Duration::from_secs(10),
        "the bus lag counted on node 1",
        || {
            let (status, text) = cluster.get(1, "/metrics", None)?;
            (status == 200 && lag(&text) >= 1.0).then_some(text)
        },
    )
    .await;
    assert!(
        text.contains("# TYPE veza_bus_received_total counter"),
        "{text}"
    );
    assert_families(
        &text,
        exported_families().into_iter().filter(|n| on_the_bus(n)),
    );
}

on_both_backends!(
    metrics_count_requests_and_show_the_node,
    every_family_moves_under_real_traffic,
    the_bus_lag_is_measured_on_the_receiving_node,
);
