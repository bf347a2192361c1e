//! Limits and failure handling: oversized frames, rate limits, heartbeat timeouts, slow consumers,
//! a crashing room actor, and batched presence/typing.

mod common;

use common::server::{config_with, Duo, TestServer};
use common::{Kind, TestDb};
use serde_json::json;
use std::time::Duration;

async fn oversized_frames_close_with_1009(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let Duo {
        room, mut a, mut b, ..
    } = server.duo().await;
    a.send_raw(&format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    ))
    .await;
    assert_eq!(a.closed().await, Some(1009));
    // Bob's session is untouched.
    b.say(&room, "still fine", "b1").await;
}

/// Writes bytes to the socket under the client's WebSocket layer (frames it would not make).
async fn write_raw(ws: &mut common::server::Ws, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt;
    match ws.stream.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.write_all(bytes).await.unwrap(),
        _ => unreachable!("the tests speak plain ws://"),
    }
}

/// A masked (zero key) text frame header declaring `len` bytes.
fn text_header(len: u64) -> Vec<u8> {
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame
}

async fn a_huge_frame_is_refused_on_its_header_and_bad_text_with_1007(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let Duo {
        room, mut a, mut b, ..
    } = server.duo().await;
    // 1 GiB announced, 1 KiB sent: the server must not wait for (or buffer) the rest.
    let mut frame = text_header(1 << 30);
    frame.extend_from_slice(&[b'x'; 1024]);
    write_raw(&mut a, &frame).await;
    assert_eq!(a.closed().await, Some(1009));
    // A text frame that is not UTF-8.
    let mut bad = vec![0x81, 0x80 | 2, 0, 0, 0, 0];
    bad.extend_from_slice(&[0xff, 0xfe]);
    write_raw(&mut b, &bad).await;
    assert_eq!(b.closed().await, Some(1007));
    // Others are untouched.
    let carol = server.user("carol").await;
    let mut c = server.ws(&carol).await;
    c.join(&room).await;
    c.say(&room, "still fine", "c1").await;
}

async fn sending_too_fast_is_rate_limited(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "general", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    for i in 0..60 {
        a.send(json!({"type": "send", "room": room, "body": "spam", "client_id": format!("s{i}")}))
            .await;
    }
    let (mut acks, mut limited) = (0, 0);
    while acks + limited < 60 {
        let frame = a.recv().await;
        match frame["type"].as_str() {
            Some("ack") => acks += 1,
            Some("error") => {
                assert_eq!(frame["code"], "rate_limited");
                limited += 1;
            }
            _ => {}
        }
    }
    assert!(acks >= 40, "the burst of 40 passes: {acks}");
    assert!(limited >= 1, "then the limit bites");
    // The connection stays usable once the bucket refills.
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.say(&room, "calm now", "calm").await;
}

async fn a_silent_client_is_removed_everywhere_after_the_timeout(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_WS_HEARTBEAT_MS", "100"),
            ("VEZA_WS_TIMEOUT_MS", "400"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let Duo {
        room, mut a, mut b, ..
    } = server.duo().await;
    assert_eq!(server.connections().await, 2);
    assert_eq!(server.online_in(&room).await, 2);
    // Bob goes silent; Alice keeps talking (app-level pings) and hears him leave.
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    let left = 'outer: loop {
        assert!(
            tokio::time::Instant::now() < give_up,
            "bob was never removed"
        );
        a.send(json!({"type": "ping"})).await;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut a.stream)).await
        {
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
                let frame: serde_json::Value = serde_json::from_str(&t).unwrap();
                if frame["type"] == "presence" && !frame["left"].as_array().unwrap().is_empty() {
                    break 'outer frame;
                }
            }
        }
    };
    assert_eq!(left["left"][0]["username"], "bob");
    assert_eq!(server.online_in(&room).await, 1);
    assert_eq!(server.connections().await, 1, "no session left behind");
    // Alice, who kept talking, is still connected.
    a.say(&room, "still here", "a1").await;
    assert_eq!(b.closed().await, Some(1000));
}

async fn a_slow_consumer_is_cut_off_while_others_keep_receiving(kind: Kind) {
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
    let body = "z".repeat(3900);
    let total = 1500;
    let reader = actix_rt::spawn(async move {
        let mut got = 0;
        while got < total {
            if b.recv_type("message").await["message"]["body"]
                .as_str()
                .map(str::len)
                == Some(3900)
            {
                got += 1;
            }
        }
        (got, b)
    });
    // One at a time, each acked (so it is durable) before the next.
    for i in 0..total {
        a.say(&room, &body, &format!("m{i}")).await;
    }
    let (got, _b) = reader.await.unwrap();
    assert_eq!(got, total, "a reader that keeps up gets every message");
    // The slow client, once it reads, finds itself closed with 1013.
    assert_eq!(s.closed().await, Some(1013));
    assert_eq!(server.online_in(&room).await, 2);
}

