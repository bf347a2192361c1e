//! The rooms REST endpoints and full-text search, on both backends.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use common::{Kind, TestDb};
use serde_json::{json, Value};
use std::sync::Arc;
use veza::db::chat_store::DieselChatStore;
use veza_actors::model::{MessageKind, UserRef};
use veza_actors::store::{ChatStore, Write};
use veza_actors::{IdGenerator, RoomId, UserId};

macro_rules! call {
    ($app:expr, $req:expr) => {{
        let res = test::call_service(&$app, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }};
}

fn get(path: &str, token: &str) -> TestRequest {
    TestRequest::get()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
}

fn post(path: &str, token: &str, body: Value) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .set_json(body)
}

async fn register(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    name: &str,
) -> (String, i64) {
    let (status, body) = call!(
        app,
        TestRequest::post()
            .uri("/api/v2/auth/register")
            .set_json(json!({"username": name, "password": "correct horse battery"}))
    );
    assert_eq!(status, StatusCode::CREATED);
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["user"]["id"].as_str().unwrap().parse().unwrap(),
    )
}

fn say(db: &TestDb, room: i64, author: (i64, &str), bodies: &[&str]) {
    let mut store = DieselChatStore::new(db.pool(), Arc::new(IdGenerator::new(3)));
    let batch: Vec<Vec<Write>> = bodies
        .iter()
        .map(|b| {
            vec![Write::Message {
                room: RoomId(room),
                author: UserRef {
                    id: UserId(author.0),
                    username: author.1.into(),
                },
                kind: MessageKind::User,
                body: (*b).into(),
                client_id: None,
                thread: None,
                attachments: Vec::new(),
            }]
        })
        .collect();
    for result in store.apply(&batch).unwrap() {
        result.unwrap();
    }
}

async fn rooms_are_created_listed_and_shown(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (alice, _) = register(&app, "alice").await;
    let (bob, _) = register(&app, "bob").await;
    let (status, general) = call!(
        app,
        post(
            "/api/v2/rooms",
            &alice,
            json!({"name": "general", "topic": "anything"})
        )
    );
    assert_eq!(status, StatusCode::CREATED, "{general}");
    assert_eq!(general["name"], "general");
    assert_eq!(general["topic"], "anything");
    assert_eq!(general["private"], false);
    assert!(general["id"].is_string());
    let (_, secret) = call!(
        app,
        post(
            "/api/v2/rooms",
            &alice,
            json!({"name": "staff", "private": true})
        )
    );

    let (status, mine) = call!(app, get("/api/v2/rooms", &alice));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["rooms"].as_array().unwrap().len(), 2);
    let (_, theirs) = call!(app, get("/api/v2/rooms", &bob));
    let names: Vec<&str> = theirs["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["general"],
        "bob does not see alice's private room"
    );

    let id = general["id"].as_str().unwrap();
    let (status, shown) = call!(app, get(&format!("/api/v2/rooms/{id}"), &bob));
    assert_eq!(
        (status, shown["name"].as_str()),
        (StatusCode::OK, Some("general"))
    );
    let secret_id = secret["id"].as_str().unwrap();
    let (status, _) = call!(app, get(&format!("/api/v2/rooms/{secret_id}"), &bob));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(
        app,
        get(&format!("/api/v2/rooms/{secret_id}/messages"), &bob)
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(app, get("/api/v2/rooms/12345", &bob));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(app, get("/api/v2/rooms/not-a-number", &bob));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(app, TestRequest::get().uri("/api/v2/rooms"));
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn bad_room_input_is_422(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (alice, _) = register(&app, "alice").await;
    for body in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(65)}),
        json!({"name": "ok", "topic": "t".repeat(513)}),
        json!({"name": "bell\u{7}"}),
    ] {
        let (status, res) = call!(app, post("/api/v2/rooms", &alice, body.clone()));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {res}");
        assert_eq!(res["error"]["code"], "validation_failed");
    }
    // Stored as text, never interpreted.
    let xss = "<script>alert(1)</script>'; DROP TABLE rooms;--";
    let (status, room) = call!(app, post("/api/v2/rooms", &alice, json!({"name": xss})));
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(room["name"], xss);
}

