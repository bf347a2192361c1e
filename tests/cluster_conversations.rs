//! Issue 13 on the multi-node harness (real `veza serve` processes sharing one store and Redis):
//! unread counts exact under concurrent senders on two nodes and the read marker synced to a
//! user's sockets on every node, a mention reaching a socket on another node that never joined the
//! room, thread counts and pins crossing nodes, and a direct conversation opened on two nodes at
//! once staying one conversation. Both stores.

mod common;

use common::cluster::{eventually, Cluster};
use common::raw_http::{form, raw, BOUNDARY};
use common::Kind;
use serde_json::{json, Value};
use std::time::Duration;

/// `who`'s entry for `room` in `GET /api/v2/rooms` through node `i`.
fn listed(c: &Cluster, i: usize, token: &str, room: &str) -> Value {
    let all = c.call(i, "GET", "/api/v2/rooms", Some(token), None, 200);
    all["rooms"]
        .as_array()
        .and_then(|rooms| rooms.iter().find(|r| r["id"] == room).cloned())
        .unwrap_or(Value::Null)
}

async fn unread_counts_and_read_markers_hold_across_nodes(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let owner = c.register(0, "owner");
    let bob = c.register(1, "bob");
    let room = c.room(0, &owner, "lobby");
    // Bob has a socket on each node, both in the room.
    let (mut b0, _) = c.joined(0, &bob, &room, None).await;
    let (mut b1, _) = c.joined(1, &bob, &room, None).await;
    eventually(Duration::from_secs(10), "bob is a member", || {
        (listed(&c, 0, &bob.token, &room)["unread"] == 0).then_some(())
    })
    .await;

    // Senders on both nodes at once.
    const EACH: usize = 15;
    let mut senders = Vec::new();
    for i in 0..2 {
        let user = c.register(i, &format!("sender{i}"));
        let (ws, _) = c.joined(i, &user, &room, None).await;
        senders.push(ws);
    }
    for (i, ws) in senders.iter_mut().enumerate() {
        for k in 0..EACH {
            ws.send(
                json!({"type": "send", "room": room, "body": format!("n{i}-{k}"),
                           "client_id": format!("c{k}")}),
            )
            .await;
        }
    }
    for ws in senders.iter_mut() {
        for _ in 0..EACH {
            ws.recv_type("ack").await;
        }
    }
    for i in 0..2 {
        let entry = listed(&c, i, &bob.token, &room);
        assert_eq!(entry["unread"], (2 * EACH) as i64, "node {i}: {entry}");
    }
    let last = listed(&c, 0, &bob.token, &room)["last_seq"]
        .as_i64()
        .unwrap();

    // Bob reads on node 0: both of his sockets hear the new counts, the other through the bus.
    b0.send(json!({"type": "read", "room": room, "seq": last}))
        .await;
    for (node, ws) in [(0, &mut b0), (1, &mut b1)] {
        let pushed = ws.recv_type("unread").await;
        assert_eq!(
            (&pushed["read_seq"], &pushed["unread"], &pushed["mentions"]),
            (&json!(last), &json!(0), &json!(0)),
            "node {node}: {pushed}"
        );
    }
    assert_eq!(listed(&c, 1, &bob.token, &room)["unread"], 0);
}

async fn mentions_threads_and_pins_cross_nodes(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "lobby");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    // Bob's phone, on node 1, never joined the room.
    let mut phone = c.ws(1, &bob).await;
    eventually(Duration::from_secs(10), "bob is a member", || {
        (listed(&c, 1, &bob.token, &room)["unread"] == 0).then_some(())
    })
    .await;

    a.send(json!({"type": "send", "room": room, "body": "@bob the set list?", "client_id": "q"}))
        .await;
    let root = a.recv_type("ack").await["message"].clone();
    let mention = phone.recv_type("mention").await;
    assert_eq!(mention["message"]["id"], root["id"]);
    assert_eq!(listed(&c, 1, &bob.token, &room)["mentions"], 1);

    // Bob answers in the thread from node 1: alice on node 0 sees the count move.
    b.send(
        json!({"type": "send", "room": room, "body": "right here", "client_id": "r",
                  "thread": root["id"]}),
    )
    .await;
    b.recv_type("ack").await;
    let update = a.recv_type("thread_updated").await;
    assert_eq!(
        (&update["message"], &update["reply_count"]),
        (&root["id"], &json!(1))
    );

    // A pin made through node 0 reaches bob on node 1.
    let path = format!("/api/v2/rooms/{room}/pins/{}", root["id"].as_str().unwrap());
    c.call(0, "PUT", &path, Some(&alice.token), None, 201);
    let pinned = b.recv_type("pinned").await;
    assert_eq!(pinned["message"]["id"], root["id"]);
    let pins = c.call(
        1,
        "GET",
        &format!("/api/v2/rooms/{room}/pins"),
        Some(&bob.token),
        None,
        200,
    );
    assert_eq!(pins["pins"][0]["message"]["id"], root["id"]);

    // Reading on node 1 reads the mention, and the feed says so on node 0.
    let last = listed(&c, 1, &bob.token, &room)["last_seq"]
        .as_i64()
        .unwrap();
    b.send(json!({"type": "read", "room": room, "seq": last}))
        .await;
    assert_eq!(phone.recv_type("unread").await["mentions"], 0);
    let feed = c.call(
        0,
        "GET",
        "/api/v2/notifications",
        Some(&bob.token),
        None,
        200,
    );
    assert_eq!(feed["notifications"][0]["read"], true, "{feed}");
}

