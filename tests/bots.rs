//! Issue 12, first part: bot accounts. A user creates a bot and gets its token once
//! (`veza_bot_...`); the bot signs in with `Authorization: Bot <token>` on REST and on `/ws`, joins
//! and speaks like a person; rotating the token or deleting the bot ends the old token at once and
//! closes the bot's sockets (4001); only the owner (or an admin) manages a bot; a user owns at most
//! `max_bots_per_user`; bots cannot make bots; every change is audited.

mod common;

use common::http::{call, Reply};
use common::server::{as_user, config_with, make_bot, TestServer};
use common::{last_audit_details, Kind, TestDb};
use serde_json::json;

async fn as_bot(server: &TestServer, token: &str, method: &str, path: &str) -> Reply {
    let auth = format!("Bot {token}");
    call(server.addr, method, path, &[("Authorization", &auth)], None).await
}

async fn bot_lifecycle_token_once_rotation_and_deletion(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let made = as_user(
        &server,
        &alice,
        "POST",
        "/api/v2/bots",
        Some(json!({"username": "dicebot"})),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let token = made.body["token"].as_str().expect("token").to_owned();
    assert!(
        token.starts_with("veza_bot_") && token.len() > 40,
        "{token}"
    );
    assert_eq!(made.body["authorization"], format!("Bot {token}"));
    let id = made.body["bot"]["id"].as_str().expect("id").to_owned();
    assert_eq!(made.body["bot"]["owner"]["username"], "alice");
    assert_eq!(
        last_audit_details(&server.state.pool, "bot.created")["bot"],
        "dicebot"
    );

    // Listed without the token.
    let listed = as_user(&server, &alice, "GET", "/api/v2/bots", None).await;
    assert_eq!(
        listed.body["bots"][0]["username"], "dicebot",
        "{:?}",
        listed.body
    );
    assert!(!listed.body.to_string().contains(&token));

    // The bot signs in as itself, with the bot role and no password login.
    let me = as_bot(&server, &token, "GET", "/api/v2/users/me").await;
    assert_eq!(
        (me.status, me.body["role"].as_str()),
        (200, Some("bot")),
        "{:?}",
        me.body
    );
    let login = call(
        server.addr,
        "POST",
        "/api/v2/auth/login",
        &[],
        Some(&json!({"username": "dicebot", "password": ""})),
    )
    .await;
    assert_eq!(login.status, 401);
    let wrong = as_bot(
        &server,
        "veza_bot_not-a-real-token",
        "GET",
        "/api/v2/users/me",
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"]["code"], "unauthorized");

    // It joins and speaks over the WebSocket like a person.
    // A bot joins only rooms it was invited to, public ones too (answered like an unknown room).
    let room = server.room(&alice, "dice", false).await;
    let mut bot = server.ws_with(&format!("Bot {token}")).await;
    bot.send(json!({"type": "join", "room": room})).await;
    let refused = bot.recv_type("error").await;
    assert_eq!(refused["code"], "not_found", "{refused}");
    let path = format!("/api/v2/rooms/{room}/messages");
    let hidden = as_bot(&server, &token, "GET", &path).await;
    assert_eq!(
        hidden.status, 404,
        "history of an uninvited room: {:?}",
        hidden.body
    );
    let mut owner = server.ws(&alice).await;
    owner.join(&room).await;
    owner.say(&room, "/invite @dicebot", "inv").await;
    assert_eq!(as_bot(&server, &token, "GET", &path).await.status, 200);
    bot.join(&room).await;
    let said = bot.say(&room, "rolled a 6", "r1").await;
    assert_eq!(said["author"]["username"], "dicebot");

    // A new token: the old one stops working at once and the bot's socket closes.
    let rotated = as_user(
        &server,
        &alice,
        "POST",
        &format!("/api/v2/bots/{id}/token"),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let fresh = rotated.body["token"].as_str().expect("token").to_owned();
    assert_ne!(fresh, token);
    assert_eq!(bot.closed().await, Some(4001));
    assert_eq!(
        as_bot(&server, &token, "GET", "/api/v2/users/me")
            .await
            .status,
        401
    );
    assert_eq!(
        as_bot(&server, &fresh, "GET", "/api/v2/users/me")
            .await
            .status,
        200
    );
    let mut bot = server.ws_with(&format!("Bot {fresh}")).await;
    bot.join(&room).await;

    // Deleted: the token is dead, the socket closes, the account is disabled, its message stays.
    let gone = as_user(
        &server,
        &alice,
        "DELETE",
        &format!("/api/v2/bots/{id}"),
        None,
    )
    .await;
    assert_eq!(gone.status, 204, "{:?}", gone.body);
    assert_eq!(bot.closed().await, Some(4001));
    assert_eq!(
        as_bot(&server, &fresh, "GET", "/api/v2/users/me")
            .await
            .status,
        401
    );
    let listed = as_user(&server, &alice, "GET", "/api/v2/bots", None).await;
    assert_eq!(listed.body["bots"], json!([]));
    let history = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    assert!(history.body.to_string().contains("rolled a 6"));
    let _ = last_audit_details(&server.state.pool, "bot.deleted");
}

async fn only_the_owner_or_an_admin_manages_a_bot(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let mallory = server.user("mallory").await;
    let admin = server.user_with_role("root", veza::auth::Role::Admin).await;
    let made = as_user(
        &server,
        &alice,
        "POST",
        "/api/v2/bots",
        Some(json!({"username": "helper"})),
    )
    .await;
    let id = made.body["bot"]["id"].as_str().expect("id").to_owned();
    for (method, path) in [
        ("POST", format!("/api/v2/bots/{id}/token")),
        ("DELETE", format!("/api/v2/bots/{id}")),
    ] {
        let r = as_user(&server, &mallory, method, &path, None).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
    assert_eq!(
        as_user(&server, &mallory, "GET", "/api/v2/bots", None)
            .await
            .body["bots"],
        json!([])
    );
    // An admin sees every bot when asking for all, and may rotate one.
    let all = as_user(&server, &admin, "GET", "/api/v2/bots?all=true", None).await;
    assert_eq!(
        all.body["bots"][0]["owner"]["username"], "alice",
        "{:?}",
        all.body
    );
    let r = as_user(
        &server,
        &admin,
        "POST",
        &format!("/api/v2/bots/{id}/token"),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    // A bot cannot make bots; bad names are refused.
    let token = r.body["token"].as_str().expect("token");
    let by_bot = call(
        server.addr,
        "POST",
        "/api/v2/bots",
        &[("Authorization", &format!("Bot {token}"))],
        Some(&json!({"username": "spawn"})),
    )
    .await;
    assert_eq!(by_bot.status, 403, "{:?}", by_bot.body);
    let bad = as_user(
        &server,
        &alice,
        "POST",
        "/api/v2/bots",
        Some(json!({"username": "no spaces allowed"})),
    )
    .await;
    assert!(bad.status == 400 || bad.status == 422, "{:?}", bad.body);
    let taken = as_user(
        &server,
        &alice,
        "POST",
        "/api/v2/bots",
        Some(json!({"username": "mallory"})),
    )
    .await;
    assert_eq!(taken.status, 409, "{:?}", taken.body);
}

async fn a_user_owns_at_most_max_bots_per_user(kind: Kind) {
    let db = TestDb::new(kind);
    let server =
        TestServer::start_with(&db, config_with(&db, &[("VEZA_MAX_BOTS_PER_USER", "2")])).await;
    let alice = server.user("alice").await;
    for name in ["one", "two"] {
        let r = as_user(
            &server,
            &alice,
            "POST",
            "/api/v2/bots",
            Some(json!({"username": name})),
        )
        .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let third = as_user(
        &server,
        &alice,
        "POST",
        "/api/v2/bots",
        Some(json!({"username": "three"})),
    )
    .await;
    assert_eq!(
        (third.status, third.body["error"]["code"].as_str()),
        (409, Some("quota_exceeded"))
    );
}

/// Bots have their own REST budget (`bot_rate_per_minute`) instead of the per-user ones: a bot
/// answering for a busy room is not held to one person's pace, and is still limited.
async fn a_bot_has_its_own_rate_limit(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_BOT_RATE_PER_MINUTE", "3"),
            ("VEZA_USER_RATE_PER_MINUTE", "1"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let (_, token) = make_bot(&server, &alice, "busy").await;
    for n in 0..3 {
        let r = as_bot(&server, &token, "GET", "/api/v2/users/me").await;
        assert_eq!(r.status, 200, "request {n}: {:?}", r.body);
    }
    let limited = as_bot(&server, &token, "GET", "/api/v2/users/me").await;
    assert_eq!(limited.status, 429, "{:?}", limited.body);
    assert!(limited.header("retry-after").is_some());
}

/// Counts acks and `rate_limited` errors for `n` sends made back to back.
async fn burst(ws: &mut common::server::Ws, room: &str, n: usize) -> (usize, usize) {
    for i in 0..n {
        ws.send(json!({"type": "send", "room": room, "body": format!("m{i}"), "client_id": format!("c{i}")}))
            .await;
    }
    let (mut acked, mut limited) = (0, 0);
    while acked + limited < n {
        let frame = ws.recv_type_any(&["ack", "error"]).await;
        match frame["type"].as_str() {
            Some("ack") => acked += 1,
            _ if frame["code"] == "rate_limited" => limited += 1,
            _ => panic!("{frame}"),
        }
    }
    (acked, limited)
}

/// A bot's socket has its own send budget (`ws_bot_send_rate`/`_burst`), above a person's.
async fn a_bot_socket_has_its_own_send_budget(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_WS_SEND_RATE", "1"),
            ("VEZA_WS_SEND_BURST", "3"),
            ("VEZA_WS_BOT_SEND_RATE", "1"),
            ("VEZA_WS_BOT_SEND_BURST", "10"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let (_, token) = make_bot(&server, &alice, "chatty").await;
    let room = server.room(&alice, "busy", false).await;
    let mut person = server.ws(&alice).await;
    person.join(&room).await;
    person.say(&room, "/invite @chatty", "inv").await;
    let mut bot = server.ws_with(&format!("Bot {token}")).await;
    bot.join(&room).await;
    let (acked, limited) = burst(&mut bot, &room, 8).await;
    assert_eq!((acked, limited), (8, 0), "the bot's burst of 10 takes 8");
    let (acked, limited) = burst(&mut person, &room, 8).await;
    assert!(
        acked <= 3 && limited >= 5,
        "a person's burst is 3: {acked} acked, {limited} limited"
    );
}

on_both_backends!(
    a_bot_socket_has_its_own_send_budget,
    a_bot_has_its_own_rate_limit,
    bot_lifecycle_token_once_rotation_and_deletion,
    only_the_owner_or_an_admin_manages_a_bot,
    a_user_owns_at_most_max_bots_per_user,
);
