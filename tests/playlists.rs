//! Issue 14, collaborative playlists: who may read and edit a playlist (owner, editor, stranger);
//! items placed and moved by fractional keys that sort the same in the store and byte by byte; a
//! stale `If-Match` refused with 409 and the current version; and two editors on two nodes making
//! concurrent inserts and moves that converge, each editor's event stream replaying to the
//! server's final order and version. Both stores.

mod common;

use common::cluster::Cluster;
use common::raw_http::{raw, RawReply};
use common::server::{config_with, TestServer, TestUser};
use common::{Kind, TestDb};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use veza::db::tracks::NewTrack;
use veza::db::DbPool;
use veza_actors::UserId;

/// A test config without the per-account write limit (the tests make hundreds of edits).
fn unlimited(db: &TestDb) -> veza::config::Config {
    config_with(db, &[("VEZA_WRITE_RATE_PER_MINUTE", "0")])
}

/// A track of `owner`'s library, straight in the store (uploads are `tests/tracks.rs`'s).
fn track(pool: &DbPool, id: i64, owner: i64, title: &str) -> String {
    let row = NewTrack {
        id,
        owner_id: UserId(owner),
        filename: "t.flac",
        content_type: "audio/flac",
        size_bytes: 1000,
        artwork_key: None,
        title,
        artist: Some("Band"),
        album: None,
        year: None,
        track_no: None,
        duration_ms: 2000,
        loudness_lufs: Some(-14.0),
        created_at: 1,
        origin: None,
    };
    veza::db::tracks::insert(&mut pool.get().unwrap(), &row).unwrap();
    id.to_string()
}

/// One API call as `token`, with an `If-Match` version when given.
async fn api(
    addr: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    if_match: Option<i64>,
) -> RawReply {
    let auth = format!("Bearer {token}");
    let tag = if_match.map(|v| format!("\"{v}\""));
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(tag) = &tag {
        headers.push(("If-Match", tag.as_str()));
    }
    let text = body.map(|b| b.to_string()).unwrap_or_default();
    if !text.is_empty() {
        headers.push(("Content-Type", "application/json"));
    }
    raw(addr, method, path, &headers, text.as_bytes()).await
}

async fn ok(
    addr: SocketAddr,
    user: &TestUser,
    method: &str,
    path: &str,
    body: Option<Value>,
    expect: u16,
) -> Value {
    let reply = api(addr, &user.token, method, path, body, None).await;
    assert_eq!(reply.status, expect, "{method} {path}: {:?}", reply.json());
    reply.json()
}

