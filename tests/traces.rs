//! OpenTelemetry traces: the real binary, with `otlp_endpoint` pointing at an OTLP/HTTP endpoint
//! this test starts, exports the spans of HTTP requests (a child of the caller's `traceparent`,
//! carrying its request id, whose access-log line carries the trace id), WebSocket frames, room
//! messages, persistence batches and a stream session. Both stores.

mod common;

use common::audio::broadcast;
use common::cluster::Cluster;
use common::process::{free_port, json_call, veza, wait_until_up};
use common::webhook_receiver::Receiver;
use common::{Kind, TestDb};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

struct Node {
    child: Child,
    port: u16,
    ingest: u16,
    log: std::path::PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &TestDb, collector: &str) -> Node {
    let (port, ingest) = (free_port(), free_port());
    let log = db.dir().join("veza.log");
    let child = veza()
        .arg("serve")
        .current_dir(db.dir())
        .env("VEZA_BIND", format!("127.0.0.1:{port}"))
        .env("VEZA_INGEST_BIND", format!("127.0.0.1:{ingest}"))
        .env("VEZA_DATABASE_URL", &db.url)
        .env("VEZA_DATA_DIR", db.dir().join("data"))
        .env("VEZA_LOG_FORMAT", "json")
        .env("VEZA_OTLP_ENDPOINT", collector)
        .env("VEZA_OTLP_PROTOCOL", "json")
        // Export every 100 ms rather than every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .stdout(std::fs::File::create(&log).expect("log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("veza");
    let mut node = Node {
        child,
        port,
        ingest,
        log,
    };
    wait_until_up(&mut node.child, port);
    node
}

