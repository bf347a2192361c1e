//! Issue 12, incoming webhooks: a room moderator makes a secret URL; its POSTs appear in the room
//! as messages of the hook's account (kind `bot`, with the hook's name); wrong secrets, unknown and
//! revoked hooks are 404 alike; bad bodies 400; past `webhook_rate_per_minute` 429; only the
//! room's moderators manage hooks. Both stores.

mod common;

use common::http::{call, Reply};
use common::server::{as_user, config_with, TestServer, TestUser};
use common::{last_audit_details, Kind, TestDb};
use serde_json::{json, Value};

async fn hook_post(server: &TestServer, url: &str, body: Value) -> Reply {
    call(server.addr, "POST", url, &[], Some(&body)).await
}

/// A hook `name` in `room` made by `owner`: (id, url).
async fn make_hook(
    server: &TestServer,
    owner: &TestUser,
    room: &str,
    name: &str,
) -> (String, String) {
    let made = as_user(
        server,
        owner,
        "POST",
        &format!("/api/v2/rooms/{room}/webhooks"),
        Some(json!({"name": name})),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let url = made.body["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/hooks/"), "{url}");
    (made.body["webhook"]["id"].as_str().unwrap().to_owned(), url)
}

async fn posts_appear_in_the_room_with_the_hooks_name(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "builds", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let (id, url) = make_hook(&server, &alice, &room, "ci-bot").await;
    assert_eq!(
        last_audit_details(&server.state.pool, "webhook.created")["name"],
        "ci-bot"
    );

    let posted = hook_post(&server, &url, json!({"text": "build 41 passed"})).await;
    assert_eq!(posted.status, 201, "{:?}", posted.body);
    let seen = a.recv_type("message").await;
    assert_eq!(seen["message"]["author"]["username"], "ci-bot");
    assert_eq!(seen["message"]["kind"], "bot");
    assert_eq!(seen["message"]["body"], "build 41 passed");
    assert_eq!(seen["message"]["seq"], posted.body["message"]["seq"]);

    // A username other than the hook's is shown before the text.
    hook_post(
        &server,
        &url,
        json!({"text": "deployed", "username": "Deploy Bot"}),
    )
    .await;
    let seen = a.recv_type("message").await;
    assert_eq!(seen["message"]["body"], "Deploy Bot: deployed");

    let listed = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/webhooks"),
        None,
    )
    .await;
    assert_eq!(listed.body["webhooks"][0]["id"], id.as_str());
    assert_eq!(listed.body["webhooks"][0]["name"], "ci-bot");
    assert!(
        !listed
            .body
            .to_string()
            .contains(url.rsplit('/').next().unwrap()),
        "the secret is shown once only"
    );
    let history = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    assert_eq!(history.body["messages"][0]["body"], "Deploy Bot: deployed");
}

async fn bad_secrets_unknown_and_revoked_hooks_are_404(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "builds", false).await;
    let (id, url) = make_hook(&server, &alice, &room, "ci-bot").await;
    let wrong = format!("/hooks/{id}/not-the-secret");
    for path in [wrong.as_str(), "/hooks/12345/whatever", "/hooks/abc/def"] {
        let r = hook_post(&server, path, json!({"text": "hi"})).await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
        assert_eq!(r.body["error"]["code"], "not_found");
    }
    for bad in [
        json!({"text": ""}),
        json!({"text": "nul \u{0} inside"}),
        json!({"text": "hi", "colour": "red"}),
        json!({"text": "hi", "username": "a\u{7}b"}),
    ] {
        let r = hook_post(&server, &url, bad).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
    }
    // The prefix counts toward the 4,000 characters of a message.
    let long = json!({"text": "x".repeat(3995), "username": "Deploy Bot"});
    let r = hook_post(&server, &url, long).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (413, Some("too_large"))
    );
    let revoked = as_user(
        &server,
        &alice,
        "DELETE",
        &format!("/api/v2/rooms/{room}/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    let r = hook_post(&server, &url, json!({"text": "still here?"})).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    let listed = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/webhooks"),
        None,
    )
    .await;
    assert_eq!(listed.body["webhooks"], json!([]));
    let again = as_user(
        &server,
        &alice,
        "DELETE",
        &format!("/api/v2/rooms/{room}/webhooks/{id}"),
        None,
    )
    .await;
    assert_eq!(again.status, 404);
}

