//! The chat protocol end to end: a real server, real WebSocket clients, both storage backends.

mod common;

use common::server::{Duo, TestServer};
use common::{Kind, TestDb};
use serde_json::json;

async fn messages_fan_out_to_every_member_and_ack_the_author(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let carol = server.user("carol").await;
    let room = server.room(&alice, "general", false).await;
    let mut a = server.ws(&alice).await;
    let mut b = server.ws(&bob).await;
    let mut c = server.ws(&carol).await;
    let joined = a.join(&room).await;
    assert_eq!(joined["room"], room.as_str());
    assert_eq!(joined["seq"], 0);
    b.join(&room).await;
    c.join(&room).await;

    let sent = a.say(&room, "hello everyone", "c-1").await;
    assert_eq!(sent["seq"], 1);
    assert_eq!(sent["body"], "hello everyone");
    assert_eq!(sent["author"]["username"], "alice");
    assert_eq!(sent["kind"], "user");
    assert!(sent["id"].is_string());
    for ws in [&mut b, &mut c] {
        let got = ws.recv_type("message").await;
        assert_eq!(got["room"], room.as_str());
        assert_eq!(got["message"], sent);
    }
    // The author gets the broadcast too.
    assert_eq!(a.recv_type("message").await["message"], sent);
    let second = b.say(&room, "hi alice", "b-1").await;
    assert_eq!(second["seq"], 2);
}

async fn a_resend_with_the_same_client_id_is_not_duplicated(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "general", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let first = a.say(&room, "only once", "same-id").await;
    a.recv_type("message").await;
    // The client lost the ack, reconnects and sends again.
    a.close().await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let again = a.say(&room, "only once", "same-id").await;
    assert_eq!(again, first, "the original comes back");
    assert!(a.quiet(300).await.is_empty(), "no second broadcast");
    let next = a.say(&room, "new one", "other-id").await;
    assert_eq!(next["seq"], 2, "seq stays gap-free");
}

async fn reconnect_with_since_recovers_everything_in_order(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let Duo {
        bob,
        room,
        mut a,
        mut b,
        ..
    } = server.duo().await;
    a.say(&room, "before bob leaves", "a-0").await;
    b.recv_type("message").await;
    b.close().await;
    for i in 1..=30 {
        a.say(&room, &format!("missed {i}"), &format!("a-{i}"))
            .await;
    }
    let mut b = server.ws(&bob).await;
    b.send(json!({"type": "join", "room": room, "since": 1, "ref": 7}))
        .await;
    let joined = b.recv_type("joined").await;
    assert_eq!(joined["ref"], 7);
    assert_eq!(joined["seq"], 31);
    let seqs: Vec<i64> = joined["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (2..=31).collect::<Vec<_>>());
    assert_eq!(joined["messages"][0]["body"], "missed 1");
}

async fn history_pages_back_to_the_first_message(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "general", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    for i in 1..=25 {
        a.say(&room, &format!("m{i}"), &format!("c{i}")).await;
    }
    let mut before = 26;
    let mut seen = Vec::new();
    loop {
        a.send(json!({"type": "history", "room": room, "before": before, "limit": 10, "ref": "h"}))
            .await;
        let page = a.recv_type("history").await;
        assert_eq!(page["ref"], "h");
        let msgs = page["messages"].as_array().unwrap().clone();
        if msgs.is_empty() {
            break;
        }
        let seqs: Vec<i64> = msgs.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] + 1 == w[1]),
            "ascending: {seqs:?}"
        );
        before = seqs[0];
        seen.extend(seqs);
    }
    seen.sort();
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());
}

async fn bad_frames_get_errors_and_the_connection_stays(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "general", false).await;
    let mut a = server.ws(&alice).await;
    a.send_raw("this is not json").await;
    assert_eq!(a.recv_type("error").await["code"], "bad_request");
    a.send(json!({"type": "teleport", "ref": 5})).await;
    let e = a.recv_type("error").await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_i64()),
        (Some("bad_request"), Some(5))
    );
    a.send(json!({"type": "send", "room": room, "body": "hi", "client_id": "x"}))
        .await;
    assert_eq!(
        a.recv_type("error").await["code"],
        "forbidden",
        "not joined yet"
    );
    a.send(json!({"type": "join", "room": "123456"})).await;
    assert_eq!(a.recv_type("error").await["code"], "not_found");
    a.join(&room).await;
    a.send(json!({"type": "send", "room": room, "body": "x".repeat(4001), "client_id": "big"}))
        .await;
    assert_eq!(a.recv_type("error").await["code"], "too_large");
    a.send(json!({"type": "ping", "ref": "p"})).await;
    assert_eq!(a.recv_type("pong").await["ref"], "p");
    // Still usable.
    a.say(&room, "still here", "ok-1").await;
}

async fn an_upgrade_without_a_valid_token_is_refused_with_401(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    for auth in [None, Some("Bearer garbage")] {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = server.url("/ws").into_client_request().unwrap();
        if let Some(value) = auth {
            req.headers_mut()
                .insert("authorization", value.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(req).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
            other => panic!("expected 401, got {other:?}"),
        }
    }
    // ?access_token= works for browsers (on /ws only), when the token is good.
    let bad = server.url("/ws?access_token=garbage");
    match tokio_tungstenite::connect_async(bad).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    let alice = server.user("alice").await;
    let url = server.url(&format!("/ws?access_token={}", alice.token));
    assert!(tokio_tungstenite::connect_async(url).await.is_ok());
}

on_both_backends!(
    messages_fan_out_to_every_member_and_ack_the_author,
    a_resend_with_the_same_client_id_is_not_duplicated,
    reconnect_with_since_recovers_everything_in_order,
    history_pages_back_to_the_first_message,
    bad_frames_get_errors_and_the_connection_stays,
    an_upgrade_without_a_valid_token_is_refused_with_401,
);
