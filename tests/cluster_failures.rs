//! Three (or two) real nodes when things go wrong: `kill -9` of a node, Redis stopped and started
//! again, and presence across nodes as nodes come and go. Both storage backends.

mod common;

use common::cluster::{eventually, Cluster, FreezingProxy, OwnRedis, User};
use common::server::Ws;
use common::Kind;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

/// Reads `message` events until one with `seq >= upto` arrived; returns all seqs seen.
async fn messages_until(ws: &mut Ws, upto: i64, seqs: &mut Vec<i64>) {
    while seqs.last().copied().unwrap_or(0) < upto {
        let frame = ws.recv_type_any(&["message"]).await;
        seqs.push(frame["message"]["seq"].as_i64().unwrap());
    }
}

/// The seqs of a room's whole history as node `node` serves it.
fn history_seqs(c: &Cluster, node: usize, user: &User, room: &str) -> Vec<i64> {
    c.history(node, user, room)
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

fn assert_gap_free(seqs: &[i64], what: &str) {
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "{what}: {seqs:?}");
    }
}

async fn kill_9_of_a_node_loses_no_acked_message(kind: Kind) {
    let mut c = Cluster::start(kind, 3);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let carol = c.register(2, "carol");
    let room = c.room(1, &bob, "lobby");
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let (mut cw, _) = c.joined(2, &carol, &room, None).await;
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    // Pipelined sends on node 0; kill -9 it as soon as 100 are acked, with more in flight.
    for i in 0..300 {
        a.send(json!({"type": "send", "room": room, "body": format!("m{i}"), "client_id": format!("c{i}")}))
            .await;
    }
    let mut acked = BTreeSet::new();
    while acked.len() < 100 {
        let frame = a.recv().await;
        if frame["type"] == "ack" {
            acked.insert(frame["message"]["seq"].as_i64().unwrap());
        }
    }
    c.kill(0);

    // Every acked message is in the store, gap-free. Node 1 may serve the page from its replica,
    // which lacks what node 0 acked but never published until it reads the store (at the latest
    // on its 5 s check, or when node 0 is known to be gone).
    let stored: Vec<i64> = eventually(Duration::from_secs(20), "acked messages in history", || {
        let stored = history_seqs(&c, 1, &bob, &room);
        let stored_set: BTreeSet<i64> = stored.iter().copied().collect();
        acked.is_subset(&stored_set).then_some(stored)
    })
    .await;
    assert_gap_free(&stored, "history after kill -9");
    // The survivors' live streams get every committed message (those the dead node never
    // published come from the store once it is known to be gone), once, in order.
    let newest = *stored.last().unwrap();
    for (ws, who) in [(&mut b, "bob on node 1"), (&mut cw, "carol on node 2")] {
        let mut seqs = Vec::new();
        messages_until(ws, newest, &mut seqs).await;
        assert_gap_free(&seqs, who);
        assert!(
            seqs.first() <= acked.first(),
            "{who} missed the start: {seqs:?}"
        );
    }
    // Alice reconnects to a survivor and recovers everything.
    let (_, joined) = c.joined(1, &alice, &room, Some(0)).await;
    let recovered: Vec<i64> = joined["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(recovered, stored, "recovery on a survivor");
}

/// Tracks who a client sees online: `joined.members` plus `presence` events.
struct Online(HashSet<String>);

impl Online {
    fn from_joined(joined: &Value) -> Self {
        Online(names(&joined["members"]))
    }

    /// Reads frames until `check` holds (presence applied as they come); returns typing frames.
    async fn until(&mut self, ws: &mut Ws, what: &str, check: impl Fn(&HashSet<String>) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !check(&self.0) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {:?}",
                self.0
            );
            let frame = ws.recv_type_any(&["presence"]).await;
            for n in names(&frame["left"]) {
                self.0.remove(&n);
            }
            self.0.extend(names(&frame["joined"]));
        }
    }
}

