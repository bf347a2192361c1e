//! Issue 13, conversations on one node (the cross-node cases are in tests/cluster_conversations.rs):
//! direct and group conversations (unique, private, named after the others, stopped by blocks),
//! threads (reply counts, the thread as its own paged list, "also send to room"), mentions (parsed
//! on send, code spans excluded, `@room` for moderators, the `mention` event and the feed, muting),
//! read markers and exact unread counts under concurrent senders, and pins. Both stores.

mod common;

use common::server::{as_user, TestServer, TestUser, Ws};
use common::{Kind, TestDb};
use serde_json::{json, Value};

async fn open(server: &TestServer, who: &TestUser, body: Value) -> common::http::Reply {
    as_user(server, who, "POST", "/api/v2/conversations", Some(body)).await
}

async fn rooms_of(server: &TestServer, who: &TestUser) -> Vec<Value> {
    let r = as_user(server, who, "GET", "/api/v2/rooms", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["rooms"].as_array().cloned().unwrap_or_default()
}

/// `who`'s entry for `room` in `GET /api/v2/rooms`.
async fn listed(server: &TestServer, who: &TestUser, room: &str) -> Value {
    rooms_of(server, who)
        .await
        .into_iter()
        .find(|r| r["id"] == room)
        .unwrap_or_else(|| panic!("{room} not listed for {}", who.name))
}

/// Sends `frame` (a `send`) and returns the `ack` or `error` it gets.
async fn try_send(ws: &mut Ws, frame: Value) -> Value {
    ws.send(frame).await;
    ws.recv_type_any(&["ack", "error"]).await
}

async fn direct_conversations_are_unique_private_and_named_after_the_other(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;

    let first = open(&server, &alice, json!({"usernames": ["Bob"]})).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let dm = first.body["conversation"].clone();
    let id = dm["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            &dm["kind"],
            &dm["name"],
            &dm["private"],
            &first.body["created"]
        ),
        (&json!("direct"), &json!("bob"), &json!(true), &json!(true))
    );
    assert_eq!(dm["members"].as_array().map(Vec::len), Some(2));
    // Again, by id, and from the other side: the same conversation.
    let again = open(&server, &alice, json!({"user_ids": [bob.id.to_string()]})).await;
    assert_eq!(
        (again.status, &again.body["conversation"]["id"]),
        (200, &json!(id))
    );
    let theirs = open(&server, &bob, json!({"usernames": ["alice"]})).await;
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.body["conversation"]["id"], id.as_str());
    assert_eq!(
        theirs.body["conversation"]["name"], "alice",
        "named after the other"
    );
    let listed = as_user(&server, &bob, "GET", "/api/v2/conversations", None).await;
    assert_eq!(listed.body["conversations"][0]["id"], id.as_str());

    // Private by construction: an outsider cannot see it, join it or be invited in.
    let seen = as_user(&server, &carol, "GET", &format!("/api/v2/rooms/{id}"), None).await;
    assert_eq!(seen.status, 404);
    let mut c = server.ws(&carol).await;
    c.send(json!({"type": "join", "room": id})).await;
    assert_eq!(c.recv_type("error").await["code"], "not_found");
    let mut a = server.ws(&alice).await;
    a.join(&id).await;
    let invite = try_send(
        &mut a,
        json!({"type": "send", "room": id, "body": "/invite @carol", "client_id": "i1"}),
    )
    .await;
    assert_eq!(invite["code"], "forbidden", "{invite}");

    // Groups: unique per set of people, in any order; at most max_group_members.
    let group = open(&server, &alice, json!({"usernames": ["bob", "carol"]})).await;
    assert_eq!(group.status, 201);
    assert_eq!(group.body["conversation"]["kind"], "group");
    assert_eq!(group.body["conversation"]["name"], "bob, carol");
    let same = open(&server, &carol, json!({"usernames": ["alice", "bob"]})).await;
    assert_eq!(same.status, 200);
    assert_eq!(
        same.body["conversation"]["id"],
        group.body["conversation"]["id"]
    );
    let names: Vec<String> = (0..10).map(|i| format!("user{i}")).collect();
    for n in &names {
        server.user(n).await;
    }
    let crowd = open(&server, &alice, json!({ "usernames": names })).await;
    assert_eq!(crowd.status, 422, "{:?}", crowd.body);
    for (body, status) in [
        (json!({"usernames": ["alice"]}), 422),
        (json!({"usernames": ["nobody"]}), 404),
        (json!({"user_ids": ["12x"]}), 404),
        (json!({"people": ["bob"]}), 400),
    ] {
        let r = open(&server, &alice, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
    }
}