fn code(reply: &RawReply) -> String {
    reply.json()["error"]["code"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn ids(view: &Value) -> Vec<String> {
    view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The items' positions, checked to be strictly increasing byte by byte (the store's order).
fn strictly_ordered(view: &Value) {
    let keys: Vec<&str> = view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["position"].as_str().unwrap())
        .collect();
    for w in keys.windows(2) {
        assert!(w[0].as_bytes() < w[1].as_bytes(), "not ordered: {keys:?}");
    }
}

async fn members_edit_and_strangers_see_nothing(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start_with(&db, unlimited(&db)).await;
    let at = server.addr;
    let (alice, bob, carol) = (
        server.user("alice").await,
        server.user("bob").await,
        server.user("carol").await,
    );
    let pool = server.state.pool.clone();
    let alices = track(&pool, 101, alice.id, "Alice's");
    let bobs = track(&pool, 102, bob.id, "Bob's");
    let carols = track(&pool, 103, carol.id, "Carol's");

    let made = ok(
        at,
        &alice,
        "POST",
        "/api/v2/playlists",
        Some(json!({"name": " Mix "})),
        201,
    )
    .await;
    assert_eq!(made["name"], "Mix");
    assert_eq!(made["version"], 1);
    assert_eq!(made["owner"]["username"], "alice");
    let id = made["id"].as_str().unwrap().to_owned();
    let p = format!("/api/v2/playlists/{id}");

    // A stranger (and Bob before his invitation) learns nothing and changes nothing.
    for user in [&bob, &carol] {
        for (method, path, body) in [
            ("GET", p.clone(), None),
            ("PATCH", p.clone(), Some(json!({"name": "x"}))),
            ("DELETE", p.clone(), None),
            ("POST", format!("{p}/items"), Some(json!({"track": alices}))),
            ("PUT", format!("{p}/editors/{}", user.id), None),
        ] {
            let reply = api(at, &user.token, method, &path, body, None).await;
            assert_eq!(reply.status, 404, "{} {method} {path}", user.name);
        }
        let listed = ok(at, user, "GET", "/api/v2/playlists", None, 200).await;
        assert_eq!(listed["playlists"], json!([]));
    }
    let bad = api(
        at,
        &alice.token,
        "POST",
        "/api/v2/playlists",
        Some(json!({"name": ""})),
        None,
    )
    .await;
    assert_eq!((bad.status, code(&bad)), (422, "validation_failed".into()));

    // Alice invites Bob; inviting him again changes nothing.
    let invited = ok(
        at,
        &alice,
        "PUT",
        &format!("{p}/editors/{}", bob.id),
        None,
        200,
    )
    .await;
    assert_eq!(invited["editors"][0]["username"], "bob");
    assert_eq!(invited["version"], 2);
    let again = ok(
        at,
        &alice,
        "PUT",
        &format!("{p}/editors/{}", bob.id),
        None,
        200,
    )
    .await;
    assert_eq!(again["version"], 2);
    let listed = ok(at, &bob, "GET", "/api/v2/playlists", None, 200).await;
    assert_eq!(listed["playlists"][0]["id"], id.as_str());
    assert_eq!(listed["playlists"][0]["role"], "editor");

    // Bob edits: renames, adds Alice's track and his own; not Carol's (private) nor a missing one.
    let renamed = ok(at, &bob, "PATCH", &p, Some(json!({"name": "Our mix"})), 200).await;
    assert_eq!(renamed["name"], "Our mix");
    ok(
        at,
        &bob,
        "POST",
        &format!("{p}/items"),
        Some(json!({"track": alices})),
        201,
    )
    .await;
    ok(
        at,
        &bob,
        "POST",
        &format!("{p}/items"),
        Some(json!({"track": bobs})),
        201,
    )
    .await;
    for track in [carols.as_str(), "999"] {
        let refused = api(
            at,
            &bob.token,
            "POST",
            &format!("{p}/items"),
            Some(json!({"track": track})),
            None,
        )
        .await;
        assert_eq!(
            (refused.status, code(&refused)),
            (422, "track_unavailable".into())
        );
    }
    // Only the owner deletes and invites.
    let refused = api(at, &bob.token, "DELETE", &p, None, None).await;
    assert_eq!(refused.status, 403);
    let refused = api(
        at,
        &bob.token,
        "PUT",
        &format!("{p}/editors/{}", carol.id),
        None,
        None,
    )
    .await;
    assert_eq!(refused.status, 403);

    let view = ok(at, &alice, "GET", &p, None, 200).await;
    let titles: Vec<&str> = view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["track"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Alice's", "Bob's"]);
    assert_eq!(view["items"][0]["track"]["duration_ms"], 2000);
    assert_eq!(view["items"][0]["track"]["artist"], "Band");
    assert_eq!(view["items"][1]["after"], view["items"][0]["id"]);

    // The AutoDJ's view: the same order, with what it needs to play each track.
    let order = {
        let conn = &mut pool.get().unwrap();
        let pid = veza_actors::ids::PlaylistId(id.parse().unwrap());
        assert!(veza::db::playlists::member_of(conn, pid, UserId(bob.id)).unwrap());
        assert!(!veza::db::playlists::member_of(conn, pid, UserId(carol.id)).unwrap());
        veza::db::playlists::playing_order(conn, pid).unwrap()
    };
    assert_eq!(order.len(), 2);
    assert_eq!(
        (order[0].title.as_str(), order[0].owner_id),
        ("Alice's", UserId(alice.id))
    );
    assert_eq!(
        (order[1].track_id.0, order[1].loudness_lufs),
        (102, Some(-14.0))
    );

    // Bob leaves; he sees nothing more.
    let left = api(
        at,
        &bob.token,
        "DELETE",
        &format!("{p}/editors/{}", bob.id),
        None,
        None,
    )
    .await;
    assert_eq!(left.status, 204);
    assert_eq!(api(at, &bob.token, "GET", &p, None, None).await.status, 404);
    let gone = api(
        at,
        &alice.token,
        "DELETE",
        &format!("{p}/editors/{}", bob.id),
        None,
        None,
    )
    .await;
    assert_eq!(gone.status, 404);

    ok(at, &alice, "DELETE", &p, None, 204).await;
    assert_eq!(
        api(at, &alice.token, "GET", &p, None, None).await.status,
        404
    );
    let listed = ok(at, &alice, "GET", "/api/v2/playlists", None, 200).await;
    assert_eq!(listed["playlists"], json!([]));
    server.stop().await;
}

async fn items_are_placed_and_moved_by_fractional_keys(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start_with(&db, unlimited(&db)).await;
    let at = server.addr;
    let alice = server.user("alice").await;
    let t = track(&server.state.pool, 201, alice.id, "T");
    let made = ok(
        at,
        &alice,
        "POST",
        "/api/v2/playlists",
        Some(json!({"name": "Order"})),
        201,
    )
    .await;
    let p = format!("/api/v2/playlists/{}", made["id"].as_str().unwrap());
    let items = format!("{p}/items");
    let add = |place: Value| {
        let mut body = place;
        body["track"] = json!(t);
        body
    };
    let id_of = |v: &Value| v["item"]["id"].as_str().unwrap().to_owned();

    let a = id_of(&ok(at, &alice, "POST", &items, Some(add(json!({}))), 201).await);
    let b = id_of(&ok(at, &alice, "POST", &items, Some(add(json!({}))), 201).await);
    let c = id_of(
        &ok(
            at,
            &alice,
            "POST",
            &items,
            Some(add(json!({"after": null}))),
            201,
        )
        .await,
    );
    let d = id_of(
        &ok(
            at,
            &alice,
            "POST",
            &items,
            Some(add(json!({"after": a}))),
            201,
        )
        .await,
    );
    let e = id_of(
        &ok(
            at,
            &alice,
            "POST",
            &items,
            Some(add(json!({"before": b}))),
            201,
        )
        .await,
    );
    let view = ok(at, &alice, "GET", &p, None, 200).await;
    assert_eq!(ids(&view), [c.as_str(), &a, &d, &e, &b]);
    strictly_ordered(&view);
    assert_eq!(view["version"], 6);

    let moved = ok(
        at,
        &alice,
        "PATCH",
        &format!("{items}/{c}"),
        Some(json!({"after": b})),
        200,
    )
    .await;
    assert_eq!(moved["item"]["after"], b.as_str());
    ok(
        at,
        &alice,
        "PATCH",
        &format!("{items}/{b}"),
        Some(json!({"after": null})),
        200,
    )
    .await;
    ok(
        at,
        &alice,
        "PATCH",
        &format!("{items}/{a}"),
        Some(json!({"before": c})),
        200,
    )
    .await;
    ok(
        at,
        &alice,
        "PATCH",
        &format!("{items}/{d}"),
        Some(json!({})),
        200,
    )
    .await;
    let view = ok(at, &alice, "GET", &p, None, 200).await;
    assert_eq!(ids(&view), [b.as_str(), &e, &a, &c, &d]);
    strictly_ordered(&view);

    // Placed against an item that is gone: 409 item_gone; nothing changes.
    let removed = ok(at, &alice, "DELETE", &format!("{items}/{e}"), None, 200).await;
    assert_eq!(removed["item"]["after"], b.as_str());
    let version = removed["version"].as_i64().unwrap();
    for (path, method, body) in [
        (items.clone(), "POST", add(json!({"after": e}))),
        (format!("{items}/{a}"), "PATCH", json!({"before": e})),
    ] {
        let reply = api(at, &alice.token, method, &path, Some(body), None).await;
        assert_eq!(
            (reply.status, code(&reply)),
            (409, "item_gone".into()),
            "{:?}",
            reply.json()
        );
    }
    for body in [
        json!({"after": a}),
        json!({"after": b, "before": c}),
        json!({"after": "x"}),
    ] {
        let reply = api(
            at,
            &alice.token,
            "PATCH",
            &format!("{items}/{a}"),
            Some(body),
            None,
        )
        .await;
        assert_eq!(reply.status, 422, "{:?}", reply.json());
    }
    let missing = api(
        at,
        &alice.token,
        "DELETE",
        &format!("{items}/{e}"),
        None,
        None,
    )
    .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        ok(at, &alice, "GET", &p, None, 200).await["version"],
        version
    );

    // Runs of inserts at the front and right after one item: every key between its neighbours,
    // the store's order (PostgreSQL `COLLATE "C"`, SQLite BINARY) the same as the bytes'.
    let mut expected = ids(&ok(at, &alice, "GET", &p, None, 200).await);
    for _ in 0..60 {
        let n = id_of(
            &ok(
                at,
                &alice,
                "POST",
                &items,
                Some(add(json!({"after": null}))),
                201,
            )
            .await,
        );
        expected.insert(0, n);
    }
    for _ in 0..60 {
        let n = id_of(
            &ok(
                at,
                &alice,
                "POST",
                &items,
                Some(add(json!({"after": b}))),
                201,
            )
            .await,
        );
        let at_b = expected.iter().position(|x| *x == b).unwrap();
        expected.insert(at_b + 1, n);
    }
    let view = ok(at, &alice, "GET", &p, None, 200).await;
    assert_eq!(ids(&view), expected);
    strictly_ordered(&view);
    let longest = view["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["position"].as_str().unwrap().len())
        .max()
        .unwrap();
    assert!(longest <= 16, "longest key {longest}");
    server.stop().await;
}

async fn a_stale_if_match_gets_409_with_the_current_version(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start_with(&db, unlimited(&db)).await;
    let at = server.addr;
    let alice = server.user("alice").await;
    let t = track(&server.state.pool, 301, alice.id, "T");
    let made = api(
        at,
        &alice.token,
        "POST",
        "/api/v2/playlists",
        Some(json!({"name": "V"})),
        None,
    )
    .await;
    assert_eq!(made.header("etag"), Some("\"1\""));
    let p = format!("/api/v2/playlists/{}", made.json()["id"].as_str().unwrap());

    let first = api(
        at,
        &alice.token,
        "POST",
        &format!("{p}/items"),
        Some(json!({"track": t})),
        Some(1),
    )
    .await;
    assert_eq!(first.status, 201, "{:?}", first.json());
    assert_eq!(first.header("etag"), Some("\"2\""));
    assert_eq!(first.json()["version"], 2);
    let item = first.json()["item"]["id"].as_str().unwrap().to_owned();

    // Everything based on version 1 is refused now, saying the version is 2.
    for (method, path, body) in [
        ("POST", format!("{p}/items"), Some(json!({"track": t}))),
        (
            "PATCH",
            format!("{p}/items/{item}"),
            Some(json!({"after": null})),
        ),
        ("DELETE", format!("{p}/items/{item}"), None),
        ("PATCH", p.clone(), Some(json!({"name": "W"}))),
        ("DELETE", p.clone(), None),
    ] {
        let stale = api(at, &alice.token, method, &path, body, Some(1)).await;
        assert_eq!(
            (stale.status, code(&stale)),
            (409, "version_conflict".into()),
            "{method} {path}"
        );
        assert_eq!(stale.header("etag"), Some("\"2\""));
        let message = stale.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("version 2"), "{message}");
    }
    let view = api(at, &alice.token, "GET", &p, None, None).await;
    assert_eq!(view.header("etag"), Some("\"2\""));
    assert_eq!(
        (view.json()["version"].clone(), ids(&view.json()).len()),
        (json!(2), 1)
    );
    assert_eq!(view.json()["name"], "V");

    let fresh = api(
        at,
        &alice.token,
        "PATCH",
        &p,
        Some(json!({"name": "W"})),
        Some(2),
    )
    .await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.json()["version"], 3);
    let bad = api(
        at,
        &alice.token,
        "PATCH",
        &p,
        Some(json!({"name": "X"})),
        None,
    )
    .await;
    assert_eq!(bad.status, 200);
    let auth = format!("Bearer {}", alice.token);
    let garbled = raw(
        at,
        "PATCH",
        &p,
        &[
            ("Authorization", &auth),
            ("If-Match", "soon"),
            ("Content-Type", "application/json"),
        ],
        br#"{"name":"Y"}"#,
    )
    .await;
    assert_eq!(garbled.status, 422);
    server.stop().await;
}