fn names(list: &Value) -> HashSet<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u["username"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn presence_and_typing_across_nodes(kind: Kind) {
    let mut c = Cluster::start(kind, 3);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let carol = c.register(2, "carol");
    let room = c.room(0, &alice, "lobby");
    let (mut a, joined) = c.joined(0, &alice, &room, None).await;
    let mut seen_by_alice = Online::from_joined(&joined);
    let (mut b, joined) = c.joined(1, &bob, &room, None).await;
    let mut seen_by_bob = Online::from_joined(&joined);
    let (cw, _) = c.joined(2, &carol, &room, None).await;
    let all = |s: &HashSet<String>| ["alice", "bob", "carol"].iter().all(|n| s.contains(*n));
    seen_by_alice
        .until(&mut a, "alice sees everyone", all)
        .await;
    seen_by_bob.until(&mut b, "bob sees everyone", all).await;

    // Typing on node 1 shows on node 0.
    b.send(json!({"type": "typing", "room": room})).await;
    let typing = a.recv_type_any(&["typing"]).await;
    assert!(names(&typing["users"]).contains("bob"), "{typing}");

    // Carol's node dies: the others see her go.
    drop(cw);
    c.kill(2);
    seen_by_alice
        .until(&mut a, "alice sees carol go", |s| !s.contains("carol"))
        .await;
    // Bob leaves on node 1: alice sees it.
    b.send(json!({"type": "leave", "room": room})).await;
    seen_by_alice
        .until(&mut a, "alice sees bob leave", |s| !s.contains("bob"))
        .await;
}

/// Sends and waits for the ack, keeping the seqs of every `message` that arrives meanwhile.
async fn say_keeping(ws: &mut Ws, room: &str, body: &str, seqs: &mut Vec<i64>) {
    ws.send(json!({"type": "send", "room": room, "body": body, "client_id": body}))
        .await;
    loop {
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("message") => seqs.push(frame["message"]["seq"].as_i64().unwrap()),
            Some("ack") if frame["client_id"] == body => return,
            Some("error") => panic!("{body}: {frame}"),
            _ => {}
        }
    }
}

async fn status_of(c: &Cluster, node: usize) -> Value {
    let (_, body) = c.get(node, "/api/v2/status", None).expect("status");
    serde_json::from_str(&body).expect("json")
}

async fn redis_outage_keeps_nodes_serving_and_they_catch_up(kind: Kind) {
    let mut redis = OwnRedis::start();
    let c = Cluster::start_on(kind, 2, &redis.url(), &[]);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "lobby");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let dave = c.register(1, "dave");
    let mut d = c.ws(1, &dave).await;
    assert_eq!(status_of(&c, 0).await["redis"], "up");
    let (mut seen_a, mut seen_b) = (Vec::new(), Vec::new());
    say_keeping(&mut a, &room, "before", &mut seen_a).await;

    redis.stop();
    for node in 0..2 {
        eventually(Duration::from_secs(10), "status says redis down", || {
            let (_, body) = c.get(node, "/api/v2/status", None)?;
            body.contains(r#""redis":"down""#).then_some(())
        })
        .await;
        let (_, metrics) = c.get(node, "/metrics", None).expect("metrics");
        assert!(metrics.contains("veza_redis_up 0"), "{metrics}");
    }
    // A logout on node 0 while nodes cannot tell each other: dave's socket on node 1 must still
    // close (once the nodes can compare notes with the store).
    c.call(
        0,
        "POST",
        "/api/v2/auth/logout",
        None,
        Some(json!({"refresh_token": dave.refresh})),
        204,
    );
    // Each node keeps serving its own clients; messages still cross (from the store).
    for k in 0..5 {
        say_keeping(&mut a, &room, &format!("a{k}"), &mut seen_a).await;
        say_keeping(&mut b, &room, &format!("b{k}"), &mut seen_b).await;
    }
    redis.resume();
    for node in 0..2 {
        eventually(
            Duration::from_secs(15),
            "status says redis up again",
            || {
                let (_, body) = c.get(node, "/api/v2/status", None)?;
                body.contains(r#""redis":"up""#).then_some(())
            },
        )
        .await;
    }
    assert_eq!(
        d.closed().await,
        Some(4001),
        "the logout made during the outage"
    );
    // One message right after Redis is back, and nothing after it: it must still cross.
    say_keeping(&mut a, &room, "a5", &mut seen_a).await;
    let newest_a5 = c.history(0, &alice, &room).last().unwrap()["seq"]
        .as_i64()
        .unwrap();
    messages_until(&mut b, newest_a5, &mut seen_b).await;
    for k in 6..8 {
        say_keeping(&mut a, &room, &format!("a{k}"), &mut seen_a).await;
        say_keeping(&mut b, &room, &format!("b{k}"), &mut seen_b).await;
    }
    // Node 0 serves the page from its replica, which hears of b7 (acked on node 1) a moment
    // later: the same travel time as the live event.
    let stored: Vec<i64> = eventually(Duration::from_secs(5), "all 16 in node 0's history", || {
        let seqs = history_seqs(&c, 0, &alice, &room);
        (seqs.len() == 16).then_some(seqs)
    })
    .await;
    let newest = *stored.last().unwrap();
    for (ws, seqs, who) in [(&mut a, seen_a, "alice"), (&mut b, seen_b, "bob")] {
        let mut seqs = seqs;
        messages_until(ws, newest, &mut seqs).await;
        assert_eq!(seqs, stored, "{who} saw every message once, in order");
    }
}

/// Reads `message` events until the one with `body`.
async fn arrives(ws: &mut Ws, body: &str) {
    while ws.recv_type("message").await["message"]["body"] != body {}
}

/// `veza_bus_connects_total` of node `i`.
fn bus_connects(c: &Cluster, i: usize) -> Option<u64> {
    let (_, metrics) = c.get(i, "/metrics", None)?;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("veza_bus_connects_total "))
        .and_then(|v| v.trim().parse().ok())
}