/// Every span received so far, flattened from the OTLP/JSON export requests.
fn spans(receiver: &Receiver) -> Vec<Value> {
    let mut out = Vec::new();
    for call in receiver.calls() {
        assert_eq!(call.path, "/v1/traces");
        let body = call.json();
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                out.extend(scope["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    out
}

/// Every span received so far with the `veza.node_id` of the resource (node) that sent it.
fn spans_by_node(receiver: &Receiver) -> Vec<(i64, Value)> {
    let mut out = Vec::new();
    for call in receiver.calls() {
        let body = call.json();
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            let node = attribute(&resource["resource"], "veza.node_id")
                .and_then(|v| v["intValue"].as_str()?.parse().ok())
                .unwrap_or(-1);
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    out.push((node, span.clone()));
                }
            }
        }
    }
    out
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

async fn wait_for_span(receiver: &Receiver, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(span) = spans(receiver).into_iter().find(|s| matches(s)) {
            return span;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} span; got: {:?}",
            names(receiver)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(receiver: &Receiver) -> Vec<String> {
    spans(receiver)
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn traced(kind: Kind) {
    let receiver = Receiver::start();
    let db = TestDb::new(kind);
    let node = start(&db, &receiver.base);
    let port = node.port;

    // A broadcaster (streams need the role), made as an operator makes one.
    let status = veza()
        .args([
            "admin",
            "create-user",
            "--username",
            "dj-traced",
            "--role",
            "broadcaster",
        ])
        .current_dir(db.dir())
        .env("VEZA_DATABASE_URL", &db.url)
        .env("VEZA_DATA_DIR", db.dir().join("data"))
        .env("VEZA_ADMIN_PASSWORD", "correct horse battery")
        .stdout(Stdio::null())
        .status()
        .expect("admin create-user");
    assert!(status.success());
    let login = json_call(
        port,
        "POST",
        "/api/v2/auth/login",
        None,
        Some(json!({"username": "dj-traced", "password": "correct horse battery"})),
        200,
    );
    let token = login["access_token"].as_str().expect("token").to_owned();

    // An HTTP request inside the caller's trace, with its own request id.
    let addr = format!("127.0.0.1:{port}").parse().expect("addr");
    let reply = common::http::call(
        addr,
        "GET",
        "/api/v2/users/me",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("traceparent", &format!("00-{TRACE}-{PARENT}-01")),
            ("X-Request-Id", "trace-me-1"),
        ],
        None,
    )
    .await;
    assert_eq!(reply.status, 200);
    let http = wait_for_span(&receiver, "HTTP", |s| {
        attribute(s, "veza.request_id").and_then(|v| v["stringValue"].as_str())
            == Some("trace-me-1")
    })
    .await;
    assert_eq!(http["name"], "HTTP GET /api/v2/users/me");
    assert_eq!(http["traceId"], TRACE, "the caller's trace");
    assert_eq!(http["parentSpanId"], PARENT, "a child of the caller's span");
    assert_eq!(
        attribute(&http, "http.response.status_code").expect("status")["intValue"],
        "200"
    );
    // The access log line of that request names the trace.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&node.log).unwrap_or_default();
        let line = log.lines().find(|l| l.contains("\"trace-me-1\""));
        if let Some(line) = line {
            let line: Value = serde_json::from_str(line).expect("a JSON log line");
            assert_eq!(line["trace_id"], TRACE, "{line}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no access log line for trace-me-1"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A room, a WebSocket joining it and a message: frames, room handling and a batch commit.
    let room = json_call(
        port,
        "POST",
        "/api/v2/rooms",
        Some(&token),
        Some(json!({"name": "traced"})),
        201,
    );
    let room_id = room["id"].as_str().expect("room id").to_owned();
    let mut req = format!("ws://127.0.0.1:{port}/ws")
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");
    ws.send(Message::text(
        json!({"type": "join", "room": room_id}).to_string(),
    ))
    .await
    .expect("join");
    ws.send(Message::text(
        json!({"type": "send", "room": room_id, "body": "hello", "client_id": "t1"}).to_string(),
    ))
    .await
    .expect("send");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame")
            .expect("open")
            .expect("frame");
        if let Message::Text(text) = frame {
            if text.contains("\"ack\"") {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no ack");
    }
    for frame in ["join", "send"] {
        wait_for_span(&receiver, "ws.frame", |s| {
            s["name"] == "ws.frame"
                && attribute(s, "veza.frame").and_then(|v| v["stringValue"].as_str()) == Some(frame)
        })
        .await;
    }
    let send = wait_for_span(&receiver, "room.send", |s| s["name"] == "room.send").await;
    assert_eq!(
        attribute(&send, "veza.room_id").expect("room")["intValue"],
        room_id.as_str()
    );
    wait_for_span(&receiver, "room.join", |s| s["name"] == "room.join").await;
    let batch = wait_for_span(&receiver, "persistence.batch", |s| {
        s["name"] == "persistence.batch"
    })
    .await;
    assert!(attribute(&batch, "veza.batch_size").is_some());

    // A broadcast: the session's start and its span when it ends.
    let stream = json_call(
        port,
        "POST",
        "/api/v2/streams",
        Some(&token),
        Some(json!({"title": "traced"})),
        201,
    );
    let mount = stream["mount"].as_str().expect("mount").to_owned();
    let key = stream["stream_key"].as_str().expect("key").to_owned();
    let source = broadcast(
        &format!(
            "icecast://source:{key}@127.0.0.1:{}/live/{mount}",
            node.ingest
        ),
        2,
        440,
        false,
    );
    wait_for_span(&receiver, "stream.started", |s| {
        s["name"] == "stream.started"
    })
    .await;
    let session = wait_for_span(&receiver, "stream.session", |s| {
        s["name"] == "stream.session"
            && attribute(s, "veza.mount").and_then(|v| v["stringValue"].as_str())
                == Some(mount.as_str())
    })
    .await;
    assert!(attribute(&session, "veza.seconds").is_some());
    drop(source);
    let resource = receiver.calls()[0].json()["resourceSpans"][0]["resource"].clone();
    assert!(
        resource.to_string().contains("\"veza\""),
        "service.name: {resource}"
    );
    receiver.stop().await;
}

/// Two nodes export to one endpoint: each span says which node made it, a request to the second
/// node joins the caller's trace, and a room's messages make room spans on both nodes. Both nodes
/// serve the same API document.
async fn traced_on_two_nodes(kind: Kind) {
    let receiver = Receiver::start();
    let redis =
        std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let c = Cluster::start_on(
        kind,
        2,
        &redis,
        &[
            ("VEZA_OTLP_ENDPOINT", receiver.base.as_str()),
            ("VEZA_OTLP_PROTOCOL", "json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "spans");
    let (mut on_first, _) = c.joined(0, &alice, &room, None).await;
    let (mut on_second, _) = c.joined(1, &bob, &room, None).await;
    on_first
        .send(json!({"type": "send", "room": room, "body": "across", "client_id": "x1"}))
        .await;
    on_second.recv_type("message").await;

    let addr = format!("127.0.0.1:{}", c.port(1)).parse().expect("addr");
    let reply = common::http::call(
        addr,
        "GET",
        "/api/v2/users/me",
        &[
            ("Authorization", &format!("Bearer {}", bob.token)),
            ("traceparent", &format!("00-{TRACE}-{PARENT}-01")),
            ("X-Request-Id", "second-node-1"),
        ],
        None,
    )
    .await;
    assert_eq!(reply.status, 200);

    // Nodes are numbered from 1 in the harness.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans = spans_by_node(&receiver);
        let joined_on = |node: i64| {
            spans
                .iter()
                .any(|(n, s)| *n == node && s["name"] == "room.join")
        };
        let request = spans.iter().find(|(_, s)| {
            attribute(s, "veza.request_id").and_then(|v| v["stringValue"].as_str())
                == Some("second-node-1")
        });
        let sent = spans
            .iter()
            .any(|(n, s)| *n == 1 && s["name"] == "room.send");
        if let (true, true, true, Some((node, request))) =
            (joined_on(1), joined_on(2), sent, request)
        {
            assert_eq!(*node, 2, "the request span comes from the node it reached");
            assert_eq!(request["traceId"], TRACE);
            assert_eq!(request["parentSpanId"], PARENT);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "spans so far: {:?}",
            spans
                .iter()
                .map(|(n, s)| format!("{n}:{}", s["name"]))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let document = |i| c.get(i, "/api/v2/openapi.json", None).expect("answer");
    let (first, second) = (document(0), document(1));
    assert_eq!(first.0, 200);
    assert_eq!(first, second, "every node serves the same API document");
    receiver.stop().await;
}

#[actix_web::test]
async fn two_nodes_export_their_own_spans_sqlite() {
    traced_on_two_nodes(Kind::Sqlite).await;
}

#[actix_web::test]
async fn two_nodes_export_their_own_spans_postgres() {
    traced_on_two_nodes(Kind::Postgres).await;
}

#[actix_web::test]
async fn spans_reach_an_otlp_endpoint_sqlite() {
    traced(Kind::Sqlite).await;
}

#[actix_web::test]
async fn spans_reach_an_otlp_endpoint_postgres() {
    traced(Kind::Postgres).await;
}
