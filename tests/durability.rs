//! Durability with the real binary: `kill -9` after acks loses nothing acked; SIGTERM closes
//! sockets with 1001 and flushes. Both storage backends.

mod common;

use common::process::{free_port, json_call, signal, veza, wait_exit, wait_until_up};
use common::{Kind, TestDb};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn spawn(db: &TestDb, port: u16) -> Child {
    let mut child = veza()
        .current_dir(db.dir())
        .env("VEZA_BIND", format!("127.0.0.1:{port}"))
        .env("VEZA_INGEST_BIND", format!("127.0.0.1:{}", free_port()))
        .env("VEZA_DATABASE_URL", &db.url)
        .env("VEZA_JWT_SECRET", common::TEST_SECRET)
        .env("VEZA_WS_SEND_RATE", "100000")
        .env("VEZA_WS_SEND_BURST", "100000")
        .env("VEZA_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn veza");
    wait_until_up(&mut child, port);
    child
}

async fn connect(
    port: u16,
    token: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://127.0.0.1:{port}/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req).await.expect("ws").0
}

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .ok()??
        {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn acked_messages_survive_kill_9(kind: Kind) {
    let db = TestDb::new(kind);
    let port = free_port();
    let mut server = spawn(&db, port);
    let reg = json_call(
        port,
        "POST",
        "/api/v2/auth/register",
        None,
        Some(json!({"username": "alice", "password": "correct horse battery"})),
        201,
    );
    let token = reg["access_token"].as_str().unwrap().to_owned();
    let room = json_call(
        port,
        "POST",
        "/api/v2/rooms",
        Some(&token),
        Some(json!({"name": "general"})),
        201,
    );
    let room_id = room["id"].as_str().unwrap().to_owned();

    let mut ws = connect(port, &token).await;
    ws.send(Message::text(
        json!({"type": "join", "room": room_id}).to_string(),
    ))
    .await
    .unwrap();
    while next_json(&mut ws).await.expect("joined")["type"] != "joined" {}
    // Pipeline many sends, then kill -9 as soon as 100 are acked, with more still in flight.
    for i in 0..400 {
        let frame = json!({"type": "send", "room": room_id, "body": format!("m{i}"), "client_id": format!("c{i}")});
        ws.send(Message::text(frame.to_string())).await.unwrap();
    }
    let mut acked = BTreeSet::new();
    while acked.len() < 100 {
        let frame = next_json(&mut ws).await.expect("acks");
        if frame["type"] == "ack" {
            acked.insert(frame["message"]["body"].as_str().unwrap().to_owned());
        }
    }
    signal(&server, "-KILL");
    wait_exit(&mut server);

    let mut server = spawn(&db, port);
    let mut stored = BTreeSet::new();
    let mut seqs = Vec::new();
    let mut before = i64::MAX;
    loop {
        let page = json_call(
            port,
            "GET",
            &format!("/api/v2/rooms/{room_id}/messages?limit=100&before={before}"),
            Some(&token),
            None,
            200,
        );
        let msgs = page["messages"].as_array().unwrap().clone();
        if msgs.is_empty() {
            break;
        }
        for m in &msgs {
            stored.insert(m["body"].as_str().unwrap().to_owned());
            seqs.push(m["seq"].as_i64().unwrap());
        }
        before = msgs.last().unwrap()["seq"].as_i64().unwrap();
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acked but lost after kill -9: {lost:?}");
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "seq stays gap-free"
    );
    signal(&server, "-TERM");
    assert!(wait_exit(&mut server).success());
}

async fn sigterm_closes_sockets_with_1001_and_exits_cleanly(kind: Kind) {
    let db = TestDb::new(kind);
    let port = free_port();
    let mut server = spawn(&db, port);
    let reg = json_call(
        port,
        "POST",
        "/api/v2/auth/register",
        None,
        Some(json!({"username": "bob", "password": "correct horse battery"})),
        201,
    );
    let token = reg["access_token"].as_str().unwrap().to_owned();
    let mut ws = connect(port, &token).await;
    ws.send(Message::text(json!({"type": "ping"}).to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await.unwrap()["type"], "pong");
    signal(&server, "-TERM");
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("close within 15 s")
        {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(1001));
    assert!(wait_exit(&mut server).success());
}

on_both_backends!(
    acked_messages_survive_kill_9,
    sigterm_closes_sockets_with_1001_and_exits_cleanly,
);
