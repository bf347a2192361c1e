//! Issue 13, attachments: `POST /api/v2/uploads` (multipart, sniffed, size-limited, under a
//! per-user quota), served with ranges and inert headers to whoever can read the room, carried
//! by messages (`send.attachments`, MESSAGE.attachments live and in history), and swept after
//! the grace period once their message is deleted. Both stores.

mod common;

use common::raw_http::{form, raw, RawReply, BOUNDARY};
use common::server::{as_user, config_with, TestServer, TestUser};
use common::{Kind, TestDb};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use serde_json::{json, Value};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

fn file_part(name: &str) -> Vec<u8> {
    format!("name=\"file\"; filename=\"{name}\"").into_bytes()
}

async fn post_form(server: &TestServer, user: &TestUser, room: &str, body: &[u8]) -> RawReply {
    let auth = format!("Bearer {}", user.token);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    raw(
        server.addr,
        "POST",
        &format!("/api/v2/uploads?room={room}"),
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        body,
    )
    .await
}

/// Uploads `bytes` as `name`, claiming `declared` as its type.
async fn upload(
    server: &TestServer,
    user: &TestUser,
    room: &str,
    name: &str,
    declared: &str,
    bytes: &[u8],
) -> RawReply {
    post_form(server, user, room, &form(&file_part(name), declared, bytes)).await
}

/// Uploads and expects 201: the UPLOAD.
async fn uploaded(
    server: &TestServer,
    user: &TestUser,
    room: &str,
    name: &str,
    bytes: &[u8],
) -> Value {
    let reply = upload(server, user, room, name, "image/png", bytes).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    reply.json()["upload"].clone()
}

async fn get(server: &TestServer, user: &TestUser, path: &str, extra: &[(&str, &str)]) -> RawReply {
    let auth = format!("Bearer {}", user.token);
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    raw(server.addr, "GET", path, &headers, b"").await
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, y| Rgba([x as u8, y as u8, 90, 255]));
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(img)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("encode");
    out
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, (x ^ y) as u8, y as u8]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
        .expect("encode");
    out
}

/// Every file under `data_dir/uploads` (outside its `tmp/`), relative to it.
fn stored_files(db: &TestDb) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = db.dir().join("data").join("uploads");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter_map(|p| p.strip_prefix(&root).ok().map(|r| r.display().to_string()))
        .collect()
}

/// A stored file's name is the server's key: `ab/cd/<digits>` (a thumbnail: `.thumb.png|jpg`).
fn is_server_key(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let hex2 = |s: &str| s.len() == 2 && s.bytes().all(|c| c.is_ascii_hexdigit());
    let name = parts.last().copied().unwrap_or("");
    let id = name
        .strip_suffix(".thumb.png")
        .or_else(|| name.strip_suffix(".thumb.jpg"))
        .unwrap_or(name);
    parts.len() == 3
        && hex2(parts[0])
        && hex2(parts[1])
        && !id.is_empty()
        && id.bytes().all(|c| c.is_ascii_digit())
}

