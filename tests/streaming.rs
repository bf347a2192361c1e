//! Live audio with real clients: ffmpeg broadcasts over the Icecast protocol, ffprobe and plain HTTP
//! listen. Needs ffmpeg/ffprobe on PATH (scripts/test.sh installs them).

mod common;

use actix_web::web;
use common::audio::*;
use common::server::TestServer;
use common::{Kind, TestDb};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;

async fn every_variant_is_what_it_says(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Jazz Night").await;
    assert!(
        stream.ingest_url.starts_with("icecast://source:"),
        "{}",
        stream.ingest_url
    );
    assert!(stream
        .ingest_url
        .ends_with(&format!("/live/{}", stream.mount)));
    let ffmpeg = broadcast(&stream.ingest_url, 20, 440, false);
    wait_live(&server, &stream).await;
    let probes: Vec<_> = ["mp3-64", "mp3-128", "mp3-192", "mp3-320"]
        .iter()
        .map(|v| {
            actix_rt::spawn(probe(format!(
                "http://{}/live/{}/{v}",
                server.addr, stream.mount
            )))
        })
        .collect();
    for (probe, kbps) in probes.into_iter().zip([64, 128, 192, 320]) {
        let p = probe.await.unwrap();
        assert_eq!(p["codec_name"], "mp3", "{p}");
        assert_eq!(p["sample_rate"], "44100", "{p}");
        assert_eq!(p["channels"], 2, "{p}");
        let rate: f64 = p["bit_rate"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no bit_rate for {kbps}k: {p}"));
        assert!(
            (rate - kbps as f64 * 1000.0).abs() <= kbps as f64 * 100.0,
            "{kbps}k variant reports {rate}"
        );
    }
    // Opus in Ogg at 48 kHz; ffprobe cannot tell a live Ogg stream's bitrate, so check the format
    // and that a second of it decodes cleanly (the Ogg headers reach a listener joining mid-stream).
    let opus = probe(format!(
        "http://{}/live/{}/opus-96",
        server.addr, stream.mount
    ))
    .await;
    assert_eq!(
        (
            opus["codec_name"].as_str(),
            opus["sample_rate"].as_str(),
            opus["channels"].as_i64()
        ),
        (Some("opus"), Some("48000"), Some(2)),
        "{opus}"
    );
    let url = format!("http://{}/live/{}/opus-96", server.addr, stream.mount);
    let decoded = web::block(move || {
        Command::new("ffmpeg")
            .args(["-v", "error", "-i", &url, "-t", "1", "-f", "null", "-"])
            .output()
            .expect("ffmpeg")
    })
    .await
    .unwrap();
    assert!(
        decoded.status.success() && decoded.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let (_, info) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(info["live"], true);
    // AAC-LC in ADTS at the input's rate (48 kHz here).
    let aac = probe(format!(
        "http://{}/live/{}/aac-128",
        server.addr, stream.mount
    ))
    .await;
    assert_eq!(
        (
            aac["codec_name"].as_str(),
            aac["sample_rate"].as_str(),
            aac["channels"].as_i64()
        ),
        (Some("aac"), Some("48000"), Some(2)),
        "{aac}"
    );
    if let Some(rate) = aac["bit_rate"].as_str().and_then(|r| r.parse::<f64>().ok()) {
        assert!(
            (rate - 128_000.0).abs() <= 12_800.0,
            "aac-128 reports {rate}"
        );
    }
    // A variant outside the ladder is a 404, not a guess.
    let (status, body) = http(
        &server,
        "GET",
        &format!("/live/{}/aac-256", stream.mount),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404, "{body}");
    drop(ffmpeg);
}

async fn the_legacy_source_method_works_too(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Old School").await;
    let ffmpeg = broadcast(&stream.ingest_url, 10, 440, true);
    wait_live(&server, &stream).await;
    let p = probe(format!(
        "http://{}/live/{}/mp3-128",
        server.addr, stream.mount
    ))
    .await;
    assert_eq!(p["codec_name"], "mp3");
    drop(ffmpeg);
}

/// Opens a source by hand on the ingest port; returns the status line.
async fn raw_source(
    server: &TestServer,
    mount: &str,
    auth: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> String {
    let addr = server.state.config.ingest_bind;
    let (mount, auth, content_type, body) = (
        mount.to_owned(),
        auth.map(str::to_owned),
        content_type.map(str::to_owned),
        body.to_vec(),
    );
    web::block(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = format!("PUT /live/{mount} HTTP/1.1\r\nHost: x\r\n");
        if let Some(a) = auth {
            head.push_str(&format!("Authorization: Basic {}\r\n", base64_encode(&a)));
        }
        if let Some(c) = content_type {
            head.push_str(&format!("Content-Type: {c}\r\n"));
        }
        head.push_str("\r\n");
        tcp.write_all(head.as_bytes()).unwrap();
        let _ = tcp.write_all(&body);
        let _ = tcp.shutdown(std::net::Shutdown::Write);
        let mut reply = String::new();
        let _ = tcp.read_to_string(&mut reply);
        reply.lines().next().unwrap_or("").to_owned()
    })
    .await
    .unwrap()
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn bad_sources_are_refused_and_others_keep_playing(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let good = create_stream(&server, &dj, "Good").await;
    let other = create_stream(&server, &dj, "Other").await;
    let ffmpeg = broadcast(&good.ingest_url, 15, 440, false);
    wait_live(&server, &good).await;

    let wrong = format!("source:{}", "not-the-key");
    assert!(
        raw_source(&server, &other.mount, Some(&wrong), Some("audio/mpeg"), b"")
            .await
            .contains(" 401 ")
    );
    assert!(
        raw_source(&server, &other.mount, None, Some("audio/mpeg"), b"")
            .await
            .contains(" 401 ")
    );
    let right = format!("source:{}", other.key);
    assert!(raw_source(
        &server,
        "no-such-mount",
        Some(&right),
        Some("audio/mpeg"),
        b""
    )
    .await
    .contains(" 404 "));
    assert!(
        raw_source(&server, &other.mount, Some(&right), Some("video/mp4"), b"")
            .await
            .contains(" 415 ")
    );
    assert!(raw_source(&server, &other.mount, Some(&right), None, b"")
        .await
        .contains(" 415 "));
    // A second source on a live mount.
    let good_auth = format!("source:{}", good.key);
    assert!(raw_source(
        &server,
        &good.mount,
        Some(&good_auth),
        Some("audio/mpeg"),
        b""
    )
    .await
    .contains(" 403 "));
    // Garbage: accepted at first (it claims to be MP3), then ended cleanly.
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let status = raw_source(
        &server,
        &other.mount,
        Some(&right),
        Some("audio/mpeg"),
        &garbage,
    )
    .await;
    assert!(status.contains(" 200 "), "{status}");
    // The good stream never noticed.
    let p = probe(format!(
        "http://{}/live/{}/mp3-128",
        server.addr, good.mount
    ))
    .await;
    assert_eq!(p["codec_name"], "mp3");
    // The right key of an owner who may no longer broadcast (disabled here): 403.
    let pool = server.state.pool.clone();
    let owner = veza_actors::UserId(dj.id);
    web::block(move || veza::db::users::set_disabled(&mut pool.get().unwrap(), owner, true, 1))
        .await
        .unwrap()
        .unwrap();
    let reply = raw_source(&server, &other.mount, Some(&right), Some("audio/mpeg"), b"").await;
    assert!(reply.contains(" 403 "), "{reply}");
    drop(ffmpeg);
}

/// Listens to `path` with `Icy-MetaData: 1` until 80 kB arrived; returns the titles in the ICY
/// blocks. `chunked`: the answer is HTTP/1.1 chunked (the main port), else raw (the Icecast port).
fn icy_titles(addr: std::net::SocketAddr, path: &str, chunked: bool) -> Vec<String> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    let version = if chunked { "1.1" } else { "1.0" };
    write!(
        tcp,
        "GET {path} HTTP/{version}\r\nHost: x\r\nIcy-MetaData: 1\r\n\r\n"
    )
    .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    while data.len() < 80_000 {
        let n = tcp.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let split = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&data[..split]).to_lowercase();
    assert!(head.contains("icy-metaint: 16000"), "{head}");
    let body = if chunked {
        dechunk(&data[split + 4..])
    } else {
        data[split + 4..].to_vec()
    };
    let mut titles = Vec::new();
    let mut i = 16_000;
    while i < body.len() {
        let len = body[i] as usize * 16;
        if len > 0 && i + 1 + len <= body.len() {
            titles.push(
                String::from_utf8_lossy(&body[i + 1..i + 1 + len])
                    .trim_end_matches('\0')
                    .to_owned(),
            );
        }
        i += 1 + len + 16_000;
    }
    titles
}

async fn listeners_are_served_on_the_icecast_port_too(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Icecast Port").await;
    let ffmpeg = broadcast(&stream.ingest_url, 15, 440, false);
    wait_live(&server, &stream).await;
    let ingest = server.state.config.ingest_bind;
    for (variant, codec) in [("mp3-128", "mp3"), ("aac-128", "aac"), ("opus-96", "opus")] {
        let p = probe(format!("http://{ingest}/live/{}/{variant}", stream.mount)).await;
        assert_eq!(p["codec_name"].as_str(), Some(codec), "{variant}: {p}");
    }
    let (status, _) = http(
        &server,
        "PUT",
        &format!("/api/v2/streams/{}/metadata", stream.id),
        Some(&dj.token),
        Some(json!({"title": "On port 8000"})),
    )
    .await;
    assert_eq!(status, 204);
    let path = format!("/live/{}/mp3-128", stream.mount);
    let titles = web::block(move || icy_titles(ingest, &path, false))
        .await
        .unwrap();
    assert!(
        titles.iter().any(|t| t == "StreamTitle='On port 8000';"),
        "{titles:?}"
    );
    // Unknown mounts and variants are 404 there too.
    let (status, _) = web::block(move || {
        common::process::request(ingest.port(), "GET", "/live/nope/mp3-128", None, None).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status, 404);
    drop(ffmpeg);
}

/// Icecast's own metadata call on the ingest port, with the source credentials; the raw reply.
async fn admin_metadata(server: &TestServer, stream: &Stream, song: &str) -> String {
    let addr = server.state.config.ingest_bind;
    let auth = base64_encode(&format!("source:{}", stream.key));
    let req = format!(
        "GET /admin/metadata?mount=/live/{}&mode=updinfo&song={song} HTTP/1.0\r\nAuthorization: Basic {auth}\r\n\r\n",
        stream.mount
    );
    web::block(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.write_all(req.as_bytes()).unwrap();
        let mut reply = String::new();
        tcp.read_to_string(&mut reply).unwrap();
        reply
    })
    .await
    .unwrap()
}

async fn icy_metadata_carries_the_title(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Talk Show").await;
    let ffmpeg = broadcast(&stream.ingest_url, 15, 440, false);
    wait_live(&server, &stream).await;
    // Icecast's own metadata call, on the ingest port, with the source credentials.
    let reply = admin_metadata(&server, &stream, "Miles%20Davis%20-%20So%20What").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    // A listener asking for ICY metadata gets StreamTitle blocks every icy-metaint bytes.
    let main: std::net::SocketAddr = ([127, 0, 0, 1], server.addr.port()).into();
    let path = format!("/live/{}/mp3-128", stream.mount);
    let titles = web::block(move || icy_titles(main, &path, true))
        .await
        .unwrap();
    assert!(
        titles
            .iter()
            .any(|t| t == "StreamTitle='Miles Davis - So What';"),
        "{titles:?}"
    );
    // The REST equivalent, owner only.
    let (status, _) = http(
        &server,
        "PUT",
        &format!("/api/v2/streams/{}/metadata", stream.id),
        Some(&dj.token),
        Some(json!({"title": "Next"})),
    )
    .await;
    assert_eq!(status, 204);
    let stranger = server.user("stranger").await;
    let (status, _) = http(
        &server,
        "PUT",
        &format!("/api/v2/streams/{}/metadata", stream.id),
        Some(&stranger.token),
        Some(json!({"title": "Hijack"})),
    )
    .await;
    assert_eq!(status, 403);
    let (_, info) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(info["now_playing"], "Next");

    // Issue 11 (Low): control characters are stripped on every title path; a line break from
    // Icecast's metadata call used to make main-port listeners fail with 500.
    let reply = admin_metadata(&server, &stream, "Bad%0D%0AX-Injected:%201%07").await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let path = format!("/live/{}/mp3-128", stream.mount);
    let titles = web::block(move || icy_titles(main, &path, true))
        .await
        .unwrap();
    assert!(
        titles
            .iter()
            .any(|t| t == "StreamTitle='BadX-Injected: 1';"),
        "{titles:?}"
    );
    let (_, info) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(info["now_playing"], "BadX-Injected: 1");
    drop(ffmpeg);
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        let start = line_end + 2;
        if size == 0 || start + size > data.len() {
            out.extend_from_slice(&data[start..data.len().min(start + size)]);
            break;
        }
        out.extend_from_slice(&data[start..start + size]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

async fn stream_keys_rotate_for_the_owner_only(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stranger = server.user("stranger").await;
    let stream = create_stream(&server, &dj, "Rotating").await;
    let (status, _) = http(
        &server,
        "POST",
        &format!("/api/v2/streams/{}/key", stream.id),
        Some(&stranger.token),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = http(
        &server,
        "POST",
        &format!("/api/v2/streams/{}/key", stream.id),
        Some(&dj.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new_key = body["stream_key"].as_str().unwrap().to_owned();
    assert_ne!(new_key, stream.key);
    let old = format!("source:{}", stream.key);
    assert!(
        raw_source(&server, &stream.mount, Some(&old), Some("audio/mpeg"), b"")
            .await
            .contains(" 401 ")
    );
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/streams",
        None,
        Some(json!({"title": "x"})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": ""})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, list) = http(&server, "GET", "/api/v2/streams", None, None).await;
    assert_eq!(status, 200);
    assert!(
        list["streams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("stream_key").is_none()),
        "keys are never listed"
    );
}

async fn two_broadcasts_at_once_do_not_interfere(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let a = create_stream(&server, &dj, "Channel A").await;
    let b = create_stream(&server, &dj, "Channel B").await;
    let fa = broadcast(&a.ingest_url, 15, 440, false);
    let fb = broadcast(&b.ingest_url, 15, 1000, false);
    wait_live(&server, &a).await;
    wait_live(&server, &b).await;
    // Each mount carries its own tone: decode a second of each and find the dominant frequency.
    for (stream, freq) in [(&a, 440.0), (&b, 1000.0)] {
        let url = format!("http://{}/live/{}/mp3-320", server.addr, stream.mount);
        let found = web::block(move || dominant_frequency(&url)).await.unwrap();
        assert!(
            (found - freq).abs() < 15.0,
            "{} carries {found} Hz, expected {freq}",
            stream.mount
        );
    }
    let (_, status) = http(&server, "GET", "/api/v2/status", None, None).await;
    assert_eq!(status["live_streams"], 2);
    drop((fa, fb));
}

async fn a_chunked_put_on_the_main_port_works(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Curl Radio").await;
    let script = format!(
        "ffmpeg -hide_banner -loglevel error -re -f lavfi -i sine=frequency=440:sample_rate=44100:duration=10 -ac 2 -c:a libmp3lame -b:a 128k -f mp3 - \
         | curl -sS -T - -H 'Content-Type: audio/mpeg' -u source:{} http://{}/live/{}",
        stream.key, server.addr, stream.mount
    );
    let pipeline = Running(
        Command::new("sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .expect("sh"),
    );
    wait_live(&server, &stream).await;
    let p = probe(format!(
        "http://{}/live/{}/mp3-64",
        server.addr, stream.mount
    ))
    .await;
    assert_eq!(
        (p["codec_name"].as_str(), p["sample_rate"].as_str()),
        (Some("mp3"), Some("44100")),
        "{p}"
    );
    drop(pipeline);
}

async fn a_linked_room_hears_stream_state_and_now_playing(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let room = server.room(&dj, "radio room", false).await;
    let (status, body) = http(
        &server,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": "Live Room", "room_id": room})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["room_id"], room.as_str());
    let (id, ingest) = (
        body["id"].as_str().unwrap().to_owned(),
        body["ingest_url"].as_str().unwrap().to_owned(),
    );
    let mut ws = server.ws(&dj).await;
    ws.join(&room).await;
    let ffmpeg = broadcast(&ingest, 4, 440, false);
    let on = ws.recv_type("stream_state").await;
    assert_eq!(
        (
            on["room"].as_str(),
            on["stream"]["id"].as_str(),
            on["stream"]["live"].as_bool()
        ),
        (Some(room.as_str()), Some(id.as_str()), Some(true)),
        "{on}"
    );
    let (status, _) = http(
        &server,
        "PUT",
        &format!("/api/v2/streams/{id}/metadata"),
        Some(&dj.token),
        Some(json!({"title": "Track 1"})),
    )
    .await;
    assert_eq!(status, 204);
    let playing = ws.recv_type("now_playing").await;
    assert_eq!(playing["title"], "Track 1");
    let off = ws.recv_type("stream_state").await;
    assert_eq!(off["stream"]["live"], false, "{off}");
    drop(ffmpeg);
    // A room id that does not exist is refused at creation.
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": "x", "room_id": "123"})),
    )
    .await;
    assert_eq!(status, 422);
}

async fn a_crashed_session_ends_only_its_own_broadcast(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let a = create_stream(&server, &dj, "Crashes").await;
    let b = create_stream(&server, &dj, "Keeps Going").await;
    let fa = broadcast(&a.ingest_url, 20, 440, false);
    let fb = broadcast(&b.ingest_url, 20, 1000, false);
    wait_live(&server, &a).await;
    wait_live(&server, &b).await;
    let session = server
        .state
        .registry
        .send(veza_actors::registry::FindStream(a.mount.clone()))
        .await
        .unwrap()
        .unwrap();
    session.do_send(veza_actors::stream::Poison);
    // A is off air (and its source dropped), B plays on, the server answers.
    wait_off_air(&server, &a, 5, "the crashed broadcast should be off air").await;
    let url = format!("http://{}/live/{}/mp3-128", server.addr, b.mount);
    let found = web::block(move || dominant_frequency(&url)).await.unwrap();
    assert!((found - 1000.0).abs() < 15.0, "B carries {found} Hz");
    // The mount is free again: the broadcaster reconnects and is live with a fresh session.
    drop(fa);
    let again = broadcast(&a.ingest_url, 10, 660, false);
    wait_live(&server, &a).await;
    let url = format!("http://{}/live/{}/mp3-128", server.addr, a.mount);
    let found = web::block(move || dominant_frequency(&url)).await.unwrap();
    assert!((found - 660.0).abs() < 15.0, "A is back with {found} Hz");
    drop((again, fb));
}

/// Only a room's owner, its moderators and staff may link a stream to it (the stream pushes
/// `stream_state` and `now_playing` into the room); a private room others cannot see is answered
/// exactly like a room that does not exist.
async fn only_room_owners_and_moderators_link_streams(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let mallory = server.user("mallory").await;
    let staff = server
        .user_with_role("sheriff", veza::auth::Role::Moderator)
        .await;
    let secret = server.room(&alice, "secret", true).await;
    let lobby = server.room(&alice, "lobby", false).await;
    let link = |user: &common::server::TestUser, room: &str| {
        let (token, room) = (user.token.clone(), room.to_owned());
        let server = &server;
        async move {
            http(
                server,
                "POST",
                "/api/v2/streams",
                Some(&token),
                Some(json!({"title": "pirate radio", "room_id": room})),
            )
            .await
        }
    };
    let (status, unknown) = link(&mallory, "123").await;
    assert_eq!(status, 422, "{unknown}");
    let (status, hidden) = link(&mallory, &secret).await;
    assert_eq!((status, &hidden), (422, &unknown), "no hint that it exists");
    let (status, body) = link(&mallory, &lobby).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    for (who, room) in [(&alice, &secret), (&alice, &lobby), (&staff, &secret)] {
        let (status, body) = link(who, room).await;
        assert_eq!(status, 201, "{} -> {room}: {body}", who.name);
        assert_eq!(body["room_id"], room.as_str());
    }
}

/// Issue 11 (Low): a live source is rechecked; rotating its key or disabling its owner ends the
/// broadcast (within `ingest_recheck_ms`), on the Icecast port as on the main port.
async fn a_rotated_key_or_a_disabled_owner_ends_the_live_source(kind: Kind) {
    let db = TestDb::new(kind);
    let config = common::server::config_with(&db, &[("VEZA_INGEST_RECHECK_MS", "300")]);
    let server = TestServer::start_with(&db, config).await;
    let dj = server.user("deejay").await;
    let admin = server.user_with_role("root", veza::auth::Role::Admin).await;
    let stream = create_stream(&server, &dj, "Revocable").await;
    let _ffmpeg = broadcast(&stream.ingest_url, 60, 440, false);
    wait_live(&server, &stream).await;
    let (status, body) = http(
        &server,
        "POST",
        &format!("/api/v2/streams/{}/key", stream.id),
        Some(&dj.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    wait_off_air(&server, &stream, 15, "a rotated key must end the source").await;

    // With the new key it goes live again, until the owner is disabled.
    let again = Stream {
        ingest_url: body["ingest_url"].as_str().unwrap().to_owned(),
        ..stream.clone()
    };
    let _ffmpeg = broadcast(&again.ingest_url, 60, 440, false);
    wait_live(&server, &again).await;
    let (status, _) = http(
        &server,
        "POST",
        &format!("/api/v2/admin/users/{}/disable", dj.id),
        Some(&admin.token),
        None,
    )
    .await;
    assert_eq!(status, 204);
    wait_off_air(&server, &again, 15, "a disabled owner's source must end").await;
}

on_both_backends!(
    a_rotated_key_or_a_disabled_owner_ends_the_live_source,
    only_room_owners_and_moderators_link_streams,
    a_crashed_session_ends_only_its_own_broadcast,
    listeners_are_served_on_the_icecast_port_too,
    a_linked_room_hears_stream_state_and_now_playing,
    a_chunked_put_on_the_main_port_works,
    every_variant_is_what_it_says,
    the_legacy_source_method_works_too,
    bad_sources_are_refused_and_others_keep_playing,
    icy_metadata_carries_the_title,
    stream_keys_rotate_for_the_owner_only,
    two_broadcasts_at_once_do_not_interfere,
);