async fn a_block_stops_direct_messages_and_mentions(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let dm = open(&server, &alice, json!({"usernames": ["bob"]}))
        .await
        .body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut a = server.ws(&alice).await;
    a.join(&dm).await;
    let ok = try_send(
        &mut a,
        json!({"type": "send", "room": dm, "body": "hi", "client_id": "1"}),
    )
    .await;
    assert_eq!(ok["type"], "ack");

    let blocked = as_user(
        &server,
        &bob,
        "PUT",
        &format!("/api/v2/users/me/blocks/{}", alice.id),
        None,
    )
    .await;
    assert_eq!(blocked.status, 204);
    let list = as_user(&server, &bob, "GET", "/api/v2/users/me/blocks", None).await;
    assert_eq!(list.body["blocks"][0]["user"]["username"], "alice");
    let refused = try_send(
        &mut a,
        json!({"type": "send", "room": dm, "body": "hello?", "client_id": "2"}),
    )
    .await;
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // Not around it with an action either.
    let action = try_send(
        &mut a,
        json!({"type": "send", "room": dm, "body": "/me waves anyway", "client_id": "2b"}),
    )
    .await;
    assert_eq!(action["code"], "forbidden", "{action}");
    // Either way: bob cannot write to alice either, nor can a new conversation be opened.
    let mut b = server.ws(&bob).await;
    b.join(&dm).await;
    let refused = try_send(
        &mut b,
        json!({"type": "send", "room": dm, "body": "no", "client_id": "3"}),
    )
    .await;
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(
        open(&server, &alice, json!({"usernames": ["bob"]}))
            .await
            .status,
        403
    );

    // In an ordinary room alice may still speak, but her @bob does not reach him.
    let room = server.room(&alice, "lounge", false).await;
    b.join(&room).await;
    a.join(&room).await;
    let mut b2 = server.ws(&bob).await;
    a.say(&room, "hey @bob", "4").await;
    assert!(
        b2.quiet(400).await.iter().all(|f| f["type"] != "mention"),
        "a blocked user's mention was delivered"
    );
    // (The direct message from before the block is in his feed: every message of a conversation
    // notifies; the mention from after it is not.)
    let feed = as_user(&server, &bob, "GET", "/api/v2/notifications", None).await;
    let bodies: Vec<&Value> = feed.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["message"]["body"])
        .collect();
    assert_eq!(bodies, [&json!("hi")], "{:?}", feed.body);

    let lifted = as_user(
        &server,
        &bob,
        "DELETE",
        &format!("/api/v2/users/me/blocks/{}", alice.id),
        None,
    )
    .await;
    assert_eq!(lifted.status, 204);
    let ok = try_send(
        &mut a,
        json!({"type": "send", "room": dm, "body": "back", "client_id": "5"}),
    )
    .await;
    assert_eq!(ok["type"], "ack", "{ok}");
    let again = as_user(
        &server,
        &bob,
        "DELETE",
        &format!("/api/v2/users/me/blocks/{}", alice.id),
        None,
    )
    .await;
    assert_eq!(again.status, 404);
}