async fn poll_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn good_images_and_pdfs_are_stored_sniffed_and_served(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "files", false).await;

    let picture = png(640, 480);
    let up = uploaded(&server, &alice, &room, "cat.png", &picture).await;
    assert_eq!(up["content_type"], "image/png");
    assert_eq!(up["room"], room.as_str());
    assert_eq!(up["filename"], "cat.png");
    assert_eq!(up["size"], picture.len());
    assert_eq!(
        (up["width"].as_i64(), up["height"].as_i64()),
        (Some(640), Some(480))
    );
    let id = up["id"].as_str().expect("id as a string");
    assert_eq!(up["url"], format!("/api/v2/uploads/{id}/content"));
    assert_eq!(
        up["thumbnail_url"],
        format!("/api/v2/uploads/{id}/thumbnail")
    );

    let body = get(
        &server,
        &alice,
        &format!("/api/v2/uploads/{id}/content"),
        &[],
    )
    .await;
    assert_eq!(body.status, 200);
    assert_eq!(body.body, picture, "the bytes come back as they went");
    assert_eq!(body.header("content-type"), Some("image/png"));
    assert_eq!(body.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        body.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert!(body
        .header("cache-control")
        .unwrap_or("")
        .starts_with("private"));
    assert!(body.header("etag").is_some());
    assert!(
        body.header("content-disposition")
            .unwrap_or("")
            .starts_with("inline; filename=\"cat.png\""),
        "{:?}",
        body.header("content-disposition")
    );

    // The thumbnail: a real image, within 320 px, much smaller than the original.
    let thumb = get(
        &server,
        &alice,
        &format!("/api/v2/uploads/{id}/thumbnail"),
        &[],
    )
    .await;
    assert_eq!(thumb.status, 200);
    let small = image::load_from_memory(&thumb.body).expect("a decodable thumbnail");
    assert_eq!((small.width(), small.height()), (320, 240));
    assert!(
        thumb.body.len() < picture.len() / 2,
        "{} bytes",
        thumb.body.len()
    );
    assert_eq!(thumb.header("x-content-type-options"), Some("nosniff"));

    // A JPEG gets one too.
    let photo = jpeg(1200, 300);
    let up = uploaded(&server, &alice, &room, "beach.jpg", &photo).await;
    assert_eq!(up["content_type"], "image/jpeg");
    let thumb = get(&server, &alice, up["thumbnail_url"].as_str().unwrap(), &[]).await;
    assert_eq!(thumb.status, 200);
    let small = image::load_from_memory(&thumb.body).expect("a decodable thumbnail");
    assert_eq!((small.width(), small.height()), (320, 80));
    assert_eq!(thumb.header("content-type"), Some("image/jpeg"));

    // A PDF: served as an attachment, no thumbnail.
    let up = uploaded(&server, &alice, &room, "report.pdf", PDF).await;
    assert_eq!(up["content_type"], "application/pdf");
    assert!(
        up.get("thumbnail_url").is_none() && up.get("width").is_none(),
        "{up}"
    );
    let id = up["id"].as_str().unwrap();
    let body = get(
        &server,
        &alice,
        &format!("/api/v2/uploads/{id}/content"),
        &[],
    )
    .await;
    assert_eq!(body.status, 200);
    assert_eq!(body.body, PDF);
    assert_eq!(body.header("content-type"), Some("application/pdf"));
    assert!(body
        .header("content-disposition")
        .unwrap_or("")
        .starts_with("attachment;"));
    let none = get(
        &server,
        &alice,
        &format!("/api/v2/uploads/{id}/thumbnail"),
        &[],
    )
    .await;
    assert_eq!(none.status, 404);

    // `<img src>` cannot send headers: the query token works on these GETs...
    let url = format!("/api/v2/uploads/{id}/content?access_token={}", alice.token);
    let by_query = raw(server.addr, "GET", &url, &[], b"").await;
    assert_eq!(by_query.status, 200);
    assert_eq!(by_query.body, PDF);
    let described = raw(
        server.addr,
        "GET",
        &format!("/api/v2/uploads/{id}?access_token={}", alice.token),
        &[],
        b"",
    )
    .await;
    assert_eq!(described.status, 200);
    assert_eq!(described.json()["filename"], "report.pdf");
    // ...and nothing works without a token.
    let anonymous = raw(
        server.addr,
        "GET",
        &format!("/api/v2/uploads/{id}/content"),
        &[],
        b"",
    )
    .await;
    assert_eq!(anonymous.status, 401);
    for file in stored_files(&db) {
        assert!(is_server_key(&file), "{file}");
    }
}

async fn files_past_the_limit_are_refused_with_413_and_leave_nothing(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_UPLOAD_MAX_BYTES", "100000")]);
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "files", false).await;

    // Just over: the declared length passes the first look, the stream is cut at the limit.
    let over = vec![b'a'; 100_001];
    let refused = upload(&server, &alice, &room, "big.txt", "text/plain", &over).await;
    assert_eq!(refused.status, 413, "{:?}", refused.json());
    assert_eq!(refused.json()["error"]["code"], "too_large");
    // Far over: refused from its Content-Length, before the body is read.
    let huge = vec![b'a'; 2_000_000];
    let refused = upload(&server, &alice, &room, "huge.txt", "text/plain", &huge).await;
    assert_eq!(refused.status, 413);
    assert_eq!(refused.json()["error"]["code"], "too_large");
    assert!(stored_files(&db).is_empty(), "{:?}", stored_files(&db));
    // At the limit is fine.
    let exact = vec![b'a'; 100_000];
    let ok = uploaded(&server, &alice, &room, "exact.txt", &exact).await;
    assert_eq!(ok["size"], 100_000);
    assert_eq!(ok["content_type"], "text/plain; charset=utf-8");
}

