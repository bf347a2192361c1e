//! Issue 14, the track library: `POST /api/v2/tracks` takes MP3, FLAC, Ogg Vorbis, Ogg Opus and
//! WAV files (made here by real ffmpeg), measures duration and EBU R128 loudness (checked against
//! ffprobe and ffmpeg's `ebur128` filter on the same file) and reads their tags; refuses other
//! and broken files leaving nothing behind; keeps each owner to a quota; hides a track from
//! everyone but its owner; and stores LRC lyrics, answered parsed. Both stores.

mod common;

use common::raw_http::{form, raw, RawReply, BOUNDARY};
use common::server::{config_with, TestServer, TestUser};
use common::{Kind, TestDb};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

async fn post_track(server: &TestServer, user: &TestUser, name: &str, bytes: &[u8]) -> RawReply {
    let auth = format!("Bearer {}", user.token);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let disposition = format!("name=\"file\"; filename=\"{name}\"").into_bytes();
    raw(
        server.addr,
        "POST",
        "/api/v2/tracks",
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &form(&disposition, "audio/mpeg", bytes),
    )
    .await
}

async fn uploaded(server: &TestServer, user: &TestUser, name: &str, bytes: &[u8]) -> Value {
    let reply = post_track(server, user, name, bytes).await;
    assert_eq!(reply.status, 201, "{name}: {:?}", reply.json());
    reply.json()["track"].clone()
}

async fn call(
    server: &TestServer,
    user: &TestUser,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> RawReply {
    let auth = format!("Bearer {}", user.token);
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    raw(server.addr, method, path, &headers, body).await
}

async fn get(server: &TestServer, user: &TestUser, path: &str) -> RawReply {
    call(server, user, "GET", path, &[], b"").await
}

/// A 3 s stereo tone (two frequencies, so the channels differ) encoded by ffmpeg with `codec`
/// into `dir/name`, tagged with `metadata` pairs.
fn tone(dir: &Path, name: &str, codec: &[&str], metadata: &[(&str, &str)]) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "sine=frequency=440:duration=3:sample_rate=44100"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=660:duration=3:sample_rate=44100",
        ])
        .args([
            "-filter_complex",
            "[0:a][1:a]amerge=inputs=2[a]",
            "-map",
            "[a]",
        ]);
    for (k, v) in metadata {
        cmd.args(["-metadata", &format!("{k}={v}")]);
    }
    cmd.args(codec).arg(&out);
    let status = cmd.status().expect("ffmpeg must be installed");
    assert!(status.success(), "ffmpeg failed for {name}");
    out
}

/// The duration ffprobe reads, in ms.
fn probed_ms(path: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse::<f64>().expect("a duration") * 1000.0
}

/// The integrated loudness ffmpeg's `ebur128` filter measures, in LUFS.
fn ffmpeg_lufs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let log = String::from_utf8_lossy(&out.stderr);
    let summary = log.rsplit("Summary:").next().expect("a summary");
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("I:"))
        .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
        .expect("an integrated loudness")
}

/// Every file under `data_dir/tracks` (its `tmp/` aside).
fn stored_files(db: &TestDb) -> Vec<PathBuf> {
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
    let root = db.dir().join("data").join("tracks");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files.retain(|p| !p.starts_with(root.join("tmp")));
    files
}

const TAGS: &[(&str, &str)] = &[
    ("title", "Test Tone"),
    ("artist", "The Oscillators"),
    ("album", "Sines"),
    ("date", "2024"),
    ("track", "7"),
];