async fn a_crashing_room_restarts_and_users_stay_connected(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let Duo {
        room, mut a, mut b, ..
    } = server.duo().await;
    a.say(&room, "before", "a1").await;
    b.recv_type("message").await;
    let id = veza_actors::RoomId(room.parse().unwrap());
    let addr = server
        .state
        .registry
        .send(veza_actors::registry::PeekRoom(id))
        .await
        .unwrap()
        .unwrap();
    addr.send(veza_actors::room::Poison).await.unwrap();
    // Same sockets, same room: the restarted actor reloaded seq 1 from the store.
    let after = a.say(&room, "after the crash", "a2").await;
    assert_eq!(after["seq"], 2);
    let got = b.recv_type("message").await;
    assert_eq!(got["message"]["body"], "after the crash");
    assert_eq!(server.online_in(&room).await, 2);
}

async fn presence_and_typing_arrive_batched(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "general", false).await;
    let mut a = server.ws(&alice).await;
    let mut b = server.ws(&bob).await;
    a.join(&room).await;
    let joined = b.join(&room).await;
    let names: Vec<&str> = joined["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"alice") && names.contains(&"bob"),
        "{names:?}"
    );
    // Joins within one flush interval arrive as one presence event.
    let presence = a.recv_type("presence").await;
    let joined: Vec<&str> = presence["joined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert!(joined.contains(&"bob"), "{presence}");
    for _ in 0..20 {
        b.send(json!({"type": "typing", "room": room})).await;
    }
    let typing = loop {
        let frame = a.recv().await;
        if frame["type"] == "typing" {
            break frame;
        }
    };
    assert_eq!(
        typing["users"],
        json!([{"id": bob.id.to_string(), "username": "bob"}])
    );
    // Twenty typing frames became one event (or two at a flush boundary), not twenty.
    let extra = a.quiet(600).await;
    assert!(extra.len() <= 1, "{extra:?}");
}

/// A room past `presence_list_max` online: `joined` lists that many and counts everyone, and
/// `presence` carries the count without names until the room is small again, when one frame
/// lists everyone.
async fn a_large_room_lists_a_few_and_counts_everyone(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_PRESENCE_LIST_MAX", "10")]);
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "crowd", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let mut crowd = Vec::new();
    for i in 0..11 {
        let user = server.user(&format!("fan{i}")).await;
        let mut ws = server.ws(&user).await;
        let joined = ws.join(&room).await;
        assert_eq!(joined["online"], i + 2, "{joined}");
        assert_eq!(
            joined["members"].as_array().unwrap().len(),
            (i + 2).min(10),
            "{joined}"
        );
        crowd.push(ws);
    }
    // Alice hears names while the room is small, then only the count.
    let large = loop {
        let presence = a.recv_type("presence").await;
        if presence["online"] == 12 {
            break presence;
        }
        assert!(presence["online"].as_u64().unwrap() <= 10 || presence["joined"] == json!([]));
    };
    assert_eq!((&large["joined"], &large["left"]), (&json!([]), &json!([])));
    // Two leave: small again, and the names of who left come back.
    crowd.pop().unwrap().close().await;
    crowd.pop().unwrap().close().await;
    let small = loop {
        let presence = a.recv_type("presence").await;
        if presence["online"] == 10 {
            break presence;
        }
        assert_eq!(presence["online"], 11, "{presence}");
        assert_eq!(presence["left"], json!([]), "{presence}");
    };
    // Nobody was named while the room was large: the frame that ends it lists everyone.
    let members = small["members"]
        .as_array()
        .expect("members once small again");
    assert_eq!(members.len(), 10, "{small}");
    let left = small["left"].as_array().unwrap();
    assert!(
        !left.is_empty()
            && left
                .iter()
                .all(|u| u["username"].as_str().unwrap().starts_with("fan")),
        "{small}"
    );
}

on_both_backends!(
    oversized_frames_close_with_1009,
    a_huge_frame_is_refused_on_its_header_and_bad_text_with_1007,
    sending_too_fast_is_rate_limited,
    a_silent_client_is_removed_everywhere_after_the_timeout,
    a_slow_consumer_is_cut_off_while_others_keep_receiving,
    a_crashing_room_restarts_and_users_stay_connected,
    presence_and_typing_arrive_batched,
    a_large_room_lists_a_few_and_counts_everyone,
);
