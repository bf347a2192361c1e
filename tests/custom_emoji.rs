//! Issue 12, custom emoji: room moderators upload PNG/GIF/WebP images (sniffed, fully decoded,
//! shrunk to 128 px) under a `:shortcode:`, admins the server-wide ones; members see them in
//! messages (the `emoji` list of MESSAGE, live and in history) and react with them (the `reaction`
//! delta carries the image's `url`); an unknown `:shortcode:` reaction is refused. Both stores.

mod common;

use common::cluster::Cluster;
use common::http::call;
use common::raw_http::{raw, RawReply};
use common::server::{as_user, TestServer, TestUser};
use common::{last_audit_details, Kind, TestDb};
use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use serde_json::{json, Value};
use std::io::Cursor;
use std::net::SocketAddr;
use veza::auth::Role;

/// `user` PUTs `image` at `path` (under `/api/v2`), claiming it is a PNG whatever it is.
async fn upload(server: &TestServer, user: &TestUser, path: &str, image: &[u8]) -> RawReply {
    let auth = format!("Bearer {}", user.token);
    raw(
        server.addr,
        "PUT",
        &format!("/api/v2{path}"),
        &[("Authorization", &auth), ("Content-Type", "image/png")],
        image,
    )
    .await
}

fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x * 7) as u8, (y * 13) as u8, 90, 255])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut out), format)
        .expect("encode");
    out
}

/// A PNG of noise (which does not compress): `side` 240 is under 256 KiB, 300 over.
fn noise_png(side: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let img = RgbaImage::from_fn(side, side, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        Rgba(seed.to_le_bytes())
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("encode");
    out
}

/// Uploads `code` to `room` as `user`: the emoji's JSON.
async fn room_emoji(server: &TestServer, user: &TestUser, room: &str, code: &str) -> Value {
    let made = upload(
        server,
        user,
        &format!("/rooms/{room}/emoji/{code}"),
        &encoded(32, 32, ImageFormat::Png),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    made.json()["emoji"].clone()
}

async fn fetch(server: &TestServer, url: &str) -> RawReply {
    raw(server.addr, "GET", url, &[], b"").await
}

async fn good_images_are_stored_and_served_shrunk_when_large(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "party", false).await;

    let made = upload(
        &server,
        &alice,
        &format!("/rooms/{room}/emoji/Party"),
        &encoded(300, 200, ImageFormat::Png),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    let emoji = &made.json()["emoji"];
    assert_eq!(emoji["shortcode"], "party", "folded to lowercase");
    assert_eq!(
        (emoji["width"].as_i64(), emoji["height"].as_i64()),
        (Some(128), Some(85))
    );
    assert_eq!(emoji["room"], room.as_str());
    let url = emoji["url"].as_str().expect("url").to_owned();
    assert!(url.starts_with("/emoji/"), "{url}");
    let details = last_audit_details(&server.state.pool, "emoji.created");
    assert_eq!(details["shortcode"], "party");

    let image = fetch(&server, &url).await;
    assert_eq!(image.status, 200);
    assert_eq!(image.header("content-type"), Some("image/png"));
    assert_eq!(image.header("x-content-type-options"), Some("nosniff"));
    // A room's emoji: cached by the browser, not by shared caches.
    assert_eq!(
        image.header("cache-control"),
        Some("private, max-age=31536000, immutable")
    );
    assert_eq!(
        image.header("content-security-policy"),
        Some("default-src 'none'")
    );
    let decoded = image::load_from_memory(&image.body).expect("a PNG");
    assert_eq!((decoded.width(), decoded.height()), (128, 85));

    // Near the 256 KiB limit (past the 64 KiB of JSON bodies) is fine.
    let near = noise_png(240);
    assert!(
        (200 * 1024..256 * 1024).contains(&near.len()),
        "{}",
        near.len()
    );
    let made = upload(
        &server,
        &alice,
        &format!("/rooms/{room}/emoji/noise"),
        &near,
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    assert_eq!(made.json()["emoji"]["width"], 128);

    // A small GIF is kept byte for byte, and so is a WebP.
    let gif = encoded(40, 20, ImageFormat::Gif);
    let made = upload(&server, &alice, &format!("/rooms/{room}/emoji/wave"), &gif).await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    let served = fetch(&server, made.json()["emoji"]["url"].as_str().unwrap()).await;
    assert_eq!(served.header("content-type"), Some("image/gif"));
    assert_eq!(served.body, gif);
    let webp = encoded(16, 16, ImageFormat::WebP);
    let made = upload(&server, &alice, &format!("/rooms/{room}/emoji/blob"), &webp).await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    let served = fetch(&server, made.json()["emoji"]["url"].as_str().unwrap()).await;
    assert_eq!(served.header("content-type"), Some("image/webp"));
    assert_eq!(served.body, webp);

    for unknown in ["/emoji/12345", "/emoji/nope"] {
        assert_eq!(fetch(&server, unknown).await.status, 404, "{unknown}");
    }
}

async fn bad_uploads_are_refused_with_clear_codes(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "party", false).await;
    let path = |code: &str| format!("/rooms/{room}/emoji/{code}");
    let png = encoded(32, 32, ImageFormat::Png);
    let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00".to_vec();
    let long = "x".repeat(33);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("big", noise_png(300), 413, "too_large"),
        ("jpeg", jpeg, 415, "unsupported_media_type"),
        (
            "text",
            b"not an image at all".to_vec(),
            415,
            "unsupported_media_type",
        ),
        ("cut", png[..png.len() - 30].to_vec(), 422, "invalid_image"),
        ("a", png.clone(), 422, "validation_failed"),
        ("has.dot", png.clone(), 422, "validation_failed"),
        (&long, png.clone(), 422, "validation_failed"),
    ];
    for (code, body, status, error) in cases {
        let r = upload(&server, &alice, &path(code), &body).await;
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (status, Some(error)),
            "{code}: {:?}",
            r.json()
        );
    }
    // Far past the limit: cut off while it is read, before any image check.
    let r = upload(&server, &alice, &path("huge"), &vec![0u8; 2 << 20]).await;
    assert_eq!(
        (r.status, r.json()["error"]["message"].as_str()),
        (413, Some("request body too large"))
    );
    let listed = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/emoji"),
        None,
    )
    .await;
    assert_eq!(listed.body["emoji"], json!([]), "nothing was stored");

    room_emoji(&server, &alice, &room, "party").await;
    let again = upload(&server, &alice, &path("PARTY"), &png).await;
    assert_eq!(
        (again.status, again.json()["error"]["code"].as_str()),
        (409, Some("shortcode_taken"))
    );
}