async fn each_format_is_decoded_measured_and_tagged(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let formats: &[(&str, &[&str], &str)] = &[
        (
            "tone.mp3",
            &["-c:a", "libmp3lame", "-b:a", "192k"],
            "audio/mpeg",
        ),
        ("tone.flac", &["-c:a", "flac"], "audio/flac"),
        (
            "tone.ogg",
            &["-c:a", "libvorbis", "-q:a", "5"],
            "audio/ogg; codecs=vorbis",
        ),
        (
            "tone.opus",
            &["-c:a", "libopus", "-b:a", "128k"],
            "audio/ogg; codecs=opus",
        ),
        ("tone.wav", &["-c:a", "pcm_s16le"], "audio/wav"),
    ];
    for (name, codec, content_type) in formats {
        let path = tone(dir.path(), name, codec, TAGS);
        let bytes = std::fs::read(&path).unwrap();
        let track = uploaded(&server, &alice, name, &bytes).await;
        assert_eq!(track["content_type"], *content_type, "{name}");
        assert_eq!(track["size"], bytes.len() as i64, "{name}");
        let duration = track["duration_ms"].as_f64().expect("duration");
        let probed = probed_ms(&path);
        assert!(
            (duration - probed).abs() <= 50.0,
            "{name}: {duration} ms, ffprobe {probed} ms"
        );
        let lufs = track["loudness_lufs"].as_f64().expect("loudness");
        let reference = ffmpeg_lufs(&path);
        assert!(
            (lufs - reference).abs() <= 1.0,
            "{name}: {lufs} LUFS, ffmpeg {reference}"
        );
        // WAV's INFO chunk has no album, year or track number field ffmpeg writes.
        assert_eq!(track["title"], "Test Tone", "{name}: {track}");
        assert_eq!(track["artist"], "The Oscillators", "{name}: {track}");
        if *name != "tone.wav" {
            assert_eq!(track["album"], "Sines", "{name}: {track}");
            assert_eq!(track["year"], 2024, "{name}: {track}");
            assert_eq!(track["track_no"], 7, "{name}: {track}");
        }
        // The bytes come back, whole and by range.
        let id = track["id"].as_str().unwrap();
        let audio = get(&server, &alice, &format!("/api/v2/tracks/{id}/audio")).await;
        assert_eq!(audio.status, 200);
        assert_eq!(audio.body, bytes, "{name}");
        let part = call(
            &server,
            &alice,
            "GET",
            &format!("/api/v2/tracks/{id}/audio"),
            &[("Range", "bytes=4-11")],
            b"",
        )
        .await;
        assert_eq!(part.status, 206);
        assert_eq!(part.body, bytes[4..12]);
    }
    let list = get(&server, &alice, "/api/v2/tracks").await.json();
    assert_eq!(list["tracks"].as_array().unwrap().len(), formats.len());
    // Newest first.
    assert_eq!(list["tracks"][0]["filename"], "tone.wav");
}