async fn history_pages_newest_first(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (alice, alice_id) = register(&app, "alice").await;
    let (_, room) = call!(
        app,
        post("/api/v2/rooms", &alice, json!({"name": "general"}))
    );
    let id: i64 = room["id"].as_str().unwrap().parse().unwrap();
    let bodies: Vec<String> = (1..=120).map(|i| format!("message {i}")).collect();
    say(
        &db,
        id,
        (alice_id, "alice"),
        &bodies.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    let (status, page) = call!(
        app,
        get(&format!("/api/v2/rooms/{id}/messages?limit=100"), &alice)
    );
    assert_eq!(status, StatusCode::OK);
    let seqs: Vec<i64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (21..=120).rev().collect::<Vec<_>>());
    let (_, older) = call!(
        app,
        get(
            &format!("/api/v2/rooms/{id}/messages?before=21&limit=100"),
            &alice
        )
    );
    let seqs: Vec<i64> = older["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=20).rev().collect::<Vec<_>>());
    assert_eq!(older["messages"][19]["body"], "message 1");
    assert_eq!(older["messages"][0]["author"]["username"], "alice");
    for bad in ["limit=101", "limit=0", "limit=abc", "before=x"] {
        let (status, _) = call!(
            app,
            get(&format!("/api/v2/rooms/{id}/messages?{bad}"), &alice)
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

async fn search_finds_best_matches_first(kind: Kind) {
    let db = TestDb::new(kind);
    let app = test::init_service(veza::http::app(db.state())).await;
    let (alice, alice_id) = register(&app, "alice").await;
    let (_, room) = call!(
        app,
        post("/api/v2/rooms", &alice, json!({"name": "general"}))
    );
    let id: i64 = room["id"].as_str().unwrap().parse().unwrap();
    let (_, other) = call!(app, post("/api/v2/rooms", &alice, json!({"name": "other"})));
    let other_id: i64 = other["id"].as_str().unwrap().parse().unwrap();
    say(
        &db,
        id,
        (alice_id, "alice"),
        &[
            "the saxophone solo tonight",
            "saxophone saxophone saxophone all night",
            "nothing to see here",
            "trumpet and piano",
        ],
    );
    say(
        &db,
        other_id,
        (alice_id, "alice"),
        &["saxophone in another room"],
    );

    let (status, found) = call!(
        app,
        get(&format!("/api/v2/rooms/{id}/search?q=saxophone"), &alice)
    );
    assert_eq!(status, StatusCode::OK, "{found}");
    let bodies: Vec<&str> = found["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(
        bodies[0], "saxophone saxophone saxophone all night",
        "best match first"
    );
    let (_, found) = call!(
        app,
        get(
            &format!("/api/v2/rooms/{id}/search?q=piano%20trumpet"),
            &alice
        )
    );
    assert_eq!(found["messages"][0]["body"], "trumpet and piano");
    // Hostile queries are just text.
    for q in [
        "%27%3B%20DROP%20TABLE%20messages%3B--",
        "%22unbalanced",
        "NEAR(",
        "*",
        "a%20OR%20",
        "%5C%00",
    ] {
        let (status, res) = call!(
            app,
            get(&format!("/api/v2/rooms/{id}/search?q={q}"), &alice)
        );
        assert_eq!(status, StatusCode::OK, "{q}: {res}");
    }
    let (status, _) = call!(app, get(&format!("/api/v2/rooms/{id}/search?q="), &alice));
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

on_both_backends!(
    rooms_are_created_listed_and_shown,
    bad_room_input_is_422,
    history_pages_newest_first,
    search_finds_best_matches_first,
);