async fn only_moderators_manage_a_rooms_emoji(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let public = server.room(&alice, "party", false).await;
    let private = server.room(&alice, "secret", true).await;
    let mut b = server.ws(&bob).await;
    b.join(&public).await;
    let png = encoded(32, 32, ImageFormat::Png);
    let member = upload(&server, &bob, &format!("/rooms/{public}/emoji/mine"), &png).await;
    assert_eq!(member.status, 403, "{:?}", member.json());
    let outsider = upload(&server, &bob, &format!("/rooms/{private}/emoji/mine"), &png).await;
    assert_eq!(outsider.status, 404, "{:?}", outsider.json());
    let listed = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{private}/emoji"),
        None,
    )
    .await;
    assert_eq!(listed.status, 404);
    let server_wide = upload(&server, &bob, "/emoji/mine", &png).await;
    assert_eq!(server_wide.status, 403, "{:?}", server_wide.json());

    room_emoji(&server, &alice, &public, "party").await;
    let path = format!("/api/v2/rooms/{public}/emoji/party");
    assert_eq!(
        as_user(&server, &bob, "DELETE", &path, None).await.status,
        403
    );
    let deleted = as_user(&server, &alice, "DELETE", &path, None).await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert_eq!(
        last_audit_details(&server.state.pool, "emoji.deleted")["shortcode"],
        "party"
    );
    assert_eq!(
        as_user(&server, &alice, "DELETE", &path, None).await.status,
        404
    );
    let listed = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{public}/emoji"),
        None,
    )
    .await;
    assert_eq!(listed.body["emoji"], json!([]));
}

