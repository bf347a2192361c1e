//! Attacks on the input paths: SQL metacharacters in every text field and in search, oversized
//! and deeply nested JSON, path traversal on every file-serving route. Each must get a clean
//! answer (stored as text, or a 4xx JSON error) and leave the server working.

mod common;

use common::audio::{create_stream, http};
use common::server::TestServer;
use common::{Kind, TestDb};
use serde_json::{json, Value};

const NASTY: [&str; 6] = [
    "'; DROP TABLE users; --",
    "\" OR 1=1 --",
    "x' UNION SELECT password_hash FROM users --",
    "%_\\%",
    "\"unbalanced * NEAR( AND OR -",
    "Robert'); DELETE FROM messages;--",
];

async fn sql_metacharacters_are_just_text(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let user = server.user("mallory").await;
    let t = Some(user.token.as_str());
    // Usernames: refused by the rules (422), never an SQL error.
    for nasty in NASTY {
        let (status, body) = http(
            &server,
            "POST",
            "/api/v2/auth/register",
            None,
            Some(json!({"username": nasty, "password": "correct horse battery"})),
        )
        .await;
        assert_eq!(status, 422, "{nasty}: {body}");
        let (status, _) = http(
            &server,
            "POST",
            "/api/v2/auth/login",
            None,
            Some(json!({"username": nasty, "password": "correct horse battery"})),
        )
        .await;
        assert_eq!(status, 401, "{nasty}");
    }
    let mut ws = server.ws(&user).await;
    for (i, nasty) in NASTY.iter().enumerate() {
        // Room names and topics, stream titles: stored and returned exactly.
        let (status, room) = http(
            &server,
            "POST",
            "/api/v2/rooms",
            t,
            Some(json!({"name": format!("{nasty} {i}"), "topic": nasty})),
        )
        .await;
        assert_eq!(status, 201, "{nasty}: {room}");
        assert_eq!(room["name"], format!("{nasty} {i}"));
        let id = room["id"].as_str().unwrap().to_owned();
        let (status, stream) = http(
            &server,
            "POST",
            "/api/v2/streams",
            t,
            Some(json!({"title": nasty})),
        )
        .await;
        assert_eq!((status, stream["title"].as_str()), (201, Some(*nasty)));
        // Message bodies over the WebSocket: stored as sent.
        ws.join(&id).await;
        let sent = ws.say(&id, nasty, &format!("c{i}")).await;
        assert_eq!(sent["body"], *nasty, "{sent}");
        let (status, history) = http(
            &server,
            "GET",
            &format!("/api/v2/rooms/{id}/messages"),
            t,
            None,
        )
        .await;
        assert_eq!(status, 200, "{history}");
        assert_eq!(history["messages"][0]["body"], *nasty, "{history}");
        // Search: any text is a query of words, never syntax.
        for q in NASTY {
            let path = format!("/api/v2/rooms/{id}/search?q={}", urlencode(q));
            let (status, found) = http(&server, "GET", &path, t, None).await;
            assert_eq!(status, 200, "search {q:?}: {found}");
        }
    }
    // The tables are all still there.
    let (status, me) = http(&server, "GET", "/api/v2/users/me", t, None).await;
    assert_eq!((status, me["username"].as_str()), (200, Some("mallory")));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn oversized_and_deeply_nested_json_are_refused(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let user = server.user("nester").await;
    let port = server.addr.port();
    let token = user.token.clone();
    let results = actix_web::web::block(move || {
        let deep = format!(
            "{{\"name\":{}1{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let big = json!({"name": "x".repeat(2 * 1024 * 1024)}).to_string();
        [deep, big]
            .into_iter()
            .map(|body| {
                common::process::request(port, "POST", "/api/v2/rooms", Some(&token), Some(&body))
                    .unwrap()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (status, body) in results {
        assert!(matches!(status, 400 | 413 | 422), "{status} {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"]["code"].is_string(), "{body}");
    }
    // Over the WebSocket: an error frame, and the connection stays.
    let mut ws = server.ws(&user).await;
    ws.send_raw(&format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)))
        .await;
    let error = ws.recv_type("error").await;
    assert_eq!(error["code"], "bad_request", "{error}");
    ws.send(json!({"type": "ping", "ref": 1})).await;
    ws.recv_type("pong").await;
    let (status, _) = http(&server, "GET", "/health", None, None).await;
    assert_eq!(status, 200);
}

async fn path_traversal_never_leaves_the_data_directory(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("walker").await;
    let stream = create_stream(&server, &dj, "Walk").await;
    std::fs::create_dir_all(db.dir().join("data")).unwrap();
    std::fs::write(db.dir().join("data").join("secret.txt"), "top secret").unwrap();
    let id = &stream.id;
    let m = &stream.mount;
    let paths = [
        format!("/hls/{m}/mp3-128/..%2f..%2f..%2fsecret.txt"),
        format!("/hls/{m}/mp3-128/../../../secret.txt"),
        "/hls/..%2f..%2f/mp3-128/index.m3u8".to_owned(),
        format!("/hls/{m}/..%2fmp3-128/index.m3u8"),
        format!("/hls/{m}/mp3-128/seg-1.mp3%00.txt"),
        "/assets/..%2f..%2fCargo.toml".to_owned(),
        "/assets/../../Cargo.toml".to_owned(),
        format!("/api/v2/streams/{id}/clips/..%2f..%2fsecret"),
        format!("/api/v2/streams/{id}/recordings/..%2f..%2fsecret"),
        "/api/v2/streams/..%2f..%2f/recording".to_owned(),
        "/live/..%2f..%2fsecret.txt/mp3-128".to_owned(),
    ];
    let port = server.addr.port();
    let results = actix_web::web::block(move || {
        paths
            .iter()
            .map(|p| {
                (
                    p.clone(),
                    common::process::request(port, "GET", p, None, None).unwrap(),
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for (path, (status, body)) in results {
        assert!(matches!(status, 400 | 404), "{path}: {status} {body}");
        assert!(
            !body.contains("top secret") && !body.contains("[package]"),
            "{path} leaked a file"
        );
    }
}

on_both_backends!(
    sql_metacharacters_are_just_text,
    oversized_and_deeply_nested_json_are_refused,
    path_traversal_never_leaves_the_data_directory,
);