async fn only_the_rooms_moderators_manage_hooks(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let public = server.room(&alice, "builds", false).await;
    let private = server.room(&alice, "secret", true).await;
    let mut b = server.ws(&bob).await;
    b.join(&public).await;
    let path = format!("/api/v2/rooms/{public}/webhooks");
    let member = as_user(&server, &bob, "POST", &path, Some(json!({"name": "bobs"}))).await;
    assert_eq!(member.status, 403, "{:?}", member.body);
    assert_eq!(as_user(&server, &bob, "GET", &path, None).await.status, 403);
    let outsider = as_user(
        &server,
        &bob,
        "POST",
        &format!("/api/v2/rooms/{private}/webhooks"),
        Some(json!({"name": "bobs"})),
    )
    .await;
    assert_eq!(outsider.status, 404, "{:?}", outsider.body);
    let (hook, _) = make_hook(&server, &alice, &public, "alices").await;
    let revoke = format!("{path}/{hook}");
    assert_eq!(
        as_user(&server, &bob, "DELETE", &revoke, None).await.status,
        403
    );
    // Not through another room's path either.
    let other = format!("/api/v2/rooms/{private}/webhooks/{hook}");
    assert_eq!(
        as_user(&server, &alice, "DELETE", &other, None)
            .await
            .status,
        404
    );
    let taken = as_user(&server, &alice, "POST", &path, Some(json!({"name": "bob"}))).await;
    assert_eq!(taken.status, 409, "{:?}", taken.body);
    let bad = as_user(&server, &alice, "POST", &path, Some(json!({"name": "a b"}))).await;
    assert_eq!(
        (bad.status, bad.body["error"]["code"].as_str()),
        (422, Some("validation_failed")),
        "{:?}",
        bad.body
    );
}

async fn a_hook_has_its_own_rate_limit(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_WEBHOOK_RATE_PER_MINUTE", "2")]);
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "builds", false).await;
    let (_, url) = make_hook(&server, &alice, &room, "ci-bot").await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(
            hook_post(&server, &url, json!({"text": format!("n{i}")}))
                .await
                .status,
        );
    }
    assert_eq!(&statuses[..2], &[201, 201], "{statuses:?}");
    assert!(statuses[2..].iter().all(|s| *s == 429), "{statuses:?}");
}

/// A poster that retries after a timeout sends the same `Idempotency-Key`: the second post gets
/// the first one's message (200) and nothing is posted twice.
async fn an_idempotency_key_makes_a_retried_post_land_once(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "builds", false).await;
    let mut a = server.ws(&alice).await;
    a.join(&room).await;
    let (_, url) = make_hook(&server, &alice, &room, "ci-bot").await;
    let post = |key: &'static str, text: &'static str| {
        let (addr, url) = (server.addr, url.clone());
        async move {
            call(
                addr,
                "POST",
                &url,
                &[("Idempotency-Key", key)],
                Some(&json!({"text": text})),
            )
            .await
        }
    };
    let first = post("build-41", "build 41 passed").await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = post("build-41", "build 41 passed").await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["message"]["id"], first.body["message"]["id"]);
    let next = post("build-42", "build 42 passed").await;
    assert_eq!(next.status, 201);
    assert_eq!(
        a.recv_type("message").await["message"]["body"],
        "build 41 passed"
    );
    assert_eq!(
        a.recv_type("message").await["message"]["body"],
        "build 42 passed"
    );
    let bad = post("has space", "x").await;
    assert_eq!(bad.status, 400, "{:?}", bad.body);
    let history = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    assert_eq!(history.body["messages"].as_array().map(Vec::len), Some(2));
}

on_both_backends!(
    posts_appear_in_the_room_with_the_hooks_name,
    bad_secrets_unknown_and_revoked_hooks_are_404,
    only_the_rooms_moderators_manage_hooks,
    a_hook_has_its_own_rate_limit,
    an_idempotency_key_makes_a_retried_post_land_once,
);