async fn threads_count_their_replies_and_page_as_their_own_list(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "lounge", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut b = server.ws(&bob).await;
    b.join(&room).await;
    let root = a.say(&room, "what shall we play?", "r").await;
    let root_id = root["id"].as_str().unwrap().to_owned();

    for i in 0..5 {
        let mut frame = json!({"type": "send", "room": room, "body": format!("reply {i}"),
                               "client_id": format!("t{i}"), "thread": root_id});
        if i == 4 {
            frame["also_in_room"] = json!(true);
        }
        let ack = try_send(&mut b, frame).await;
        assert_eq!(ack["type"], "ack", "{ack}");
        assert_eq!(ack["message"]["thread"], root_id.as_str());
        // Everyone in the room sees the root's count move.
        let update = a.recv_type("thread_updated").await;
        assert_eq!(
            (&update["message"], &update["reply_count"]),
            (&json!(root_id), &json!(i + 1)),
            "{update}"
        );
    }
    // The room's timeline shows the root with its count and the reply sent to the room too.
    let page = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    let messages = page.body["messages"].as_array().unwrap().clone();
    let shown_root = messages
        .iter()
        .find(|m| m["id"] == root_id.as_str())
        .unwrap();
    assert_eq!(shown_root["reply_count"], 5);
    assert!(shown_root["last_reply_at"].as_i64().unwrap() >= root["created_at"].as_i64().unwrap());
    let also: Vec<&Value> = messages
        .iter()
        .filter(|m| m["also_in_room"] == true)
        .collect();
    assert_eq!(also.len(), 1);
    assert_eq!(also[0]["body"], "reply 4");
    // A rejoin sees the count from the room's memory too.
    let mut b2 = server.ws(&bob).await;
    let joined = b2.join(&room).await;
    let in_ring = joined["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == root_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(in_ring["reply_count"], 5);

    // The thread as its own list, paged forward.
    let path = format!("/api/v2/rooms/{room}/messages/{root_id}/thread");
    let first = as_user(&server, &alice, "GET", &format!("{path}?limit=2"), None).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["root"]["id"], root_id.as_str());
    let bodies = |v: &Value| -> Vec<String> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["body"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(bodies(&first.body), ["reply 0", "reply 1"]);
    let next = first.body["next_after"].as_i64().expect("a next page");
    let rest = as_user(
        &server,
        &alice,
        "GET",
        &format!("{path}?after={next}&limit=10"),
        None,
    )
    .await;
    assert_eq!(bodies(&rest.body), ["reply 2", "reply 3", "reply 4"]);
    assert!(rest.body.get("next_after").is_none(), "{:?}", rest.body);

    // Replies go under the root only; a thread elsewhere, or none, is refused.
    let reply_id = rest.body["messages"][0]["id"].as_str().unwrap().to_owned();
    let nested = try_send(
        &mut b,
        json!({"type": "send", "room": room, "body": "deeper", "client_id": "n", "thread": reply_id}),
    )
    .await;
    assert_eq!(nested["code"], "bad_request", "{nested}");
    let loose = try_send(
        &mut b,
        json!({"type": "send", "room": room, "body": "x", "client_id": "l", "also_in_room": true}),
    )
    .await;
    assert_eq!(loose["code"], "bad_request");
    let reply_path = format!("/api/v2/rooms/{room}/messages/{reply_id}/thread");
    assert_eq!(
        as_user(&server, &alice, "GET", &reply_path, None)
            .await
            .status,
        404
    );
    let other = server.room(&alice, "other", true).await;
    let elsewhere = format!("/api/v2/rooms/{other}/messages/{root_id}/thread");
    assert_eq!(
        as_user(&server, &alice, "GET", &elsewhere, None)
            .await
            .status,
        404
    );
    // Thread-only replies are not unread in the room; the one sent to the room is.
    assert_eq!(listed(&server, &alice, &room).await["unread"], 1);
}

async fn mentions_reach_the_user_anywhere_and_fill_the_feed(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let room = server.room(&alice, "lounge", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut b = server.ws(&bob).await;
    b.join(&room).await;
    let mut c = server.ws(&carol).await;
    c.join(&room).await;
    // Bob's other device has not joined the room.
    let mut b_phone = server.ws(&bob).await;

    let sent = c.say(&room, "@Bob look at this, cc `@alice`", "m1").await;
    let mention = b_phone.recv_type("mention").await;
    assert_eq!(mention["room"], room.as_str());
    assert_eq!(mention["message"]["id"], sent["id"]);
    assert!(
        a.quiet(300).await.iter().all(|f| f["type"] != "mention"),
        "a mention inside a code span was delivered"
    );
    // @room from a member is plain text; from the owner it reaches everyone.
    c.say(&room, "@room anyone?", "m2").await;
    assert!(b_phone
        .quiet(300)
        .await
        .iter()
        .all(|f| f["type"] != "mention"));
    a.say(&room, "@room meeting now", "m3").await;
    assert_eq!(
        b_phone.recv_type("mention").await["message"]["body"],
        "@room meeting now"
    );
    assert_eq!(
        c.recv_type("mention").await["message"]["body"],
        "@room meeting now"
    );

    let feed = as_user(&server, &bob, "GET", "/api/v2/notifications", None).await;
    assert_eq!(feed.status, 200);
    let entries = feed.body["notifications"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(feed.body["unread"], 2);
    assert_eq!(
        entries[0]["message"]["body"], "@room meeting now",
        "newest first"
    );
    assert_eq!(entries[1]["actor"]["username"], "carol");
    assert_eq!(
        (&entries[1]["kind"], &entries[1]["read"]),
        (&json!("mention"), &json!(false))
    );
    assert_eq!(entries[1]["room"]["name"], "lounge");
    assert_eq!(listed(&server, &bob, &room).await["mentions"], 2);
    // Paged with `before`.
    let older = as_user(
        &server,
        &bob,
        "GET",
        &format!(
            "/api/v2/notifications?limit=1&before={}",
            entries[0]["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(older.body["notifications"][0]["id"], entries[1]["id"]);

    // Marking one read drops the room's mention count, and every socket of bob's hears it.
    let read = as_user(
        &server,
        &bob,
        "POST",
        "/api/v2/notifications/read",
        Some(json!({"ids": [entries[1]["id"]]})),
    )
    .await;
    assert_eq!(read.status, 204, "{:?}", read.body);
    let pushed = b_phone.recv_type("unread").await;
    assert_eq!(
        (&pushed["room"], &pushed["mentions"]),
        (&json!(room), &json!(1))
    );
    let unread_only = as_user(
        &server,
        &bob,
        "GET",
        "/api/v2/notifications?unread=true",
        None,
    )
    .await;
    assert_eq!(
        unread_only.body["notifications"].as_array().unwrap().len(),
        1
    );

    // Muted: no more mentions from this room.
    let muted = as_user(
        &server,
        &bob,
        "PUT",
        &format!("/api/v2/rooms/{room}/notifications"),
        Some(json!({"muted": true})),
    )
    .await;
    assert_eq!((muted.status, &muted.body["muted"]), (200, &json!(true)));
    assert_eq!(listed(&server, &bob, &room).await["muted"], true);
    c.say(&room, "@bob again", "m4").await;
    assert!(b_phone
        .quiet(300)
        .await
        .iter()
        .all(|f| f["type"] != "mention"));
    let all = as_user(
        &server,
        &bob,
        "POST",
        "/api/v2/notifications/read",
        Some(json!({"all": true})),
    )
    .await;
    assert_eq!(all.status, 204);
    let feed = as_user(&server, &bob, "GET", "/api/v2/notifications", None).await;
    assert_eq!(feed.body["unread"], 0);
    let bad = as_user(
        &server,
        &bob,
        "POST",
        "/api/v2/notifications/read",
        Some(json!({})),
    )
    .await;
    assert_eq!(bad.status, 400);
}

async fn unread_counts_are_exact_under_concurrent_senders(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let owner = server.user("owner").await;
    let bob = server.user("bob").await;
    let room = server.room(&owner, "busy", false).await;
    let mut b = server.ws(&bob).await;
    b.join(&room).await;
    // The membership row is written just after the join.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while listed(&server, &bob, &room).await["unread"] != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "bob never became a member"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    const SENDERS: usize = 4;
    const EACH: usize = 20;
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let user = server.user(&format!("sender{s}")).await;
        let mut ws = server.ws(&user).await;
        ws.join(&room).await;
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                ws.say(&room, &format!("m{i}"), &format!("{s}-{i}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    // Bob's own message is never unread to him.
    b.say(&room, "mine", "own").await;
    let entry = listed(&server, &bob, &room).await;
    assert_eq!(entry["unread"], (SENDERS * EACH) as i64, "{entry}");
    let last = entry["last_seq"].as_i64().unwrap();

    // Reading part of the way: the rest stays unread, exactly.
    b.send(json!({"type": "read", "room": room, "seq": last - 10}))
        .await;
    let pushed = b.recv_type("unread").await;
    assert_eq!(
        (&pushed["read_seq"], &pushed["unread"]),
        (&json!(last - 10), &json!(9)),
        "{pushed}"
    );
    // Markers only move forward, and never past the end.
    b.send(json!({"type": "read", "room": room, "seq": 1}))
        .await;
    assert_eq!(b.recv_type("unread").await["read_seq"], last - 10);
    b.send(json!({"type": "read", "room": room, "seq": last + 1000}))
        .await;
    let pushed = b.recv_type("unread").await;
    assert_eq!(
        (&pushed["read_seq"], &pushed["unread"]),
        (&json!(last), &json!(0))
    );
    assert_eq!(listed(&server, &bob, &room).await["unread"], 0);
    for bad in [
        json!({"type": "read", "room": room, "seq": -1}),
        json!({"type": "read", "room": room}),
    ] {
        b.send(bad).await;
        assert_eq!(b.recv_type("error").await["code"], "bad_request");
    }
}

async fn moderators_pin_and_members_see_the_pins(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "lounge", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut b = server.ws(&bob).await;
    b.join(&room).await;
    let rules = a.say(&room, "rules: be kind", "p1").await;
    let rules_id = rules["id"].as_str().unwrap();
    let path = format!("/api/v2/rooms/{room}/pins/{rules_id}");

    assert_eq!(as_user(&server, &bob, "PUT", &path, None).await.status, 403);
    let pinned = as_user(&server, &alice, "PUT", &path, None).await;
    assert_eq!(pinned.status, 201, "{:?}", pinned.body);
    let event = b.recv_type("pinned").await;
    assert_eq!(
        (&event["message"]["id"], &event["by"]["username"]),
        (&json!(rules_id), &json!("alice"))
    );
    assert_eq!(
        as_user(&server, &alice, "PUT", &path, None).await.status,
        200,
        "again: no-op"
    );
    let list = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{room}/pins"),
        None,
    )
    .await;
    assert_eq!(list.body["pins"][0]["message"]["body"], "rules: be kind");
    assert_eq!(list.body["pins"][0]["pinned_by"]["username"], "alice");

    let unpinned = as_user(&server, &alice, "DELETE", &path, None).await;
    assert_eq!(unpinned.status, 204);
    assert_eq!(b.recv_type("unpinned").await["message"], rules_id);
    assert_eq!(
        as_user(&server, &alice, "DELETE", &path, None).await.status,
        404
    );
    let list = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{room}/pins"),
        None,
    )
    .await;
    assert_eq!(list.body["pins"], json!([]));

    // A message of another room, or a made-up one, cannot be pinned here.
    let other = server.room(&alice, "other", false).await;
    let wrong = format!("/api/v2/rooms/{other}/pins/{rules_id}");
    assert_eq!(
        as_user(&server, &alice, "PUT", &wrong, None).await.status,
        404
    );
    let made_up = format!("/api/v2/rooms/{room}/pins/123");
    assert_eq!(
        as_user(&server, &alice, "PUT", &made_up, None).await.status,
        404
    );
    // In a conversation every member may pin.
    let dm = open(&server, &alice, json!({"usernames": ["bob"]}))
        .await
        .body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.join(&dm).await;
    let note = b.say(&dm, "the address", "d1").await;
    let dm_pin = format!("/api/v2/rooms/{dm}/pins/{}", note["id"].as_str().unwrap());
    assert_eq!(
        as_user(&server, &bob, "PUT", &dm_pin, None).await.status,
        201
    );
    // Outsiders see nothing.
    let carol = server.user("carol").await;
    let hidden = as_user(
        &server,
        &carol,
        "GET",
        &format!("/api/v2/rooms/{dm}/pins"),
        None,
    )
    .await;
    assert_eq!(hidden.status, 404);
}

async fn conversations_have_no_moderators_and_no_outsiders(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let admin = server.user_with_role("root", veza::auth::Role::Admin).await;
    let dm = open(&server, &alice, json!({"usernames": ["bob"]}))
        .await
        .body["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut a = server.ws(&alice).await;
    a.join(&dm).await;
    // The opener does not own it: no commands over the other, and /me still works.
    for (i, command) in ["/ban @bob", "/topic ours", "/kick @bob", "/op @bob"]
        .iter()
        .enumerate()
    {
        let r = try_send(
            &mut a,
            json!({"type": "send", "room": dm, "body": command, "client_id": format!("c{i}")}),
        )
        .await;
        assert_eq!(r["code"], "forbidden", "{command}: {r}");
    }
    let me = try_send(
        &mut a,
        json!({"type": "send", "room": dm, "body": "/me waves", "client_id": "me"}),
    )
    .await;
    assert_eq!(me["message"]["kind"], "action", "{me}");
    // An action notifies the other like any message of a conversation.
    let feed = as_user(&server, &bob, "GET", "/api/v2/notifications", None).await;
    assert_eq!(feed.body["notifications"][0]["message"]["kind"], "action");
    // No webhooks, room emoji or outsiders, staff included.
    let hook = as_user(
        &server,
        &alice,
        "POST",
        &format!("/api/v2/rooms/{dm}/webhooks"),
        Some(json!({"name": "spy"})),
    )
    .await;
    assert_eq!(hook.status, 403, "{:?}", hook.body);
    let seen = as_user(&server, &admin, "GET", &format!("/api/v2/rooms/{dm}"), None).await;
    assert_eq!(seen.status, 404);
    let mut root = server.ws(&admin).await;
    root.send(json!({"type": "join", "room": dm})).await;
    assert_eq!(root.recv_type("error").await["code"], "not_found");
    let members = as_user(&server, &bob, "GET", "/api/v2/conversations", None).await;
    assert_eq!(
        members.body["conversations"][0]["members"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

async fn the_feed_hides_messages_of_rooms_one_can_no_longer_read(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "inner circle", true).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    a.say(&room, "/invite @bob", "i").await;
    a.say(&room, "secret plan for @bob", "m").await;
    let feed = as_user(&server, &bob, "GET", "/api/v2/notifications", None).await;
    assert_eq!(
        feed.body["notifications"][0]["message"]["body"],
        "secret plan for @bob"
    );
    a.say(&room, "/ban @bob", "b").await;
    let feed = as_user(&server, &bob, "GET", "/api/v2/notifications", None).await;
    let entry = &feed.body["notifications"][0];
    assert_eq!(entry["kind"], "mention", "{entry}");
    assert_eq!(
        entry["message"],
        Value::Null,
        "banned: the entry stays, its text goes"
    );
}

on_both_backends!(
    conversations_have_no_moderators_and_no_outsiders,
    the_feed_hides_messages_of_rooms_one_can_no_longer_read,
    direct_conversations_are_unique_private_and_named_after_the_other,
    a_block_stops_direct_messages_and_mentions,
    threads_count_their_replies_and_page_as_their_own_list,
    mentions_reach_the_user_anywhere_and_fill_the_feed,
    unread_counts_are_exact_under_concurrent_senders,
    moderators_pin_and_members_see_the_pins,
);