/// Redis links that go half-open (no reset, no FIN: a middlebox or a host gone) are noticed: a
/// subscription that hears nothing, not even its own node's heartbeat, for 5 s is replaced, so
/// live events and presence come back without anyone restarting anything.
async fn a_half_open_redis_link_is_replaced(kind: Kind) {
    let redis = OwnRedis::start();
    let proxy = FreezingProxy::start(redis.port);
    let c = Cluster::start_on(kind, 2, &proxy.url(), &[]);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "lobby");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let mut seen = Vec::new();
    say_keeping(&mut a, &room, "before", &mut seen).await;
    let before: Vec<u64> = (0..2)
        .map(|i| bus_connects(&c, i).expect("metrics"))
        .collect();

    proxy.freeze();
    for (i, was) in before.iter().enumerate() {
        eventually(
            Duration::from_secs(30),
            "the node replaced its silent Redis subscription",
            || bus_connects(&c, i).filter(|now| now > was),
        )
        .await;
    }
    // Live again both ways: bob's message reaches alice and alice's reaches bob.
    say_keeping(&mut b, &room, "after-b", &mut seen).await;
    arrives(&mut a, "after-b").await;
    say_keeping(&mut a, &room, "after-a", &mut seen).await;
    arrives(&mut b, "after-a").await;
    assert_eq!(status_of(&c, 1).await["redis"], "up");
}

