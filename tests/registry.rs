//! The registry's hygiene: it survives a panic in one of its handlers, and rooms nobody is in stop
//! (the map does not grow with every room ever joined) and start again on the next join.

mod common;

use common::server::{config_with, TestServer};
use common::{Kind, TestDb};
use std::time::{Duration, Instant};

async fn rooms(server: &TestServer) -> u64 {
    server
        .state
        .registry
        .send(veza_actors::Stats)
        .await
        .unwrap()
        .rooms
}

async fn the_registry_survives_a_panic_in_a_handler(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "general", false).await;
    server
        .state
        .registry
        .send(veza_actors::registry::Poison)
        .await
        .expect("the registry answers after panicking in the handler");
    // It still routes: a join and a message go through.
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let said = a.say(&room, "still here", "c1").await;
    assert_eq!(said["body"], "still here");
    assert_eq!(server.connections().await, 1);
}

async fn idle_rooms_stop_and_start_again(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start_with(&db, config_with(&db, &[("VEZA_ROOM_IDLE_S", "1")])).await;
    let alice = server.user("alice").await;
    let first = server.room(&alice, "first", false).await;
    let second = server.room(&alice, "second", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&first).await;
    a.say(&first, "hello", "c1").await;
    a.join(&second).await;
    assert_eq!(rooms(&server).await, 2);
    for room in [&first, &second] {
        a.send(serde_json::json!({"type": "leave", "room": room}))
            .await;
        a.recv_type("left").await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while rooms(&server).await > 0 {
        assert!(Instant::now() < deadline, "idle rooms were not stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Joining again starts the room afresh from the store.
    let joined = a.join(&first).await;
    assert_eq!(joined["seq"], 1);
    assert_eq!(joined["messages"][0]["body"], "hello");
    let said = a.say(&first, "again", "c2").await;
    assert_eq!(said["seq"], 2);
    assert_eq!(rooms(&server).await, 1);
}

on_both_backends!(
    the_registry_survives_a_panic_in_a_handler,
    idle_rooms_stop_and_start_again,
);
