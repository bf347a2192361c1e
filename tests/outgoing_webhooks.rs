//! Issue 12, outgoing webhooks: a room moderator points the room's events at an HTTP endpoint
//! (a real one started by each test). Calls are signed (the receiver checks the HMAC on its own),
//! retried with backoff while it answers 500, held back by an open circuit and let through once
//! it closes, durable across a restart, and never aimed at internal addresses. Both stores.

mod common;

use common::server::{as_user, config_with, Duo, TestServer, TestUser};
use common::webhook_receiver::{Call, Receiver};
use common::{Kind, TestDb};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// Loopback allowed (the receiver is on 127.0.0.1), a quick poll, and `extra`.
fn config(db: &TestDb, extra: &[(&str, &str)]) -> veza::config::Config {
    let mut pairs = vec![
        ("VEZA_WEBHOOK_ALLOW_LOOPBACK", "true"),
        ("VEZA_WEBHOOK_POLL_MS", "50"),
        ("VEZA_WEBHOOK_RETRY_BASE_MS", "100"),
        ("VEZA_WEBHOOK_RETRY_MAX_MS", "400"),
    ];
    pairs.extend_from_slice(extra);
    config_with(db, &pairs)
}

/// `owner` makes a hook in `room` with `body` (name and url added): (id, secret).
async fn make_hook(
    server: &TestServer,
    owner: &TestUser,
    room: &str,
    url: &str,
    mut body: Value,
) -> (String, String) {
    body["name"] = json!("ci");
    body["url"] = json!(url);
    let made = as_user(
        server,
        owner,
        "POST",
        &format!("/api/v2/rooms/{room}/outgoing-webhooks"),
        Some(body),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
    let secret = made.body["secret"].as_str().expect("secret").to_owned();
    (
        made.body["webhook"]["id"].as_str().unwrap().to_owned(),
        secret,
    )
}

/// Where a delivery test starts: a server with `extra` settings, a receiver, alice and bob in a
/// room, and alice's hook (events: messages) on the receiver's `/x`.
struct Hooked {
    server: TestServer,
    receiver: Receiver,
    duo: Duo,
    hook: String,
    secret: String,
    /// Last, and to be bound by name where a test takes the rest apart (not `..`, which drops it
    /// at once): the database outlives the server.
    _db: TestDb,
}

async fn hooked(kind: Kind, extra: &[(&str, &str)]) -> Hooked {
    let db = TestDb::new(kind);
    let server = TestServer::start_with(&db, config(&db, extra)).await;
    let receiver = Receiver::start();
    let duo = server.duo().await;
    let (hook, secret) = make_hook(
        &server,
        &duo.alice,
        &duo.room,
        &receiver.url("/x"),
        json!({}),
    )
    .await;
    Hooked {
        server,
        receiver,
        duo,
        hook,
        secret,
        _db: db,
    }
}

async fn delivery_log(server: &TestServer, owner: &TestUser, room: &str, hook: &str) -> Vec<Value> {
    let log = as_user(
        server,
        owner,
        "GET",
        &format!("/api/v2/rooms/{room}/outgoing-webhooks/{hook}/deliveries"),
        None,
    )
    .await;
    assert_eq!(log.status, 200, "{:?}", log.body);
    log.body["deliveries"].as_array().unwrap().clone()
}

/// Polls the delivery log until `done` holds for it.
async fn log_until(
    server: &TestServer,
    owner: &TestUser,
    room: &str,
    hook: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = delivery_log(server, owner, room, hook).await;
        if done(&log) {
            return log;
        }
        assert!(Instant::now() < deadline, "log never got there: {log:#?}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn hook_view(server: &TestServer, owner: &TestUser, room: &str) -> Value {
    let list = as_user(
        server,
        owner,
        "GET",
        &format!("/api/v2/rooms/{room}/outgoing-webhooks"),
        None,
    )
    .await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    list.body["webhooks"][0].clone()
}

/// What a receiver does: HMAC-SHA256 over `timestamp.body` with the secret, compared in
/// constant time (written here from the docs, not with the server's code).
fn verified(call: &Call, secret: &str) -> bool {
    let Some(hex_sig) = call.header("x-veza-signature").strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(call.header("x-veza-timestamp").as_bytes());
    mac.update(b".");
    mac.update(call.body.as_bytes());
    mac.verify_slice(&given).is_ok()
}

async fn calls_are_signed_and_filtered_by_event_and_trigger(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start_with(&db, config(&db, &[])).await;
    let receiver = Receiver::start();
    let mut duo = server.duo().await;
    let (all, secret) = make_hook(
        &server,
        &duo.alice,
        &duo.room,
        &receiver.url("/all"),
        json!({}),
    )
    .await;
    let (_, deploy_secret) = make_hook(
        &server,
        &duo.alice,
        &duo.room,
        &receiver.url("/deploy"),
        json!({"events": ["message", "reaction"], "triggers": ["Deploy"]}),
    )
    .await;

    let sent = duo.a.say(&duo.room, "hello there", "c1").await;
    let calls = receiver.wait_for(1, WAIT).await;
    let call = &calls[0];
    assert_eq!(call.path, "/all");
    assert!(verified(call, &secret), "signature: {call:?}");
    assert!(!verified(call, &deploy_secret));
    let stamp: i64 = call.header("x-veza-timestamp").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - stamp).abs() < 60, "timestamp {stamp} vs {now}");
    assert_eq!(call.header("x-veza-event"), "message");
    assert_eq!(call.header("content-type"), "application/json");
    let body = call.json();
    assert_eq!(body["event"], "message");
    assert_eq!(body["hook"], all.as_str());
    assert_eq!(body["room"], duo.room.as_str());
    assert_eq!(body["message"]["body"], "hello there");
    assert_eq!(body["message"]["seq"], sent["seq"]);
    assert_eq!(body["id"], call.header("x-veza-delivery"));
    assert!(body.get("trigger").is_none());

    // Only the first word counts for triggers, in any case; reactions pass the trigger filter.
    duo.b.say(&duo.room, "deployment soon", "c2").await;
    let deploy = duo.b.say(&duo.room, "DEPLOY api now", "c3").await;
    let id = deploy["id"].as_str().unwrap().to_owned();
    duo.a
        .send(json!({"type": "react", "message": id, "emoji": "🚀"}))
        .await;
    duo.a.recv_type("reaction").await;
    let calls = receiver.wait_for(5, WAIT).await;
    let to_deploy: Vec<&Call> = calls.iter().filter(|c| c.path == "/deploy").collect();
    let to_all: Vec<&Call> = calls.iter().filter(|c| c.path == "/all").collect();
    assert_eq!(to_all.len(), 3, "{to_all:#?}");
    assert_eq!(to_deploy.len(), 2, "{to_deploy:#?}");
    let mut events: Vec<Value> = to_deploy.iter().map(|c| c.json()).collect();
    events.sort_by_key(|e| e["event"].as_str().unwrap().to_owned());
    assert_eq!(events[0]["event"], "message");
    assert_eq!(events[0]["trigger"], "deploy");
    assert_eq!(events[0]["message"]["body"], "DEPLOY api now");
    assert_eq!(events[1]["event"], "reaction");
    assert_eq!(events[1]["reaction"]["emoji"], "🚀");
    assert_eq!(events[1]["reaction"]["added"], true);
    assert!(to_deploy.iter().all(|c| verified(c, &deploy_secret)));

    // An edit was asked for by neither hook: its commit queued nothing (a delivery row would be
    // in the log by the time members hear of the edit, written in the same transaction).
    let first = sent["id"].as_str().unwrap();
    duo.a
        .send(json!({"type": "edit", "message": first, "body": "hello again"}))
        .await;
    duo.b.recv_type("message_updated").await;
    let log = log_until(&server, &duo.alice, &duo.room, &all, |l| {
        l.len() == 3 && l.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    assert!(log.iter().all(|d| d["event"] == "message"), "{log:#?}");
    assert_eq!(receiver.calls().len(), 5);
    assert_eq!(log[2]["attempts"], 1);
    assert_eq!(log[2]["last_status"], 200);
    assert!(log[2]["latency_ms"].as_i64().is_some());
    assert_eq!(log[2]["message"], sent["id"]);
}

async fn a_failing_receiver_is_retried_with_backoff_until_it_answers(kind: Kind) {
    let Hooked {
        server,
        receiver,
        mut duo,
        hook,
        secret,
        _db,
    } = hooked(kind, &[]).await;
    receiver.answer_next(&[500, 503]);
    duo.a.say(&duo.room, "ship it", "c1").await;
    let calls = receiver.wait_for(3, WAIT).await;
    assert_eq!(
        calls.iter().map(|c| c.answered).collect::<Vec<_>>(),
        [500, 503, 200]
    );
    // The same delivery and the same bytes each time, each signed for its own attempt.
    assert!(calls
        .iter()
        .all(|c| c.body == calls[0].body && verified(c, &secret)));
    assert!(calls
        .iter()
        .all(|c| c.header("x-veza-delivery") == calls[0].header("x-veza-delivery")));
    // Backoff: at least half of base * 2^(n-1) between attempts (base 100 ms).
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(50));
    assert!(calls[2].at - calls[1].at >= Duration::from_millis(100));
    let log = log_until(&server, &duo.alice, &duo.room, &hook, |l| {
        l.first().is_some_and(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status"], 200);
    assert_eq!(
        hook_view(&server, &duo.alice, &duo.room).await["circuit"],
        "closed"
    );
}

async fn out_of_attempts_a_delivery_fails_and_a_4xx_is_not_retried(kind: Kind) {
    let Hooked {
        server,
        receiver,
        mut duo,
        hook,
        secret: _,
        _db,
    } = hooked(kind, &[("VEZA_WEBHOOK_MAX_ATTEMPTS", "2")]).await;
    receiver.answer(500);
    duo.a.say(&duo.room, "one", "c1").await;
    let log = log_until(&server, &duo.alice, &duo.room, &hook, |l| {
        l.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    assert_eq!(
        (log[0]["attempts"].as_i64(), log[0]["last_status"].as_i64()),
        (Some(2), Some(500))
    );
    assert_eq!(log[0]["last_error"], "HTTP 500");
    receiver.answer(410);
    duo.a.say(&duo.room, "two", "c2").await;
    let log = log_until(&server, &duo.alice, &duo.room, &hook, |l| {
        l.len() == 2 && l[0]["status"] == "failed"
    })
    .await;
    assert_eq!(log[0]["attempts"], 1, "a 410 is final: {log:#?}");
}

async fn the_circuit_opens_holds_calls_back_and_closes(kind: Kind) {
    let open_ms = 1500;
    let Hooked {
        server,
        receiver,
        mut duo,
        hook,
        secret: _,
        _db,
    } = hooked(
        kind,
        &[
            ("VEZA_WEBHOOK_CIRCUIT_FAILURES", "3"),
            ("VEZA_WEBHOOK_CIRCUIT_OPEN_MS", "1500"),
            ("VEZA_WEBHOOK_MAX_ATTEMPTS", "50"),
            ("VEZA_WEBHOOK_RETRY_BASE_MS", "20"),
            ("VEZA_WEBHOOK_RETRY_MAX_MS", "40"),
        ],
    )
    .await;
    receiver.answer(500);
    duo.a.say(&duo.room, "first", "c1").await;
    let calls = receiver.wait_for(3, WAIT).await;
    let opened_at = calls[2].at;
    // The third failure is recorded just after the receiver answered it.
    let deadline = Instant::now() + WAIT;
    let view = loop {
        let view = hook_view(&server, &duo.alice, &duo.room).await;
        if view["circuit"] == "open" || Instant::now() > deadline {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(view["circuit"], "open", "{view}");
    assert_eq!(view["consecutive_failures"], 3);
    // While open, nothing is called, whatever is queued; once the open time is over, one trial
    // call goes out (not the backlog); it fails, and the circuit opens again for as long.
    duo.a.say(&duo.room, "second", "c2").await;
    duo.a.say(&duo.room, "third", "c3").await;
    let calls = receiver.wait_for(4, WAIT).await;
    assert!(
        calls[3].at - opened_at >= Duration::from_millis(open_ms - 100),
        "the trial call came {:?} after the circuit opened",
        calls[3].at - opened_at
    );
    receiver.answer(200);
    let calls = receiver.wait_for(5, WAIT).await;
    assert!(
        calls[4].at - calls[3].at >= Duration::from_millis(open_ms - 100),
        "the second trial came {:?} after the first failed",
        calls[4].at - calls[3].at
    );
    assert_eq!(calls[3].answered, 500);
    // The trial call succeeded: the circuit closes and the backlog drains.
    let log = log_until(&server, &duo.alice, &duo.room, &hook, |l| {
        l.len() == 3 && l.iter().all(|d| d["status"] == "delivered")
    })
    .await;
    // Every call is in the log: 3 failures, 2 trials, then the other two at once.
    let attempts: i64 = log.iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert_eq!(attempts, 7, "{log:#?}");
    let view = hook_view(&server, &duo.alice, &duo.room).await;
    assert_eq!(
        (
            view["circuit"].as_str(),
            view["consecutive_failures"].as_i64()
        ),
        (Some("closed"), Some(0))
    );
    assert_eq!(receiver.calls().len(), 7);
}

async fn internal_addresses_are_refused(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "builds", false).await;
    let path = format!("/api/v2/rooms/{room}/outgoing-webhooks");
    let refused = |url: &str| json!({"name": "x", "url": url});
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/",
        "http://192.168.1.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:80/",
    ] {
        let r = as_user(&server, &alice, "POST", &path, Some(refused(url))).await;
        assert_eq!(
            (r.status, r.body["error"]["code"].as_str()),
            (422, Some("url_refused")),
            "{url}: {:?}",
            r.body
        );
    }
    for url in [
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "not a url",
    ] {
        let r = as_user(&server, &alice, "POST", &path, Some(refused(url))).await;
        assert_eq!(r.status, 422, "{url}: {:?}", r.body);
    }
    for bad in [
        json!({"name": "x", "url": "https://example.com/", "events": ["everything"]}),
        json!({"name": "x", "url": "https://example.com/", "events": []}),
        json!({"name": "x", "url": "https://example.com/", "triggers": ["two words"]}),
        json!({"name": "", "url": "https://example.com/"}),
    ] {
        let r = as_user(&server, &alice, "POST", &path, Some(bad.clone())).await;
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
    }
    // Loopback allowed by the operator: private and link-local stay refused.
    let db2 = TestDb::new(kind);
    let open = TestServer::start_with(&db2, config(&db2, &[])).await;
    let alice = open.user("alice").await;
    let room = open.room(&alice, "builds", false).await;
    let path = format!("/api/v2/rooms/{room}/outgoing-webhooks");
    let ok = as_user(
        &open,
        &alice,
        "POST",
        &path,
        Some(refused("http://localhost:9/h")),
    )
    .await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    for url in ["http://10.0.0.8/", "http://169.254.169.254/"] {
        let r = as_user(&open, &alice, "POST", &path, Some(refused(url))).await;
        assert_eq!(r.status, 422, "{url}: {:?}", r.body);
    }
}

async fn only_moderators_manage_hooks_and_revoking_cancels_deliveries(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start_with(
        &db,
        config(
            &db,
            &[
                ("VEZA_WEBHOOK_RETRY_BASE_MS", "60000"),
                ("VEZA_WEBHOOK_RETRY_MAX_MS", "60000"),
            ],
        ),
    )
    .await;
    let receiver = Receiver::start();
    let mut duo = server.duo().await;
    let path = format!("/api/v2/rooms/{}/outgoing-webhooks", duo.room);
    let body = json!({"name": "x", "url": receiver.url("/x")});
    let bob_tries = as_user(&server, &duo.bob, "POST", &path, Some(body)).await;
    assert_eq!(bob_tries.status, 403, "{:?}", bob_tries.body);
    assert_eq!(
        as_user(&server, &duo.bob, "GET", &path, None).await.status,
        403
    );
    receiver.answer(500);
    let (hook, secret) = make_hook(
        &server,
        &duo.alice,
        &duo.room,
        &receiver.url("/x"),
        json!({}),
    )
    .await;
    let listed = as_user(&server, &duo.alice, "GET", &path, None).await;
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is shown once"
    );
    assert_eq!(
        as_user(
            &server,
            &duo.bob,
            "GET",
            &format!("{path}/{hook}/deliveries"),
            None
        )
        .await
        .status,
        403
    );
    duo.a
        .say(&duo.room, "fails once, then waits a minute", "c1")
        .await;
    receiver.wait_for(1, WAIT).await;
    log_until(&server, &duo.alice, &duo.room, &hook, |l| {
        l.first()
            .is_some_and(|d| d["attempts"] == 1 && d["status"] == "pending")
    })
    .await;
    let revoked = as_user(
        &server,
        &duo.alice,
        "DELETE",
        &format!("{path}/{hook}"),
        None,
    )
    .await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    let log = delivery_log(&server, &duo.alice, &duo.room, &hook).await;
    assert_eq!(log[0]["status"], "cancelled");
    duo.a.say(&duo.room, "nobody hears this", "c2").await;
    assert_eq!(
        delivery_log(&server, &duo.alice, &duo.room, &hook)
            .await
            .len(),
        1
    );
    assert_eq!(
        as_user(
            &server,
            &duo.alice,
            "DELETE",
            &format!("{path}/{hook}"),
            None
        )
        .await
        .status,
        404
    );
    let listed = as_user(&server, &duo.alice, "GET", &path, None).await;
    assert_eq!(listed.body["webhooks"], json!([]));
    assert_eq!(receiver.calls().len(), 1);
}

async fn queued_deliveries_survive_a_restart(kind: Kind) {
    let db = TestDb::new(kind);
    let receiver = Receiver::start();
    // A node that makes no calls: the delivery waits in the store.
    let quiet = TestServer::start_with(&db, config(&db, &[("VEZA_WEBHOOK_WORKERS", "0")])).await;
    let mut duo = quiet.duo().await;
    let (hook, secret) = make_hook(
        &quiet,
        &duo.alice,
        &duo.room,
        &receiver.url("/x"),
        json!({}),
    )
    .await;
    duo.a.say(&duo.room, "before the restart", "c1").await;
    let log = delivery_log(&quiet, &duo.alice, &duo.room, &hook).await;
    assert_eq!((log.len(), log[0]["status"].as_str()), (1, Some("pending")));
    quiet.stop().await;
    let (alice, room) = (duo.alice.clone(), duo.room.clone());
    drop(duo);

    // The same store, a node that calls: it finds the delivery and makes it.
    let again = TestServer::start_with(&db, config(&db, &[])).await;
    let calls = receiver.wait_for(1, WAIT).await;
    assert!(verified(&calls[0], &secret));
    assert_eq!(calls[0].json()["message"]["body"], "before the restart");
    let log = log_until(&again, &alice, &room, &hook, |l| {
        l[0]["status"] == "delivered"
    })
    .await;
    assert_eq!(log.len(), 1);
}

/// A new secret signs every call from then on; the old one verifies none of them.
async fn a_rotated_secret_signs_the_calls_after_it(kind: Kind) {
    let Hooked {
        server,
        receiver,
        mut duo,
        hook,
        secret,
        _db,
    } = hooked(kind, &[]).await;
    let path = format!("/api/v2/rooms/{}/outgoing-webhooks/{hook}/secret", duo.room);
    assert_eq!(
        as_user(&server, &duo.bob, "POST", &path, None).await.status,
        403
    );
    let rotated = as_user(&server, &duo.alice, "POST", &path, None).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let fresh = rotated.body["secret"].as_str().unwrap().to_owned();
    assert!(fresh.starts_with("whsec_") && fresh != secret);
    assert_eq!(rotated.body["webhook"]["id"], hook.as_str());
    assert_eq!(
        last_audit_action(&server, "outgoing_webhook.secret_rotated").await,
        Some(hook.clone())
    );
    duo.a.say(&duo.room, "after the rotation", "c1").await;
    let calls = receiver.wait_for(1, WAIT).await;
    assert!(verified(&calls[0], &fresh));
    assert!(!verified(&calls[0], &secret));
    let unknown = format!("/api/v2/rooms/{}/outgoing-webhooks/1/secret", duo.room);
    assert_eq!(
        as_user(&server, &duo.alice, "POST", &unknown, None)
            .await
            .status,
        404
    );
}

/// The target id of the newest audit row with `action`.
async fn last_audit_action(server: &TestServer, action: &str) -> Option<String> {
    let pool = server.state.pool.clone();
    let action = action.to_owned();
    actix_web::web::block(move || {
        veza::db::audit::recent(&mut pool.get().unwrap(), None, 50)
            .unwrap()
            .into_iter()
            .find(|e| e.action == action)
            .and_then(|e| e.target_id)
    })
    .await
    .unwrap()
}

on_both_backends!(
    calls_are_signed_and_filtered_by_event_and_trigger,
    a_failing_receiver_is_retried_with_backoff_until_it_answers,
    out_of_attempts_a_delivery_fails_and_a_4xx_is_not_retried,
    the_circuit_opens_holds_calls_back_and_closes,
    internal_addresses_are_refused,
    only_moderators_manage_hooks_and_revoking_cancels_deliveries,
    queued_deliveries_survive_a_restart,
    a_rotated_secret_signs_the_calls_after_it,
);