async fn a_direct_conversation_opened_on_two_nodes_at_once_is_one(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let (ta, tb) = (alice.token.clone(), bob.token.clone());
    let (p0, p1) = (c.port(0), c.port(1));
    let open = |port: u16, token: String, other: &'static str| {
        std::thread::spawn(move || {
            let body = json!({"usernames": [other]}).to_string();
            let (status, reply) = common::process::request(
                port,
                "POST",
                "/api/v2/conversations",
                Some(&token),
                Some(&body),
            )
            .expect("an answer");
            assert!(status == 200 || status == 201, "{status}: {reply}");
            serde_json::from_str::<Value>(&reply).expect("JSON")
        })
    };
    let first = open(p0, ta, "bob");
    let second = open(p1, tb, "alice");
    let (x, y) = (first.join().unwrap(), second.join().unwrap());
    assert_eq!(
        x["conversation"]["id"], y["conversation"]["id"],
        "{x} / {y}"
    );
    let created: Vec<bool> = [&x, &y]
        .iter()
        .map(|r| r["created"].as_bool().unwrap())
        .collect();
    assert_eq!(created.iter().filter(|c| **c).count(), 1, "{created:?}");
}

async fn an_upload_on_one_node_is_fetched_through_any(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "lobby");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let node = |i: usize| std::net::SocketAddr::from(([127, 0, 0, 1], c.port(i)));
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
    let body = form(
        b"name=\"file\"; filename=\"notes.pdf\"",
        "application/pdf",
        pdf,
    );
    let auth = format!("Bearer {}", alice.token);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let made = raw(
        node(0),
        "POST",
        &format!("/api/v2/uploads?room={room}"),
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &body,
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    let id = made.json()["upload"]["id"].as_str().unwrap().to_owned();
    a.send(
        json!({"type": "send", "room": room, "body": "notes", "client_id": "f",
                  "attachments": [id]}),
    )
    .await;
    a.recv_type("ack").await;
    let seen = b.recv_type("message").await;
    let url = seen["message"]["attachments"][0]["url"]
        .as_str()
        .expect("an attachment url")
        .to_owned();
    // Bob asks node 1, which has no such file on its disk: sent to node 0, where it is.
    let with_token = format!("{url}?access_token={}", bob.token);
    let there = raw(node(1), "GET", &with_token, &[], b"").await;
    assert_eq!(there.status, 307, "{:?}", there.json());
    let location = there.header("location").expect("a location").to_owned();
    assert_eq!(
        location,
        format!("http://127.0.0.1:{}{with_token}", c.port(0))
    );
    let here = raw(node(0), "GET", &with_token, &[], b"").await;
    assert_eq!((here.status, here.body.as_slice()), (200, &pdf[..]));
    // Access is checked before the redirect: an outsider learns nothing.
    let carol = c.register(1, "carol");
    let private = c.call(
        0,
        "POST",
        "/api/v2/rooms",
        Some(&alice.token),
        Some(json!({"name": "inner", "private": true})),
        201,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hidden = raw(
        node(0),
        "POST",
        &format!("/api/v2/uploads?room={private}"),
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &body,
    )
    .await;
    let hidden_id = hidden.json()["upload"]["id"].as_str().unwrap().to_owned();
    let probe = raw(
        node(1),
        "GET",
        &format!(
            "/api/v2/uploads/{hidden_id}/content?access_token={}",
            carol.token
        ),
        &[],
        b"",
    )
    .await;
    assert_eq!(probe.status, 404);
}

on_both_backends!(
    an_upload_on_one_node_is_fetched_through_any,
    unread_counts_and_read_markers_hold_across_nodes,
    mentions_threads_and_pins_cross_nodes,
    a_direct_conversation_opened_on_two_nodes_at_once_is_one,
);