async fn an_embedded_cover_is_served_as_artwork(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let cover = dir.path().join("cover.png");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "color=c=red:s=32x32", "-frames:v", "1"])
        .arg(&cover)
        .status()
        .unwrap();
    assert!(made.success());
    let out = dir.path().join("covered.mp3");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args(["-i", "sine=frequency=440:duration=2", "-i"])
        .arg(&cover)
        .args([
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-c:a",
            "libmp3lame",
            "-c:v",
            "png",
        ])
        .args([
            "-id3v2_version",
            "3",
            "-metadata:s:v",
            "comment=Cover (front)",
        ])
        .args(["-disposition:v", "attached_pic"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(made.success());
    let track = uploaded(
        &server,
        &alice,
        "covered.mp3",
        &std::fs::read(&out).unwrap(),
    )
    .await;
    let url = track["artwork_url"].as_str().expect("an artwork url");
    let art = get(&server, &alice, url).await;
    assert_eq!(art.status, 200);
    assert_eq!(art.header("content-type"), Some("image/png"));
    assert_eq!(art.body, std::fs::read(&cover).unwrap());
    // Without a cover: no url, and 404.
    let plain = tone(dir.path(), "plain.flac", &["-c:a", "flac"], &[]);
    let track = uploaded(
        &server,
        &alice,
        "plain.flac",
        &std::fs::read(&plain).unwrap(),
    )
    .await;
    assert!(track["artwork_url"].is_null());
    // No title tag: the filename stands in.
    assert_eq!(track["title"], "plain.flac");
    let id = track["id"].as_str().unwrap();
    assert_eq!(
        get(&server, &alice, &format!("/api/v2/tracks/{id}/artwork"))
            .await
            .status,
        404
    );
}

async fn bad_files_are_refused_and_leave_nothing(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_TRACK_MAX_BYTES", "400000")]);
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let dir = tempfile::tempdir().unwrap();

    let text = post_track(
        &server,
        &alice,
        "song.mp3",
        b"this is not audio, only words\n",
    )
    .await;
    assert_eq!(text.status, 415, "{:?}", text.json());
    assert_eq!(text.json()["error"]["code"], "unsupported_media_type");
    let empty = post_track(&server, &alice, "empty.mp3", b"").await;
    assert_eq!(empty.status, 415, "{:?}", empty.json());

    let flac = std::fs::read(tone(dir.path(), "t.flac", &["-c:a", "flac"], &[])).unwrap();
    assert!(
        flac.len() < 400_000,
        "the FLAC must fit under the limit: {}",
        flac.len()
    );
    let cut = post_track(&server, &alice, "cut.flac", &flac[..flac.len() / 2]).await;
    assert_eq!(cut.status, 422, "{:?}", cut.json());
    assert_eq!(cut.json()["error"]["code"], "undecodable");
    // A FLAC header followed by garbage.
    let mut garbage = flac[..200].to_vec();
    garbage.extend(std::iter::repeat_n(0x5a, 50_000));
    let broken = post_track(&server, &alice, "broken.flac", &garbage).await;
    assert_eq!(broken.status, 422, "{:?}", broken.json());

    let wav = std::fs::read(tone(dir.path(), "t.wav", &["-c:a", "pcm_s16le"], &[])).unwrap();
    assert!(wav.len() > 400_000);
    let big = post_track(&server, &alice, "big.wav", &wav).await;
    assert_eq!(big.status, 413, "{:?}", big.json());
    assert_eq!(big.json()["error"]["code"], "too_large");

    assert!(stored_files(&db).is_empty(), "{:?}", stored_files(&db));
    let list = get(&server, &alice, "/api/v2/tracks").await.json();
    assert_eq!(list["tracks"], serde_json::json!([]));
    // The whole FLAC is fine.
    uploaded(&server, &alice, "t.flac", &flac).await;
    assert_eq!(stored_files(&db).len(), 1);
}

async fn the_quota_counts_every_track_of_an_owner(kind: Kind) {
    let db = TestDb::new(kind);
    let dir = tempfile::tempdir().unwrap();
    let flac = std::fs::read(tone(dir.path(), "t.flac", &["-c:a", "flac"], &[])).unwrap();
    let quota = (flac.len() * 3 / 2).to_string();
    let config = config_with(
        &db,
        &[
            ("VEZA_TRACK_MAX_BYTES", &quota),
            ("VEZA_TRACK_QUOTA_BYTES", &quota),
        ],
    );
    let server = TestServer::start_with(&db, config).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let first = uploaded(&server, &alice, "one.flac", &flac).await;
    let refused = post_track(&server, &alice, "two.flac", &flac).await;
    assert_eq!(refused.status, 413, "{:?}", refused.json());
    assert_eq!(refused.json()["error"]["code"], "quota_exceeded");
    // Someone else's quota is their own.
    uploaded(&server, &bob, "bobs.flac", &flac).await;
    // Deleting frees the room, and the files.
    let id = first["id"].as_str().unwrap();
    let deleted = call(
        &server,
        &alice,
        "DELETE",
        &format!("/api/v2/tracks/{id}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(stored_files(&db).len(), 1, "bob's file alone");
    assert_eq!(
        get(&server, &alice, &format!("/api/v2/tracks/{id}"))
            .await
            .status,
        404
    );
    uploaded(&server, &alice, "two.flac", &flac).await;
}

async fn a_track_is_its_owners_alone(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let bob = server.user("bob").await;
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(tone(dir.path(), "t.wav", &["-c:a", "pcm_s16le"], &[])).unwrap();
    let track = uploaded(&server, &alice, "t.wav", &wav).await;
    let id = track["id"].as_str().unwrap();
    for (method, path, body) in [
        ("GET", format!("/api/v2/tracks/{id}"), &b""[..]),
        ("GET", format!("/api/v2/tracks/{id}/audio"), b""),
        ("GET", format!("/api/v2/tracks/{id}/lyrics"), b""),
        (
            "PUT",
            format!("/api/v2/tracks/{id}/lyrics"),
            b"[00:01.00]mine",
        ),
        (
            "PATCH",
            format!("/api/v2/tracks/{id}"),
            br#"{"title":"stolen"}"#,
        ),
        ("DELETE", format!("/api/v2/tracks/{id}"), b""),
    ] {
        let reply = call(
            &server,
            &bob,
            method,
            &path,
            &[("Content-Type", "application/json")],
            body,
        )
        .await;
        assert_eq!(reply.status, 404, "{method} {path}");
    }
    let bobs = get(&server, &bob, "/api/v2/tracks").await.json();
    assert_eq!(bobs["tracks"], serde_json::json!([]));
    assert_eq!(
        get(&server, &alice, &format!("/api/v2/tracks/{id}"))
            .await
            .json()["title"],
        "t.wav"
    );
}

async fn tags_are_edited_and_pages_follow_each_other(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(tone(dir.path(), "t.wav", &["-c:a", "pcm_s16le"], TAGS)).unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(uploaded(&server, &alice, &format!("t{i}.wav"), &wav).await["id"].clone());
    }
    let id = ids[0].as_str().unwrap();
    let path = format!("/api/v2/tracks/{id}");
    let json = [("Content-Type", "application/json")];
    let edited = call(
        &server,
        &alice,
        "PATCH",
        &path,
        &json,
        br#"{"title":" New name ","artist":""}"#,
    )
    .await;
    assert_eq!(edited.status, 200, "{:?}", edited.json());
    assert_eq!(edited.json()["title"], "New name");
    assert!(edited.json()["artist"].is_null());
    for bad in [&br#"{"title":""}"#[..], br#"{"album":"a\u0007b"}"#] {
        let refused = call(&server, &alice, "PATCH", &path, &json, bad).await;
        assert_eq!(refused.status, 422, "{:?}", refused.json());
    }
    let long = format!(r#"{{"album":"{}"}}"#, "x".repeat(301));
    assert_eq!(
        call(&server, &alice, "PATCH", &path, &json, long.as_bytes())
            .await
            .status,
        422
    );

    let first = get(&server, &alice, "/api/v2/tracks?limit=2").await.json();
    let page: Vec<_> = first["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(page, vec![ids[2].clone(), ids[1].clone()]);
    let next = first["next_before"].as_str().expect("a next page");
    let second = get(
        &server,
        &alice,
        &format!("/api/v2/tracks?limit=2&before={next}"),
    )
    .await
    .json();
    let page: Vec<_> = second["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].clone())
        .collect();
    assert_eq!(page, vec![ids[0].clone()]);
    assert!(second.get("next_before").is_none());
    assert_eq!(
        get(&server, &alice, "/api/v2/tracks?limit=0").await.status,
        422
    );
}

async fn lyrics_round_trip_parsed_and_errors_name_their_line(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let alice = server.user("alice").await;
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(tone(dir.path(), "t.wav", &["-c:a", "pcm_s16le"], &[])).unwrap();
    let track = uploaded(&server, &alice, "t.wav", &wav).await;
    let id = track["id"].as_str().unwrap();
    let path = format!("/api/v2/tracks/{id}/lyrics");
    assert_eq!(get(&server, &alice, &path).await.status, 404);

    let lrc = "[ar:Someone]\n[offset:+100]\n[00:01.10][00:02.60]Hello\n[00:02.00]<00:02.00>big <00:02.30>world\n";
    let put = call(
        &server,
        &alice,
        "PUT",
        &path,
        &[("Content-Type", "text/plain")],
        lrc.as_bytes(),
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.json());
    let got = get(&server, &alice, &path).await.json();
    assert_eq!(got, put.json());
    assert_eq!(got["lrc"], lrc);
    let lines: Vec<(i64, &str)> = got["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["time_ms"].as_i64().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        vec![(1_000, "Hello"), (1_900, "big world"), (2_500, "Hello")]
    );
    assert_eq!(got["lines"][1]["words"][1]["time_ms"], 2_200);
    let shown = get(&server, &alice, &format!("/api/v2/tracks/{id}"))
        .await
        .json();
    assert_eq!(shown["has_lyrics"], true);

    let bad = "[00:01.00]fine\n[00:99.00]bad seconds\n";
    let refused = call(&server, &alice, "PUT", &path, &[], bad.as_bytes()).await;
    assert_eq!(refused.status, 422, "{:?}", refused.json());
    assert_eq!(refused.json()["error"]["code"], "invalid_lyrics");
    assert!(refused.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("line 2"));
    // The refused text replaced nothing.
    assert_eq!(get(&server, &alice, &path).await.json()["lrc"], lrc);

    let gone = call(&server, &alice, "DELETE", &path, &[], b"").await;
    assert_eq!(gone.status, 204);
    assert_eq!(get(&server, &alice, &path).await.status, 404);
}

on_both_backends!(
    each_format_is_decoded_measured_and_tagged,
    an_embedded_cover_is_served_as_artwork,
    bad_files_are_refused_and_leave_nothing,
    the_quota_counts_every_track_of_an_owner,
    a_track_is_its_owners_alone,
    tags_are_edited_and_pages_follow_each_other,
    lyrics_round_trip_parsed_and_errors_name_their_line,
);
