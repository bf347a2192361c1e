//! Three real `veza serve` processes on one database and one Redis behave as one server: fan-out
//! and order across nodes, recovery on another node, moderation and revocation on every node.
//! Both storage backends (SQLite: one file shared by the processes on this host).

mod common;

use common::cluster::{eventually, Cluster, User};
use common::server::Ws;
use common::Kind;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Reads frames until `acks` acks and `messages` message events arrived; returns the messages'
/// (seq, body) in arrival order.
async fn collect(ws: &mut Ws, acks: usize, messages: usize) -> Vec<(i64, String)> {
    let (mut got_acks, mut got) = (0, Vec::new());
    while got_acks < acks || got.len() < messages {
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("ack") => got_acks += 1,
            Some("message") => got.push(seq_body(&frame["message"])),
            Some("error") => panic!("unexpected error: {frame}"),
            _ => {}
        }
    }
    got
}

fn seq_body(m: &Value) -> (i64, String) {
    (
        m["seq"].as_i64().expect("seq"),
        m["body"].as_str().expect("body").to_owned(),
    )
}

/// Every seq once, ascending, no gap.
fn assert_in_order(seqs: &[i64], what: &str) {
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "{what}: {seqs:?}");
    }
}

async fn messages_reach_every_node_once_in_order(kind: Kind) {
    let c = Cluster::start(kind, 3);
    let owner = c.register(0, "owner");
    let room = c.room(0, &owner, "lobby");
    let users: Vec<User> = (0..3).map(|i| c.register(i, &format!("user{i}"))).collect();
    let mut sockets = Vec::new();
    for (i, user) in users.iter().enumerate() {
        sockets.push(c.joined(i, user, &room, None).await.0);
    }
    // Every node's client pipelines its sends at once: the nodes commit concurrently.
    const EACH: usize = 40;
    for (i, ws) in sockets.iter_mut().enumerate() {
        for k in 0..EACH {
            ws.send(json!({"type": "send", "room": room, "body": format!("n{i}-{k}"), "client_id": format!("c{k}")}))
                .await;
        }
    }
    let mut seen = Vec::new();
    for ws in sockets.iter_mut() {
        seen.push(collect(ws, EACH, 3 * EACH).await);
    }
    let expected: BTreeSet<String> = (0..3)
        .flat_map(|i| (0..EACH).map(move |k| format!("n{i}-{k}")))
        .collect();
    for (i, got) in seen.iter().enumerate() {
        let seqs: Vec<i64> = got.iter().map(|(s, _)| *s).collect();
        assert_in_order(&seqs, &format!("client on node {i}"));
        let bodies: BTreeSet<String> = got.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(
            bodies, expected,
            "client on node {i} saw every message once"
        );
        assert_eq!(got, &seen[0], "every node delivers the same sequence");
    }
    // Nothing more arrives: no duplicates after the fact.
    for ws in sockets.iter_mut() {
        let extra: Vec<Value> = ws
            .quiet(300)
            .await
            .into_iter()
            .filter(|f| f["type"] == "message")
            .collect();
        assert!(extra.is_empty(), "duplicates: {extra:?}");
    }
}