/// Waits until every node's `/api/v2/status` says Redis is `state` ("up" or "down").
async fn redis_is(c: &Cluster, state: &str) {
    for node in 0..c.nodes.len() {
        eventually(
            Duration::from_secs(15),
            &format!("status says redis {state}"),
            || {
                let (_, body) = c.get(node, "/api/v2/status", None)?;
                body.contains(&format!(r#""redis":"{state}""#))
                    .then_some(())
            },
        )
        .await;
    }
}

/// A kick made while the nodes cannot hear each other reaches the other node through the store
/// (its poll finds the system message and the kick recorded with it): the kicked member is taken
/// out there too, the others stay, and the kicked member may join again without being taken out
/// by the next reload of the room's state.
async fn a_kick_missed_during_an_outage_is_applied_from_the_store(kind: Kind) {
    let mut redis = OwnRedis::start();
    let c = Cluster::start_on(kind, 2, &redis.url(), &[]);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let carol = c.register(1, "carol");
    let room = c.room(0, &alice, "lobby");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let (mut cw, _) = c.joined(1, &carol, &room, None).await;

    redis.stop();
    redis_is(&c, "down").await;
    a.say(&room, "/kick bob enough", "k1").await;
    let left = b.recv_type("left").await;
    assert_eq!(left["room"], room.as_str(), "{left}");
    b.send(json!({"type": "send", "room": room, "body": "am I in?", "client_id": "b1"}))
        .await;
    let refused = b.recv_type("error").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // carol, on the same node, stays in the room.
    a.say(&room, "still here", "k2").await;
    loop {
        let frame = cw.recv_type("message").await;
        if frame["message"]["body"] == "still here" {
            break;
        }
    }
    // bob comes back; neither the next poll nor the reload when Redis returns takes him out.
    b.send(json!({"type": "join", "room": room})).await;
    b.recv_type("joined").await;
    redis.resume();
    redis_is(&c, "up").await;
    a.say(&room, "/topic welcome back", "k3").await;
    a.say(&room, "after the outage", "k4").await;
    loop {
        let frame = b.recv_type_any(&["message", "left"]).await;
        assert_eq!(frame["type"], "message", "bob was taken out again: {frame}");
        if frame["message"]["body"] == "after the outage" {
            break;
        }
    }
}

/// A global role change and a disabled account made while Redis is down (their revocations never
/// reach the other node) close the users' sockets there with 4001 once the bus returns, when the
/// node checks its sockets against the store; other sockets stay open.
async fn a_role_change_missed_during_an_outage_closes_the_socket_later(kind: Kind) {
    let mut redis = OwnRedis::start();
    let c = Cluster::start_on(kind, 2, &redis.url(), &[]);
    let root = c.register(0, "root");
    let eve = c.register(1, "eve");
    let carl = c.register(1, "carl");
    let dave = c.register(1, "dave");
    let pool = c.db.pool();
    for user in [&root, &eve] {
        let id: veza_actors::UserId = user.id.parse().unwrap();
        veza::db::users::set_role(&mut pool.get().unwrap(), id, "admin", 1).unwrap();
    }
    let mut e1 = c.ws(1, &eve).await;
    let mut k1 = c.ws(1, &carl).await;
    let mut d1 = c.ws(1, &dave).await;
    for ws in [&mut e1, &mut k1, &mut d1] {
        ws.send(json!({"type": "ping"})).await;
        ws.recv_type("pong").await;
    }

    redis.stop();
    redis_is(&c, "down").await;
    c.call(
        0,
        "PUT",
        &format!("/api/v2/admin/users/{}/role", eve.id),
        Some(&root.token),
        Some(json!({"role": "user"})),
        200,
    );
    c.call(
        0,
        "POST",
        &format!("/api/v2/admin/users/{}/disable", dave.id),
        Some(&root.token),
        None,
        204,
    );
    redis.resume();
    redis_is(&c, "up").await;
    // (Pings keep a socket that stays open busy: bound the wait for the close.)
    for (ws, whose) in [
        (&mut e1, "the demoted admin's"),
        (&mut d1, "the disabled user's"),
    ] {
        let closed = tokio::time::timeout(Duration::from_secs(15), ws.closed())
            .await
            .unwrap_or_else(|_| {
                panic!("{whose} socket was not closed within 15 s of the bus returning")
            });
        assert_eq!(closed, Some(4001), "{whose} socket");
    }
    k1.send(json!({"type": "ping"})).await;
    k1.recv_type("pong").await;
}

/// Reads `presence` frames until one says `online` is `n`; returns it.
async fn presence_until_online(ws: &mut Ws, n: u64) -> Value {
    loop {
        let frame = ws.recv_type_any(&["presence"]).await;
        if frame["online"] == n {
            return frame;
        }
    }
}

/// A large room split over two nodes: the count covers both, nobody is named, and a late joiner
/// on the other node is told the whole count with at most `presence_list_max` names.
async fn a_large_room_counts_everyone_on_every_node(kind: Kind) {
    let redis =
        std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let c = Cluster::start_on(kind, 2, &redis, &[("VEZA_PRESENCE_LIST_MAX", "10")]);
    let alice = c.register(0, "alice");
    let room = c.room(0, &alice, "stadium");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let mut crowd = Vec::new();
    for i in 0..11 {
        let fan = c.register(i % 2, &format!("fan{i}"));
        crowd.push(c.joined(i % 2, &fan, &room, None).await.0);
    }
    // Alice (node 0) counts the six fans on node 1 too, and in a large room hears no names.
    let large = presence_until_online(&mut a, 12).await;
    assert_eq!(
        (&large["joined"], &large["left"]),
        (&json!([]), &json!([])),
        "{large}"
    );
    // Node 1 has heard node 0's crowd too.
    presence_until_online(&mut crowd[1], 12).await;
    // A late joiner on node 1 is told everyone on both nodes, with ten names.
    let late = c.register(1, "latecomer");
    let (_late_ws, joined) = c.joined(1, &late, &room, None).await;
    assert_eq!(joined["online"], 13, "{joined}");
    assert_eq!(
        joined["members"].as_array().map(Vec::len),
        Some(10),
        "{joined}"
    );
    // Both nodes hear the new count.
    presence_until_online(&mut a, 13).await;
    presence_until_online(&mut crowd[1], 13).await;
}

on_both_backends!(
    a_half_open_redis_link_is_replaced,
    kill_9_of_a_node_loses_no_acked_message,
    presence_and_typing_across_nodes,
    a_large_room_counts_everyone_on_every_node,
    redis_outage_keeps_nodes_serving_and_they_catch_up,
    a_kick_missed_during_an_outage_is_applied_from_the_store,
    a_role_change_missed_during_an_outage_closes_the_socket_later,
);