async fn a_room_lists_its_own_and_the_server_wide_emoji(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let admin = server.user_with_role("root", Role::Admin).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "party", false).await;
    let other = server.room(&alice, "other", false).await;
    let png = encoded(32, 32, ImageFormat::Png);
    for code in ["wave", "party"] {
        let made = upload(&server, &admin, &format!("/emoji/{code}"), &png).await;
        assert_eq!(made.status, 201, "{:?}", made.json());
        assert_eq!(made.json()["emoji"]["room"], Value::Null);
        let url = made.json()["emoji"]["url"].as_str().unwrap().to_owned();
        assert_eq!(
            fetch(&server, &url).await.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
    let own = room_emoji(&server, &alice, &room, "party").await;
    room_emoji(&server, &alice, &other, "other").await;

    let listed = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{room}/emoji"),
        None,
    )
    .await;
    assert_eq!(listed.status, 200);
    let list = listed.body["emoji"].as_array().expect("list").clone();
    let codes: Vec<&str> = list
        .iter()
        .map(|e| e["shortcode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["party", "wave"], "{list:?}");
    assert_eq!(list[0]["url"], own["url"], "the room's own wins");
    assert_eq!(list[1]["room"], Value::Null);

    let global = as_user(&server, &bob, "GET", "/api/v2/emoji", None).await;
    let codes: Vec<&str> = global.body["emoji"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["shortcode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["party", "wave"]);
    let anonymous = call(server.addr, "GET", "/api/v2/emoji", &[], None).await;
    assert_eq!(anonymous.status, 401);

    let gone = as_user(&server, &admin, "DELETE", "/api/v2/emoji/wave", None).await;
    assert_eq!(gone.status, 204);
    let listed = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{room}/emoji"),
        None,
    )
    .await;
    assert_eq!(listed.body["emoji"].as_array().map(Vec::len), Some(1));
}

async fn shortcodes_in_messages_carry_their_images(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let admin = server.user_with_role("root", Role::Admin).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "party", false).await;
    let party = room_emoji(&server, &alice, &room, "party").await;
    let made = upload(
        &server,
        &admin,
        "/emoji/wave",
        &encoded(8, 8, ImageFormat::Png),
    )
    .await;
    let wave = made.json()["emoji"].clone();
    let mut a = server.ws(&alice).await;
    let mut b = server.ws(&bob).await;
    a.join(&room).await;
    b.join(&room).await;

    let acked = a
        .say(&room, "ship it :party: :wave: :nope: :party:", "m1")
        .await;
    let expected = json!([
        {"shortcode": "party", "url": party["url"]},
        {"shortcode": "wave", "url": wave["url"]},
    ]);
    assert_eq!(acked["emoji"], expected, "{acked}");
    let seen = b.recv_type("message").await;
    assert_eq!(seen["message"]["emoji"], expected, "{seen}");
    let plain = a.say(&room, "nothing :nope: here", "m2").await;
    assert!(
        plain.get("emoji").is_none(),
        "absent when there are none: {plain}"
    );

    let history = as_user(
        &server,
        &bob,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    let messages = history.body["messages"].as_array().expect("messages");
    assert_eq!(messages[1]["emoji"], expected, "{messages:?}");
    // Read back from the store, not from the room's ring.
    let pool = server.state.pool.clone();
    let id: veza_actors::RoomId = room.parse().unwrap();
    let stored = actix_web::web::block(move || {
        let conn = &mut *pool.get().unwrap();
        let rows = veza::db::messages::before(conn, id, i64::MAX, 10).unwrap();
        veza::db::messages::views(conn, rows).unwrap()
    })
    .await
    .unwrap();
    let url = party["url"].as_str().unwrap();
    assert_eq!(stored[1].emoji[0].url, url);
    assert!(stored[0].emoji.is_empty());
}

async fn reactions_with_custom_emoji_must_name_one(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "party", false).await;
    let party = room_emoji(&server, &alice, &room, "party").await;
    let mut a = server.ws(&alice).await;
    let mut b = server.ws(&bob).await;
    a.join(&room).await;
    b.join(&room).await;
    let msg = a.say(&room, "react to me", "r1").await;
    let id = msg["id"].as_str().unwrap().to_owned();

    b.send(json!({"type": "react", "message": id, "emoji": ":party:"}))
        .await;
    let delta = a.recv_type("reaction").await;
    assert_eq!(
        (
            delta["emoji"].as_str(),
            delta["added"].as_bool(),
            delta["url"].as_str()
        ),
        (Some(":party:"), Some(true), party["url"].as_str()),
        "{delta}"
    );
    b.send(json!({"type": "react", "message": id, "emoji": "👍"}))
        .await;
    let delta = a.recv_type("reaction").await;
    assert_eq!(delta["emoji"], "👍");
    assert!(delta.get("url").is_none(), "{delta}");

    b.send(json!({"type": "react", "message": id, "emoji": ":nope:", "ref": 9}))
        .await;
    let error = b.recv_type("error").await;
    assert_eq!(
        (
            error["code"].as_str(),
            error["message"].as_str(),
            error["ref"].as_i64()
        ),
        (Some("bad_request"), Some("unknown emoji :nope:"), Some(9)),
        "{error}"
    );
    let history = as_user(
        &server,
        &alice,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    let message = &history.body["messages"][0];
    let emoji: Vec<&str> = message["reactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["emoji"].as_str().unwrap())
        .collect();
    assert_eq!(emoji, [":party:", "👍"], "nothing stored for :nope:");
    assert_eq!(message["emoji"][0]["url"], party["url"]);
}

async fn a_room_holds_at_most_200_emoji(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "party", false).await;
    let png = encoded(8, 8, ImageFormat::Png);
    // 199 straight into the store, the 200th over REST.
    let (pool, ids, owner) = (
        server.state.pool.clone(),
        server.state.ids.clone(),
        alice.id,
    );
    let room_id: veza_actors::RoomId = room.parse().unwrap();
    let bytes = png.clone();
    actix_web::web::block(move || {
        let conn = &mut *pool.get().unwrap();
        for n in 0..199 {
            let code = format!("e{n}");
            let row = veza::db::emoji::NewEmoji {
                id: ids.next_id(),
                room_id: Some(room_id),
                shortcode: &code,
                content_type: "image/png",
                image: &bytes,
                width: 8,
                height: 8,
                created_by: veza_actors::UserId(owner),
                created_at: 1,
            };
            veza::db::emoji::insert(conn, &row).unwrap();
        }
    })
    .await
    .unwrap();
    let last = upload(&server, &alice, &format!("/rooms/{room}/emoji/last"), &png).await;
    assert_eq!(last.status, 201, "{:?}", last.json());
    let over = upload(&server, &alice, &format!("/rooms/{room}/emoji/over"), &png).await;
    assert_eq!(
        (over.status, over.json()["error"]["code"].as_str()),
        (409, Some("quota_exceeded"))
    );
    let other = server.room(&alice, "other", false).await;
    room_emoji(&server, &alice, &other, "over").await;
}

/// An emoji uploaded on node 0 is drawn in a message sent on node 1 and seen on node 0; node 1
/// serves its image too (images live in the store, not in a node's data dir).
async fn an_emoji_uploaded_on_one_node_renders_on_another(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let alice = c.register(0, "alice");
    let bob = c.register(1, "bob");
    let room = c.room(0, &alice, "party");
    let node = |i: usize| SocketAddr::from(([127, 0, 0, 1], c.port(i)));
    let png = encoded(32, 32, ImageFormat::Png);
    let auth = format!("Bearer {}", alice.token);
    let made = raw(
        node(0),
        "PUT",
        &format!("/api/v2/rooms/{room}/emoji/party"),
        &[("Authorization", &auth)],
        &png,
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    let url = made.json()["emoji"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let (mut a, _) = c.joined(0, &alice, &room, None).await;
    let (mut b, _) = c.joined(1, &bob, &room, None).await;
    b.send(json!({"type": "send", "room": room, "body": "ship it :party:", "client_id": "x1"}))
        .await;
    let seen = a.recv_type("message").await;
    assert_eq!(
        seen["message"]["emoji"],
        json!([{"shortcode": "party", "url": url}]),
        "{seen}"
    );
    let image = raw(node(1), "GET", &url, &[], b"").await;
    assert_eq!((image.status, image.body == png), (200, true));
}

on_both_backends!(
    a_room_holds_at_most_200_emoji,
    an_emoji_uploaded_on_one_node_renders_on_another,
    good_images_are_stored_and_served_shrunk_when_large,
    bad_uploads_are_refused_with_clear_codes,
    only_moderators_manage_a_rooms_emoji,
    a_room_lists_its_own_and_the_server_wide_emoji,
    shortcodes_in_messages_carry_their_images,
    reactions_with_custom_emoji_must_name_one,
);