async fn the_sniffed_type_wins_and_markup_is_never_served_as_a_page(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "files", false).await;

    let pdf = uploaded(&server, &alice, &room, "totally.png", PDF).await;
    assert_eq!(pdf["content_type"], "application/pdf");
    assert!(pdf.get("thumbnail_url").is_none());

    let pages: [&[u8]; 3] = [
        b"<!DOCTYPE html><html><script>fetch('/api/v2/auth/logout')</script></html>",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(document.cookie)'/>",
        b"<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><script>1</script></html>",
    ];
    for (i, page) in pages.into_iter().enumerate() {
        let up = uploaded(&server, &alice, &room, &format!("page{i}.html"), page).await;
        assert_eq!(up["content_type"], "application/octet-stream", "{up}");
        let body = get(&server, &alice, up["url"].as_str().unwrap(), &[]).await;
        assert_eq!(body.status, 200);
        assert_eq!(body.body, page);
        assert_eq!(
            body.header("content-type"),
            Some("application/octet-stream")
        );
        assert!(
            body.header("content-disposition")
                .unwrap_or("")
                .starts_with("attachment;"),
            "{:?}",
            body.header("content-disposition")
        );
        assert_eq!(body.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            body.header("content-security-policy"),
            Some("default-src 'none'; sandbox")
        );
    }
    // A script declared as JavaScript is text at most: never a type a browser would run.
    let script = upload(
        &server,
        &alice,
        &room,
        "x.js",
        "text/javascript",
        b"alert(1)\n",
    )
    .await;
    assert_eq!(script.status, 201);
    assert_eq!(
        script.json()["upload"]["content_type"],
        "text/plain; charset=utf-8"
    );
}