async fn a_client_recovers_on_another_node(kind: Kind) {
    let c = Cluster::start(kind, 3);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let carol = c.register(2, "carol");
    let room = c.room(0, &alice, "lobby");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let (mut cws, _) = c.joined(2, &carol, &room, None).await;
    let mut last = 0;
    for k in 0..5 {
        last = a.say(&room, &format!("a{k}"), &format!("a{k}")).await["seq"]
            .as_i64()
            .unwrap();
    }
    a.close().await;
    for k in 0..10 {
        b.say(&room, &format!("b{k}"), &format!("b{k}")).await;
        cws.say(&room, &format!("c{k}"), &format!("c{k}")).await;
    }
    let newest = last + 20;
    // On node 2 (the room is live there: served from its ring), then on node 0 (nobody online
    // there any more: the room reloads from the store).
    for node in [2, 0] {
        let (mut ws, joined) = c.joined(node, &alice, &room, Some(last)).await;
        let mut seqs: Vec<i64> = joined["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["seq"].as_i64().unwrap())
            .collect();
        // Anything still on its way arrives live, after `joined`.
        while seqs.last().copied().unwrap_or(last) < newest {
            let frame = ws.recv_type("message").await;
            seqs.push(frame["message"]["seq"].as_i64().unwrap());
        }
        assert_eq!(
            seqs,
            (last + 1..=newest).collect::<Vec<_>>(),
            "recovery on node {node}"
        );
        ws.close().await;
    }
}

/// The next `message` whose body contains `text` (a command's system message).
async fn system_message(ws: &mut Ws, text: &str) -> Value {
    loop {
        let frame = ws.recv_type("message").await;
        if frame["message"]["body"]
            .as_str()
            .is_some_and(|b| b.contains(text))
        {
            return frame;
        }
    }
}

async fn send_expecting_error(ws: &mut Ws, room: &str, client_id: &str) -> Value {
    ws.send(json!({"type": "send", "room": room, "body": "let me speak", "client_id": client_id}))
        .await;
    loop {
        let frame = ws.recv().await;
        match frame["type"].as_str() {
            Some("error") => return frame,
            Some("ack") => panic!("sent although it should be refused: {frame}"),
            _ => {}
        }
    }
}

async fn moderation_holds_on_every_node(kind: Kind) {
    let c = Cluster::start(kind, 3);
    let owner = c.register(0, "owner");
    let bob = c.register(1, "bob");
    let carol = c.register(2, "carol");
    let room = c.room(0, &owner, "lobby");
    let (mut o, _) = c.joined(0, &owner, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let (mut cw, _) = c.joined(2, &carol, &room, None).await;

    // As soon as bob's node shows the mute, bob's node enforces it.
    o.say(&room, "/mute bob 10m", "m1").await;
    system_message(&mut b, "muted bob").await;
    let refused = send_expecting_error(&mut b, &room, "b1").await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    o.say(&room, "/unmute bob", "m2").await;
    system_message(&mut b, "unmuted bob").await;
    b.say(&room, "thanks", "b2").await;

    o.say(&room, "/slow 60", "m3").await;
    system_message(&mut cw, "slow mode").await;
    cw.say(&room, "one", "c1").await;
    let slowed = send_expecting_error(&mut cw, &room, "c2").await;
    assert_eq!(slowed["code"], "rate_limited", "{slowed}");
    // Slow mode holds across nodes: once carol's message has reached node 1, her second socket
    // there must wait too.
    while b.recv_type("message").await["message"]["body"] != "one" {}
    let (mut c_on_1, _) = c.joined(1, &carol, &room, None).await;
    let slowed = send_expecting_error(&mut c_on_1, &room, "c2b").await;
    assert_eq!(slowed["code"], "rate_limited", "{slowed}");
    o.say(&room, "/slow off", "m4").await;
    system_message(&mut cw, "slow mode off").await;

    o.say(&room, "/topic news at ten", "m5").await;
    system_message(&mut cw, "news at ten").await;

    // A kick on node 0 takes carol out on node 2; she may come back.
    o.say(&room, "/kick carol enough", "m6").await;
    cw.recv_type("left").await;
    let gone = send_expecting_error(&mut cw, &room, "c3").await;
    assert_eq!(gone["code"], "forbidden", "{gone}");
    cw.send(json!({"type": "join", "room": room})).await;
    cw.recv_type("joined").await;

    // A client that pipelines its first frames on a node where nobody is in the room yet: the
    // join is handled before the send.
    let dave = c.register(2, "dave");
    let mut d = c.ws(1, &dave).await;
    let empty_room = c.room(1, &owner, "empty");
    d.send(json!({"type": "join", "room": empty_room})).await;
    d.send(json!({"type": "send", "room": empty_room, "body": "first!", "client_id": "d1"}))
        .await;
    d.recv_type("joined").await;
    assert_eq!(d.recv_type("ack").await["message"]["body"], "first!");

    // A ban on node 0 takes bob out on node 1 and keeps him out on node 2.
    o.say(&room, "/ban bob", "m7").await;
    b.recv_type("left").await;
    let (mut b2, _) = (c.ws(2, &bob).await, ());
    b2.send(json!({"type": "join", "room": room})).await;
    let banned = b2.recv_type("error").await;
    assert_eq!(banned["code"], "forbidden", "{banned}");
}

async fn revocation_closes_sockets_on_every_node(kind: Kind) {
    let c = Cluster::start(kind, 3);
    let first = c.register(0, "alice");
    let second = c.login(1, "alice");
    let mut a0 = c.ws(0, &first).await;
    let mut a2 = c.ws(2, &first).await;
    let mut b1 = c.ws(1, &second).await;
    for ws in [&mut a0, &mut a2, &mut b1] {
        ws.send(json!({"type": "ping"})).await;
        ws.recv_type("pong").await;
    }

    // Each node has checked (and cached) the first session's access token.
    for node in 0..3 {
        c.call(
            node,
            "GET",
            "/api/v2/users/me",
            Some(&first.token),
            None,
            200,
        );
    }
    // Logging out one session (on node 1) closes its sockets on nodes 0 and 2, not the other's.
    let started = Instant::now();
    c.call(
        1,
        "POST",
        "/api/v2/auth/logout",
        None,
        Some(json!({"refresh_token": first.refresh})),
        204,
    );
    assert_eq!(a0.closed().await, Some(4001));
    assert_eq!(a2.closed().await, Some(4001));
    let took = started.elapsed();
    eprintln!("logout closed sockets on two other nodes in {took:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    b1.send(json!({"type": "ping"})).await;
    b1.recv_type("pong").await;
    // Its access token is refused on every node (the session caches heard of the logout).
    for node in 0..3 {
        let refused = eventually(Duration::from_secs(5), "token refused after logout", || {
            let (status, _) = c.get(node, "/api/v2/users/me", Some(&first.token))?;
            (status == 401).then_some(status)
        })
        .await;
        assert_eq!(refused, 401);
    }
    c.call(1, "GET", "/api/v2/users/me", Some(&second.token), None, 200);

    // A role change made on node 2 closes the other session's socket on node 1.
    let admin = c.register(2, "root");
    let pool = c.db.pool();
    let admin_id: veza_actors::UserId = admin.id.parse().unwrap();
    veza::db::users::set_role(&mut pool.get().unwrap(), admin_id, "admin", 1).unwrap();
    c.call(
        2,
        "PUT",
        &format!("/api/v2/admin/users/{}/role", second.id),
        Some(&admin.token),
        Some(json!({"role": "moderator"})),
        200,
    );
    assert_eq!(b1.closed().await, Some(4001));

    // Disabling an account on node 0 closes its sockets on node 1.
    let dave = c.register(1, "dave");
    let mut d1 = c.ws(1, &dave).await;
    d1.send(json!({"type": "ping"})).await;
    d1.recv_type("pong").await;
    c.call(
        0,
        "POST",
        &format!("/api/v2/admin/users/{}/disable", dave.id),
        Some(&admin.token),
        None,
        204,
    );
    assert_eq!(d1.closed().await, Some(4001));
}

/// Issue 11 item 5 across nodes: a reaction made on one node reaches members on the other as
/// the small delta, and the other node's copy of the message (its ring, for `since`) has it too.
async fn a_reaction_on_one_node_reaches_the_other_as_a_delta(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "lobby");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    let said = a.say(&room, "react across nodes", "r1").await;
    let (id, seq) = (said["id"].clone(), said["seq"].as_i64().unwrap());
    b.recv_type("message").await;

    b.send(json!({"type": "react", "message": id, "emoji": "🎉"}))
        .await;
    let delta = a.recv_type("reaction").await;
    assert_eq!(
        delta,
        json!({"type": "reaction", "room": room, "message": id, "emoji": "🎉",
               "user": bob.id, "added": true, "count": 1})
    );
    a.send(json!({"type": "react", "message": id, "emoji": "🎉"}))
        .await;
    loop {
        let on_b = b.recv_type("reaction").await;
        if on_b["user"] == alice.id.as_str() {
            assert_eq!(
                (on_b["count"].as_u64(), on_b["added"].as_bool()),
                (Some(2), Some(true))
            );
            break;
        }
    }
    // Node 1 rejoins from before the message: its copy carries both reactions.
    let (_again, joined) = c.joined(1, &bob, &room, Some(seq - 1)).await;
    let message = joined["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned()
        .expect("the message");
    assert_eq!(message["reactions"][0]["count"], 2, "{message}");
}

/// Issue 12: a bot made on one node signs in on another, and rotating its token on the first
/// closes its socket on the second.
async fn a_bot_token_rotated_on_one_node_closes_its_socket_on_another(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let made = c.call(
        0,
        "POST",
        "/api/v2/bots",
        Some(&alice.token),
        Some(json!({"username": "echo"})),
        201,
    );
    let token = made["token"].as_str().expect("token").to_owned();
    let id = made["bot"]["id"].as_str().expect("id").to_owned();
    let room = c.room(0, &alice, "lobby");
    // Invited on node 0 (bots join only rooms they were invited to), joined on node 1.
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    a.say(&room, "/invite @echo", "inv").await;
    let mut bot = c.ws_with(1, &format!("Bot {token}")).await;
    bot.send(json!({"type": "join", "room": room})).await;
    bot.recv_type("joined").await;
    c.call(
        0,
        "POST",
        &format!("/api/v2/bots/{id}/token"),
        Some(&alice.token),
        None,
        200,
    );
    assert_eq!(bot.closed().await, Some(4001));
}

/// A bot's commands work across nodes: registered on node 1, listed by `/help` on node 0, invoked
/// there and delivered to the bot on node 1, whose answer (kind `bot`) reaches the member.
async fn a_bot_command_crosses_nodes(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let made = c.call(
        0,
        "POST",
        "/api/v2/bots",
        Some(&alice.token),
        Some(json!({"username": "dicebot"})),
        201,
    );
    let token = made["token"].as_str().expect("token").to_owned();
    let room = c.room(0, &alice, "games");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    a.say(&room, "/invite @dicebot", "inv").await;
    let mut bot = c.ws_with(1, &format!("Bot {token}")).await;
    bot.send(json!({"type": "join", "room": room})).await;
    bot.recv_type("joined").await;
    bot.send(json!({"type": "register_commands", "room": room,
                    "commands": [{"name": "roll", "description": "roll dice", "args": "NdM"}]}))
        .await;
    bot.recv_type("commands_registered").await;

    // Node 0 hears of the registration and of the bot being online through the bus.
    a.invoke_until_sent(&room, "/roll 3d6", Duration::from_secs(10))
        .await;
    let command = bot.recv_type("command").await;
    assert_eq!(
        (&command["command"], &command["args"]),
        (&json!("roll"), &json!("3d6"))
    );
    assert_eq!(command["user"]["username"], "alice");
    a.send(json!({"type": "send", "room": room, "body": "/help", "client_id": "h"}))
        .await;
    let help = a.recv_type("notice").await;
    assert!(
        help["body"].as_str().unwrap().contains("/roll NdM"),
        "{help}"
    );

    bot.say(&room, "alice rolled 11", "ans").await;
    let seen = a.recv_type("message").await;
    assert_eq!(seen["message"]["kind"], "bot", "{seen}");
    assert_eq!(seen["message"]["body"], "alice rolled 11");

    // The private answer through the reply handle crosses back from node 1 to alice on node 0.
    let id = command["id"].as_str().expect("id");
    bot.send(json!({"type": "command_reply", "room": room, "command": id, "body": "just for you"}))
        .await;
    bot.recv_type("command_replied").await;
    let private = a.recv_type("command_reply").await;
    assert_eq!(private["body"], "just for you");
    assert_eq!(private["bot"]["username"], "dicebot");
}

/// An incoming webhook made on node 0 posts through node 1 (no member there): the message reaches
/// the member on node 0 once, in order, and a revocation on node 0 holds on node 1.
async fn a_webhook_posts_through_any_node(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let room = c.room(0, &alice, "builds");
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let made = c.call(
        0,
        "POST",
        &format!("/api/v2/rooms/{room}/webhooks"),
        Some(&alice.token),
        Some(json!({"name": "ci-bot"})),
        201,
    );
    let url = made["url"].as_str().expect("url").to_owned();
    let id = made["webhook"]["id"].as_str().expect("id").to_owned();
    for n in 1..=3 {
        c.call(
            1,
            "POST",
            &url,
            None,
            Some(json!({"text": format!("build {n}")})),
            201,
        );
    }
    for n in 1..=3 {
        let seen = a.recv_type("message").await;
        assert_eq!(seen["message"]["body"], format!("build {n}"), "{seen}");
        assert_eq!(seen["message"]["author"]["username"], "ci-bot");
    }
    c.call(
        0,
        "DELETE",
        &format!("/api/v2/rooms/{room}/webhooks/{id}"),
        Some(&alice.token),
        None,
        204,
    );
    c.call(1, "POST", &url, None, Some(json!({"text": "after"})), 404);
}

/// Every node polls the same queue: each delivery is made once, whichever node committed it.
async fn outgoing_webhook_deliveries_are_made_once_across_nodes(kind: Kind) {
    let receiver = common::webhook_receiver::Receiver::start();
    let env = [
        ("VEZA_WEBHOOK_ALLOW_LOOPBACK", "true"),
        ("VEZA_WEBHOOK_POLL_MS", "20"),
    ];
    let redis =
        std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let c = Cluster::start_on(kind, 2, &redis, &env);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "builds");
    c.call(
        0,
        "POST",
        &format!("/api/v2/rooms/{room}/outgoing-webhooks"),
        Some(&alice.token),
        Some(json!({"name": "ci", "url": receiver.url("/in")})),
        201,
    );
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    for n in 0..10 {
        let ws = if n % 2 == 0 { &mut a } else { &mut b };
        ws.say(&room, &format!("m{n}"), &format!("c{n}")).await;
    }
    let calls = receiver.wait_for(10, Duration::from_secs(20)).await;
    // Both nodes had time to take any of them twice; they did not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calls = if receiver.calls().len() > calls.len() {
        receiver.calls()
    } else {
        calls
    };
    let bodies: BTreeSet<String> = calls
        .iter()
        .map(|c| c.json()["message"]["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(calls.len(), 10, "{calls:#?}");
    assert_eq!(bodies.len(), 10);
}

on_both_backends!(
    a_bot_command_crosses_nodes,
    a_webhook_posts_through_any_node,
    outgoing_webhook_deliveries_are_made_once_across_nodes,
    a_bot_token_rotated_on_one_node_closes_its_socket_on_another,
    messages_reach_every_node_once_in_order,
    a_reaction_on_one_node_reaches_the_other_as_a_delta,
    a_client_recovers_on_another_node,
    moderation_holds_on_every_node,
    revocation_closes_sockets_on_every_node,
);