/// A local copy of a playlist's order, as a client keeps it from `playlist_*` events.
struct Replica {
    order: Vec<(String, String)>,
    version: i64,
}

impl Replica {
    fn of(view: &Value) -> Self {
        Replica {
            order: view["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["id"].as_str().unwrap().to_owned(),
                        i["position"].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            version: view["version"].as_i64().unwrap(),
        }
    }

    /// Applies one event, which must be the next version.
    fn apply(&mut self, event: &Value) {
        let version = event["version"].as_i64().unwrap();
        assert_eq!(version, self.version + 1, "events out of sequence: {event}");
        self.version = version;
        let item = &event["item"];
        let id = item["id"].as_str().unwrap().to_owned();
        self.order.retain(|(x, _)| *x != id);
        if event["type"] == "playlist_item_removed" {
            return;
        }
        let at = match item["after"].as_str() {
            None => 0,
            Some(after) => {
                1 + self
                    .order
                    .iter()
                    .position(|(x, _)| x == after)
                    .expect("after: a known item")
            }
        };
        self.order
            .insert(at, (id, item["position"].as_str().unwrap().to_owned()));
    }
}

/// Every `playlist_*` event after version `from` up to `version`, in version order (events of
/// edits older than the replica, still in flight from another node when the socket opened, are
/// left out, as a client does).
async fn events_until(ws: &mut common::server::Ws, from: i64, version: i64) -> Vec<Value> {
    let mut got = BTreeMap::new();
    while got.len() < (version - from) as usize {
        let frame = ws.recv().await;
        let v = frame["version"].as_i64().unwrap_or(0);
        if frame["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("playlist_"))
            && v > from
        {
            assert!(got.insert(v, frame).is_none(), "version {v} twice");
        }
    }
    got.into_values().collect()
}

async fn two_editors_on_two_nodes_converge(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let node = |i: usize| SocketAddr::from(([127, 0, 0, 1], c.port(i)));
    let alice = c.register(0, "alice");
    let bob = c.register(0, "bob");
    let carol = c.register(1, "carol");
    let pool = c.db.pool();
    let owner: i64 = alice.id.parse().unwrap();
    let tracks = [
        track(&pool, 401, owner, "one"),
        track(&pool, 402, owner, "two"),
    ];
    let made = c.call(
        0,
        "POST",
        "/api/v2/playlists",
        Some(&alice.token),
        Some(json!({"name": "Together"})),
        201,
    );
    let p = format!("/api/v2/playlists/{}", made["id"].as_str().unwrap());
    for editor in [&bob, &carol] {
        c.call(
            0,
            "PUT",
            &format!("{p}/editors/{}", editor.id),
            Some(&alice.token),
            None,
            200,
        );
    }
    for t in tracks.iter().chain(tracks.iter()) {
        c.call(
            0,
            "POST",
            &format!("{p}/items"),
            Some(&alice.token),
            Some(json!({"track": t})),
            201,
        );
    }
    // Bob edits through node 0, Carol through node 1; each listens on their node.
    let mut bob_ws = c.ws(0, &bob).await;
    let mut carol_ws = c.ws(1, &carol).await;
    let start = c.call(0, "GET", &p, Some(&bob.token), None, 200);
    let seeds = ids(&start);
    let v0 = start["version"].as_i64().unwrap();

    // 20 edits each, all sent at once: inserts and moves placed against the seed items.
    let mut seed = 0x2545_f491_u64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut calls = Vec::new();
    let mut inserts = 0;
    for i in 0..40 {
        let (addr, user) = if i % 2 == 0 {
            (node(0), &bob)
        } else {
            (node(1), &carol)
        };
        let anchor = &seeds[next(seeds.len())];
        let side = if next(2) == 0 { "after" } else { "before" };
        let (method, path, body) = match next(3) {
            0 => (
                "POST",
                format!("{p}/items"),
                json!({"track": tracks[next(2)], side: anchor}),
            ),
            1 => (
                "POST",
                format!("{p}/items"),
                json!({"track": tracks[next(2)], "after": null}),
            ),
            _ => {
                let moving = &seeds[next(seeds.len())];
                let body = if moving == anchor {
                    json!({"after": null})
                } else {
                    json!({side: anchor})
                };
                ("PATCH", format!("{p}/items/{moving}"), body)
            }
        };
        inserts += usize::from(method == "POST");
        let token = user.token.clone();
        calls.push(async move {
            let reply = api(addr, &token, method, &path, Some(body.clone()), None).await;
            assert!(
                reply.status == 200 || reply.status == 201,
                "{method} {path} {body}: {:?}",
                reply.json()
            );
            reply.json()["version"].as_i64().unwrap()
        });
    }
    let versions: HashSet<i64> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .collect();
    assert_eq!(
        versions,
        (v0 + 1..=v0 + 40).collect::<HashSet<_>>(),
        "one version per edit"
    );

    // Both nodes answer the same order, with every item exactly once.
    let finals: Vec<Value> = (0..2)
        .map(|i| c.call(i, "GET", &p, Some(&alice.token), None, 200))
        .collect();
    assert_eq!(finals[0], finals[1]);
    let fin = &finals[0];
    assert_eq!(fin["version"], v0 + 40);
    let order = ids(fin);
    assert_eq!(order.len(), seeds.len() + inserts, "{order:?}");
    assert!(
        inserts > 5 && inserts < 35,
        "a mix of inserts and moves: {inserts}"
    );
    assert_eq!(
        order.iter().collect::<HashSet<_>>().len(),
        order.len(),
        "an item twice: {order:?}"
    );
    for s in &seeds {
        assert!(order.contains(s), "seed {s} lost");
    }
    strictly_ordered(fin);

    // Each editor's events (from both nodes), applied in version order to the state read before,
    // give the server's order and version.
    for (who, ws) in [("bob", &mut bob_ws), ("carol", &mut carol_ws)] {
        let events = events_until(ws, v0, v0 + 40).await;
        let mut replica = Replica::of(&start);
        for event in &events {
            replica.apply(event);
        }
        assert_eq!(replica.version, v0 + 40, "{who}");
        assert_eq!(
            Replica::of(fin).order,
            replica.order,
            "{who}'s replica differs"
        );
    }
}

/// A track's owner deletes it: each of its items leaves the playlists as an edit (a version and a
/// `playlist_item_removed` each), heard by an editor on the other node, not silently by cascade.
async fn deleting_a_track_removes_its_items_as_edits(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let pool = c.db.pool();
    let owner: i64 = alice.id.parse().unwrap();
    let (gone, kept) = (
        track(&pool, 501, owner, "gone"),
        track(&pool, 502, owner, "kept"),
    );
    let made = c.call(
        0,
        "POST",
        "/api/v2/playlists",
        Some(&alice.token),
        Some(json!({"name": "Shrinking"})),
        201,
    );
    let p = format!("/api/v2/playlists/{}", made["id"].as_str().unwrap());
    let editor = format!("{p}/editors/{}", bob.id);
    c.call(0, "PUT", &editor, Some(&alice.token), None, 200);
    for t in [&gone, &kept, &gone] {
        let body = json!({"track": t});
        c.call(
            0,
            "POST",
            &format!("{p}/items"),
            Some(&alice.token),
            Some(body),
            201,
        );
    }
    let mut bob_ws = c.ws(1, &bob).await;
    let start = c.call(1, "GET", &p, Some(&bob.token), None, 200);
    let v0 = start["version"].as_i64().unwrap();

    let track_path = format!("/api/v2/tracks/{gone}");
    c.call(0, "DELETE", &track_path, Some(&alice.token), None, 204);

    let fin = c.call(1, "GET", &p, Some(&bob.token), None, 200);
    assert_eq!(fin["version"], v0 + 2, "one edit per removed item");
    let titles: Vec<&str> = fin["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["track"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["kept"]);
    let events = events_until(&mut bob_ws, v0, v0 + 2).await;
    let mut replica = Replica::of(&start);
    for event in &events {
        assert_eq!(event["type"], "playlist_item_removed", "{event}");
        assert_eq!(event["item"]["track"]["id"], gone.as_str(), "{event}");
        replica.apply(event);
    }
    assert_eq!(replica.order, Replica::of(&fin).order);
    c.call(0, "DELETE", &track_path, Some(&alice.token), None, 404);
}

on_both_backends!(
    deleting_a_track_removes_its_items_as_edits,
    members_edit_and_strangers_see_nothing,
    items_are_placed_and_moved_by_fractional_keys,
    a_stale_if_match_gets_409_with_the_current_version,
    two_editors_on_two_nodes_converge,
);