async fn filenames_are_cleaned_and_never_reach_the_disk(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "files", false).await;

    let long = format!("{}.pdf", "x".repeat(3000));
    let cases: Vec<(Vec<u8>, String)> = vec![
        (file_part("../../etc/passwd"), "passwd".into()),
        (file_part("a/b"), "b".into()),
        (file_part(".."), "file".into()),
        (file_part(&long), format!("{}.pdf", "x".repeat(116))),
        (
            b"name=\"file\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%98%80.pdf".to_vec(),
            "résumé 😀.pdf".into(),
        ),
        (b"name=\"file\"".to_vec(), "file".into()),
        // Browsers send the UTF-8 bytes as they are.
        (
            "name=\"file\"; filename=\"na\u{ef}ve \u{65e5}\u{672c}.pdf\""
                .as_bytes()
                .to_vec(),
            "na\u{ef}ve \u{65e5}\u{672c}.pdf".into(),
        ),
    ];
    for (disposition, expected) in cases {
        let reply = post_form(
            &server,
            &alice,
            &room,
            &form(&disposition, "application/pdf", PDF),
        )
        .await;
        assert_eq!(
            reply.status,
            201,
            "{}: {:?}",
            String::from_utf8_lossy(&disposition),
            reply.json()
        );
        let up = reply.json()["upload"].clone();
        assert_eq!(up["filename"], expected.as_str());
        let body = get(&server, &alice, up["url"].as_str().unwrap(), &[]).await;
        let header = body.header("content-disposition").unwrap_or("").to_owned();
        assert!(header.starts_with("attachment; filename=\""), "{header}");
        assert!(!header.contains('/') && !header.contains(".."), "{header}");
    }
    // The UTF-8 name travels as RFC 6266's filename*, with an ASCII fallback.
    let reply = post_form(
        &server,
        &alice,
        &room,
        &form(
            b"name=\"file\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
            "application/pdf",
            PDF,
        ),
    )
    .await;
    let up = reply.json()["upload"].clone();
    let body = get(&server, &alice, up["url"].as_str().unwrap(), &[]).await;
    let header = body.header("content-disposition").unwrap_or("").to_owned();
    assert!(header.contains("filename=\"r_sum_.pdf\""), "{header}");
    assert!(
        header.contains("filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
        "{header}"
    );

    // A NUL in the name: refused as malformed, or cleaned; never stored with it.
    let nul = post_form(
        &server,
        &alice,
        &room,
        &form(
            b"name=\"file\"; filename=\"evil\0.pdf\"",
            "application/pdf",
            PDF,
        ),
    )
    .await;
    assert!(
        nul.status == 201 || (400..500).contains(&nul.status),
        "{}",
        nul.status
    );
    if nul.status == 201 {
        let name = nul.json()["upload"]["filename"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        assert!(!name.contains('\0'), "{name:?}");
    }

    // On disk: only keys the server made from ids.
    let files = stored_files(&db);
    assert!(!files.is_empty());
    for file in files {
        assert!(is_server_key(&file), "{file}");
    }
    assert!(!db.dir().join("etc").exists() && !db.dir().join("data/etc").exists());
}

async fn the_request_shape_is_checked(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "files", false).await;
    // No room.
    let auth = format!("Bearer {}", alice.token);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let body = form(&file_part("a.pdf"), "application/pdf", PDF);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", content_type.as_str()),
    ];
    let no_room = raw(server.addr, "POST", "/api/v2/uploads", &headers, &body).await;
    assert_eq!(no_room.status, 422, "{:?}", no_room.json());
    // A part that is not `file`.
    let wrong = post_form(
        &server,
        &alice,
        &room,
        &form(b"name=\"other\"", "text/plain", b"x"),
    )
    .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.json()["error"]["code"], "validation_failed");
    // Not multipart at all.
    let json_body = raw(
        server.addr,
        "POST",
        &format!("/api/v2/uploads?room={room}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    )
    .await;
    assert!(
        (400..500).contains(&json_body.status),
        "{}",
        json_body.status
    );
    assert!(stored_files(&db).is_empty());
}

async fn strangers_to_a_private_room_get_404(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let secret = server.room(&alice, "secret", true).await;
    let lobby = server.room(&alice, "lobby", false).await;

    let up = uploaded(&server, &alice, &secret, "plan.png", &png(64, 64)).await;
    let id = up["id"].as_str().unwrap().to_owned();
    let mut a = server.ws(&alice).await;
    a.join(&secret).await;
    a.send(
        json!({"type":"send","room":secret,"body":"the plan","client_id":"p1","attachments":[id]}),
    )
    .await;
    a.recv_type("ack").await;

    for path in [
        format!("/api/v2/uploads/{id}"),
        format!("/api/v2/uploads/{id}/content"),
        format!("/api/v2/uploads/{id}/thumbnail"),
    ] {
        let refused = get(&server, &bob, &path, &[]).await;
        assert_eq!(refused.status, 404, "{path}");
        assert_eq!(refused.json()["error"]["code"], "not_found");
        let by_query = raw(
            server.addr,
            "GET",
            &format!("{path}?access_token={}", bob.token),
            &[],
            b"",
        )
        .await;
        assert_eq!(by_query.status, 404, "{path}");
        assert_eq!(get(&server, &alice, &path, &[]).await.status, 200, "{path}");
    }
    // An id that does not exist looks the same.
    assert_eq!(
        get(&server, &bob, "/api/v2/uploads/12345/content", &[])
            .await
            .status,
        404
    );
    // Bob cannot upload into the room either.
    let refused = upload(&server, &bob, &secret, "x.pdf", "application/pdf", PDF).await;
    assert_eq!(refused.status, 404);

    // In a public room, an upload no message carries yet is its owner's alone.
    let draft = uploaded(&server, &alice, &lobby, "draft.pdf", PDF).await;
    let url = draft["url"].as_str().unwrap();
    assert_eq!(get(&server, &bob, url, &[]).await.status, 404);
    assert_eq!(get(&server, &alice, url, &[]).await.status, 200);
}

async fn the_quota_counts_every_upload_of_a_user(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(
        &db,
        &[
            ("VEZA_UPLOAD_MAX_BYTES", "100000"),
            ("VEZA_UPLOAD_QUOTA_BYTES", "150000"),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let room = server.room(&alice, "files", false).await;

    let first = uploaded(&server, &alice, &room, "one.bin", &[7u8; 90_000]).await;
    let refused = upload(
        &server,
        &alice,
        &room,
        "two.bin",
        "application/octet-stream",
        &[7u8; 90_000],
    )
    .await;
    assert_eq!(refused.status, 413, "{:?}", refused.json());
    assert_eq!(refused.json()["error"]["code"], "quota_exceeded");
    // Someone else's quota is their own.
    uploaded(&server, &bob, &room, "bob.bin", &[7u8; 90_000]).await;
    // Taking back an unused upload frees its bytes.
    let id = first["id"].as_str().unwrap();
    let gone = as_user(
        &server,
        &alice,
        "DELETE",
        &format!("/api/v2/uploads/{id}"),
        None,
    )
    .await;
    assert_eq!(gone.status, 204);
    assert_eq!(
        get(&server, &alice, first["url"].as_str().unwrap(), &[])
            .await
            .status,
        404
    );
    uploaded(&server, &alice, &room, "two.bin", &[7u8; 90_000]).await;
    // Only the owner may take one back.
    let theirs = uploaded(&server, &bob, &room, "b2.bin", &[1u8; 10]).await;
    let id = theirs["id"].as_str().unwrap();
    let refused = as_user(
        &server,
        &alice,
        "DELETE",
        &format!("/api/v2/uploads/{id}"),
        None,
    )
    .await;
    assert_eq!(refused.status, 404);
}

async fn range_requests_get_206_with_the_right_bytes(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let room = server.room(&alice, "files", false).await;
    let bytes: Vec<u8> = (0..10_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let up = uploaded(&server, &alice, &room, "letters.txt", &bytes).await;
    let url = up["url"].as_str().unwrap();

    let part = get(&server, &alice, url, &[("Range", "bytes=100-199")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, &bytes[100..200]);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/10000"));
    let tail = get(&server, &alice, url, &[("Range", "bytes=-10")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, &bytes[9_990..]);
    let beyond = get(&server, &alice, url, &[("Range", "bytes=20000-")]).await;
    assert_eq!(beyond.status, 416);
    // Revalidation by ETag.
    let whole = get(&server, &alice, url, &[]).await;
    let etag = whole.header("etag").expect("etag").to_owned();
    let again = get(&server, &alice, url, &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
}

async fn messages_carry_uploads_and_deleting_them_sweeps_the_files(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_UPLOAD_GRACE_S", "1")]);
    let server = TestServer::start_with(&db, config).await;
    let duo = server.duo().await;
    let (alice, bob, room) = (&duo.alice, &duo.bob, duo.room.clone());
    let (mut a, mut b) = (duo.a, duo.b);

    let picture = uploaded(&server, alice, &room, "cat.png", &png(400, 400)).await;
    let pdf = uploaded(&server, alice, &room, "notes.pdf", PDF).await;
    let ids = [
        picture["id"].as_str().unwrap().to_owned(),
        pdf["id"].as_str().unwrap().to_owned(),
    ];
    // Bob cannot see Alice's drafts yet.
    assert_eq!(
        get(&server, bob, picture["url"].as_str().unwrap(), &[])
            .await
            .status,
        404
    );

    a.send(json!({"type":"send","room":room,"body":"","client_id":"m1","attachments":ids}))
        .await;
    let ack = a.recv_type("ack").await;
    let message = ack["message"].clone();
    let list = message["attachments"]
        .as_array()
        .expect("attachments")
        .clone();
    assert_eq!(list.len(), 2, "{message}");
    assert_eq!(list[0]["id"], ids[0].as_str());
    assert_eq!(list[0]["filename"], "cat.png");
    assert_eq!(list[0]["content_type"], "image/png");
    assert_eq!(list[0]["url"], picture["url"]);
    assert_eq!(list[0]["thumbnail_url"], picture["thumbnail_url"]);
    assert_eq!(
        (list[0]["width"].as_i64(), list[0]["height"].as_i64()),
        (Some(400), Some(400))
    );
    assert_eq!(list[1]["content_type"], "application/pdf");
    assert!(list[1].get("thumbnail_url").is_none());
    let delivered = b.recv_type("message").await;
    assert_eq!(
        delivered["message"]["attachments"], message["attachments"],
        "{delivered}"
    );

    // Now Bob may fetch them, and history shows them (REST, a fresh join, a history frame).
    assert_eq!(
        get(&server, bob, picture["url"].as_str().unwrap(), &[])
            .await
            .status,
        200
    );
    let history = as_user(
        &server,
        bob,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    assert_eq!(history.status, 200);
    assert_eq!(
        history.body["messages"][0]["attachments"],
        message["attachments"]
    );
    let mut c = server.ws(bob).await;
    let joined = c.join(&room).await;
    let last = joined["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["attachments"], message["attachments"], "{joined}");
    c.send(json!({"type":"history","room":room})).await;
    let page = c.recv_type("history").await;
    let found = page["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| m["attachments"] == message["attachments"]);
    assert!(found, "{page}");

    // An upload is carried once, by its owner, in its room.
    a.send(
        json!({"type":"send","room":room,"body":"again","client_id":"m2","attachments":[ids[0]]}),
    )
    .await;
    let err = a.recv_type("error").await;
    assert_eq!(err["code"], "bad_request", "{err}");
    let bobs = uploaded(&server, bob, &room, "b.pdf", PDF).await;
    a.send(
        json!({"type":"send","room":room,"body":"theft","client_id":"m3",
                  "attachments":[bobs["id"]]}),
    )
    .await;
    assert_eq!(a.recv_type("error").await["code"], "bad_request");
    let elsewhere = server.room(alice, "other", false).await;
    let moved = uploaded(&server, alice, &elsewhere, "o.pdf", PDF).await;
    a.send(
        json!({"type":"send","room":room,"body":"moved","client_id":"m4",
                  "attachments":[moved["id"]]}),
    )
    .await;
    assert_eq!(a.recv_type("error").await["code"], "bad_request");
    // The refused sends wrote nothing: the next message is the next seq, without attachments.
    let next = a.say(&room, "plain", "m5").await;
    assert_eq!(next["seq"].as_i64(), message["seq"].as_i64().map(|s| s + 1));
    assert!(next.get("attachments").is_none(), "{next}");
    // A message that carries one cannot be taken back by DELETE on the upload.
    let busy = as_user(
        &server,
        alice,
        "DELETE",
        &format!("/api/v2/uploads/{}", ids[0]),
        None,
    )
    .await;
    assert_eq!(busy.status, 409);

    // Deleting the message: gone from view at once, files swept after the grace period.
    let before = stored_files(&db).len();
    let on_disk = |id: &str| {
        stored_files(&db)
            .iter()
            .any(|f| f.ends_with(&format!("/{id}")))
    };
    assert!(on_disk(&ids[0]) && on_disk(&ids[1]));
    a.send(json!({"type":"delete","message":message["id"]}))
        .await;
    a.recv_type("message_deleted").await;
    assert_eq!(
        get(&server, bob, picture["url"].as_str().unwrap(), &[])
            .await
            .status,
        404
    );
    assert_eq!(
        get(&server, alice, pdf["url"].as_str().unwrap(), &[])
            .await
            .status,
        404
    );
    // Still there within the grace period (one second)...
    assert!(on_disk(&ids[0]), "deleted before the grace period was over");
    let history = as_user(
        &server,
        bob,
        "GET",
        &format!("/api/v2/rooms/{room}/messages"),
        None,
    )
    .await;
    let deleted = history.body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["id"] == message["id"])
        .cloned()
        .unwrap_or_default();
    assert_eq!(deleted["deleted"], true);
    assert!(deleted.get("attachments").is_none(), "{deleted}");
    // ...then the rows and the files (image, its thumbnail, the PDF) go.
    let pool = server.state.pool.clone();
    let (first, second): (veza_actors::UploadId, veza_actors::UploadId) =
        (ids[0].parse().unwrap(), ids[1].parse().unwrap());
    poll_until("the swept rows", || {
        let pool = pool.clone();
        async move {
            actix_web::web::block(move || {
                let conn = &mut pool.get().unwrap();
                veza::db::uploads::find(conn, first).unwrap().is_none()
                    && veza::db::uploads::find(conn, second).unwrap().is_none()
            })
            .await
            .unwrap()
        }
    })
    .await;
    poll_until("the swept files", || {
        let gone = stored_files(&db)
            .iter()
            .all(|f| !f.contains(&format!("/{}", ids[0])) && !f.ends_with(&format!("/{}", ids[1])));
        async move { gone }
    })
    .await;
    assert_eq!(
        stored_files(&db).len(),
        before - 3,
        "{:?}",
        stored_files(&db)
    );
    let _kept = (&db, &mut b);
}

on_both_backends!(
    good_images_and_pdfs_are_stored_sniffed_and_served,
    files_past_the_limit_are_refused_with_413_and_leave_nothing,
    the_sniffed_type_wins_and_markup_is_never_served_as_a_page,
    filenames_are_cleaned_and_never_reach_the_disk,
    the_request_shape_is_checked,
    strangers_to_a_private_room_get_404,
    the_quota_counts_every_upload_of_a_user,
    range_requests_get_206_with_the_right_bytes,
    messages_carry_uploads_and_deleting_them_sweeps_the_files,
);
