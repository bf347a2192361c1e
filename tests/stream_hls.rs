//! HLS with real clients: ffmpeg broadcasts, plain HTTP reads the playlists and segments, ffmpeg
//! plays the master playlist live and the whole DVR window once the broadcast has ended.

mod common;

use actix_web::web;
use common::audio::*;
use common::server::TestServer;
use common::{Kind, TestDb};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// GET through the blocking raw client: status and body as text.
async fn get_text(server: &TestServer, path: &str) -> (u16, String) {
    let port = server.addr.port();
    let path = path.to_owned();
    web::block(move || common::process::request(port, "GET", &path, None, None).expect("HTTP"))
        .await
        .unwrap()
}

async fn get_bytes(server: &TestServer, path: &str) -> Vec<u8> {
    let url = format!("http://{}{path}", server.addr);
    web::block(move || {
        let out = Command::new("curl")
            .args(["-sSf", &url])
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {url}");
        out.stdout
    })
    .await
    .unwrap()
}

/// ffmpeg reads `url` for up to `seconds` (0 = all) and decodes it; returns (ok, stderr, seconds decoded).
async fn ffmpeg_decode(url: String, seconds: u32) -> (bool, String, f64) {
    web::block(move || {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-v", "error", "-i", &url]);
        if seconds > 0 {
            cmd.args(["-t", &seconds.to_string()]);
        }
        let out = cmd
            .args(["-ac", "1", "-ar", "8000", "-f", "s16le", "-"])
            .output()
            .expect("ffmpeg");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.stdout.len() as f64 / 2.0 / 8000.0,
        )
    })
    .await
    .unwrap()
}

async fn hls_plays_live_and_the_dvr_window_after_the_end(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "HLS Radio").await;
    let ffmpeg = broadcast(&stream.ingest_url, 9, 440, false);
    wait_live(&server, &stream).await;
    tokio::time::sleep(Duration::from_secs(5)).await;

    let (status, master) = get_text(&server, &format!("/hls/{}/master.m3u8", stream.mount)).await;
    assert_eq!(status, 200, "{master}");
    assert!(master.starts_with("#EXTM3U\n"), "{master}");
    assert_eq!(
        master.matches("#EXT-X-STREAM-INF:").count(),
        5,
        "4 MP3 + 1 AAC: {master}"
    );
    assert!(master.contains("BANDWIDTH=129000,CODECS=\"mp4a.40.34\"\nmp3-128/index.m3u8?sid="));
    assert!(master.contains("CODECS=\"mp4a.40.2\"\naac-128/index.m3u8?sid="));
    assert!(!master.contains("opus"));

    for (variant, ext) in [("mp3-128", "mp3"), ("aac-128", "aac")] {
        let (status, media) = get_text(
            &server,
            &format!("/hls/{}/{variant}/index.m3u8?sid=probe1", stream.mount),
        )
        .await;
        assert_eq!(status, 200);
        assert!(media.contains("#EXT-X-TARGETDURATION:2\n"), "{media}");
        assert!(media.contains("#EXT-X-MEDIA-SEQUENCE:0\n"), "{media}");
        assert!(media.contains("#EXT-X-PROGRAM-DATE-TIME:20"), "{media}");
        assert!(!media.contains("ENDLIST"));
        let durations: Vec<f64> = media
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|l| l.trim_end_matches(',').parse().unwrap())
            .collect();
        assert!(!durations.is_empty(), "{media}");
        assert!(
            durations.iter().all(|d| (1.9..2.1).contains(d)),
            "{durations:?}"
        );
        let segment = get_bytes(
            &server,
            &format!("/hls/{}/{variant}/seg-0.{ext}", stream.mount),
        )
        .await;
        assert_eq!(&segment[..3], b"ID3");
        assert_eq!(
            &segment[20..65],
            b"com.apple.streaming.transportStreamTimestamp\0"
        );
        assert_eq!(
            &segment[65..73],
            &0u64.to_be_bytes(),
            "the first segment starts at 0"
        );
        assert_eq!(segment[73], 0xFF, "frames right after the tag");
    }
    let (_, body) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(body["hls_listeners"], 1, "{body}");

    // ffmpeg plays the master playlist live for several seconds without an error.
    let url = format!("http://{}/hls/{}/master.m3u8", server.addr, stream.mount);
    let (ok, errors, seconds) = ffmpeg_decode(url, 4).await;
    assert!(ok && errors.trim().is_empty(), "ffmpeg: {errors}");
    assert!(seconds > 3.5, "decoded {seconds} s");

    // Bad names never reach the disk.
    for bad in ["seg-0.ts", "..%2f..%2fveza.db", "index.m3u8x"] {
        let (status, _) = get_text(&server, &format!("/hls/{}/mp3-128/{bad}", stream.mount)).await;
        assert_eq!(status, 404, "{bad}");
    }
    let (status, _) = get_text(
        &server,
        &format!("/hls/{}/opus-96/index.m3u8", stream.mount),
    )
    .await;
    assert_eq!(status, 404, "Opus is progressive only");

    // After the end (the source's 9 s run out): ENDLIST, and the whole broadcast is there to
    // rewind through.
    wait_off_air(&server, &stream, 15, "the source's 9 s should have ended").await;
    let (status, media) = get_text(
        &server,
        &format!("/hls/{}/mp3-128/index.m3u8", stream.mount),
    )
    .await;
    assert_eq!(status, 200);
    assert!(media.ends_with("#EXT-X-ENDLIST\n"), "{media}");
    let url = format!(
        "http://{}/hls/{}/mp3-128/index.m3u8",
        server.addr, stream.mount
    );
    let (ok, errors, seconds) = ffmpeg_decode(url, 0).await;
    assert!(ok, "ffmpeg: {errors}");
    assert!(
        (seconds - 9.0).abs() < 0.2,
        "the DVR window holds the broadcast: {seconds} s"
    );
    drop(ffmpeg);
    let (status, _) = get_text(&server, &format!("/hls/{}/master.m3u8", stream.mount)).await;
    assert_eq!(status, 200);
    let (status, _) = get_text(&server, "/hls/no-such-mount/master.m3u8").await;
    assert_eq!(status, 404);
}

/// ffprobe's duration of a file, in seconds.
fn probe_duration(path: &std::path::Path) -> f64 {
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
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(-1.0)
}

async fn clips_are_cut_from_the_dvr_window(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let listener = server.user("listener").await;
    let stream = create_stream(&server, &dj, "Clip Show").await;
    let clips = format!("/api/v2/streams/{}/clips", stream.id);
    // Not live yet: nothing to cut from.
    let (status, body) = http(
        &server,
        "POST",
        &clips,
        Some(&listener.token),
        Some(json!({"from": 3, "to": 0})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_live")),
        "{body}"
    );

    let ffmpeg = broadcast(&stream.ingest_url, 30, 440, false);
    wait_live(&server, &stream).await;
    tokio::time::sleep(Duration::from_secs(7)).await;

    // Bad ranges are 422 and leave nothing behind.
    for bad in [
        json!({"from": 1, "to": 2}),
        json!({"from": 2, "to": 2}),
        json!({"from": 3, "to": -1}),
        json!({"from": "3", "to": 0}),
        json!({"to": 0}),
        json!({"from": 3600, "to": 0}),
    ] {
        let (status, body) = http(
            &server,
            "POST",
            &clips,
            Some(&listener.token),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(status, 422, "{bad} -> {body}");
    }
    let (status, _) = http(
        &server,
        "POST",
        &clips,
        None,
        Some(json!({"from": 3, "to": 0})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = http(
        &server,
        "POST",
        "/api/v2/streams/1/clips",
        Some(&listener.token),
        Some(json!({"from": 3, "to": 0})),
    )
    .await;
    assert_eq!(status, 404);

    // The last 3 s: its end is not segmented yet, so the clip answers 202 first.
    let (status, body) = http(
        &server,
        "POST",
        &clips,
        Some(&listener.token),
        Some(json!({"from": 3, "to": 0})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().unwrap().to_owned();
    assert!(
        (body["duration"].as_f64().unwrap() - 3.0).abs() < 0.01,
        "{body}"
    );
    let (status, pending) = http(&server, "GET", &url, None, None).await;
    assert_eq!(
        (status, pending["status"].as_str()),
        (202, Some("processing"))
    );
    // And a range in the past: [now-6.5, now-2].
    let (status, body) = http(
        &server,
        "POST",
        &clips,
        Some(&listener.token),
        Some(json!({"from": 6.5, "to": 2})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let older = body["url"].as_str().unwrap().to_owned();

    for (url, expected) in [(url, 3.0), (older, 4.5)] {
        let file = db.dir().join(format!("clip-{expected}.mp3"));
        let full = format!("http://{}{url}", server.addr);
        let target = file.clone();
        let got = web::block(move || fetch_when_ready(&full, &target, 10))
            .await
            .unwrap();
        assert_eq!(got, "200 audio/mpeg");
        let duration = web::block(move || probe_duration(&file)).await.unwrap();
        assert!(
            (duration - expected).abs() < 0.1,
            "clip of {expected} s lasts {duration} s"
        );
    }
    let (status, _) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}/clips/123", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);
    drop(ffmpeg);
}

/// Issue 11 item 1: a clip longer than `clip_max_seconds` is refused before any audio is read.
async fn clips_longer_than_the_cap_are_refused(kind: Kind) {
    let db = TestDb::new(kind);
    let config = common::server::config_with(&db, &[("VEZA_CLIP_MAX_SECONDS", "5")]);
    let server = TestServer::start_with(&db, config).await;
    let dj = server.user("deejay").await;
    let listener = server.user("listener").await;
    let stream = create_stream(&server, &dj, "Long Clip Show").await;
    let clips = format!("/api/v2/streams/{}/clips", stream.id);
    // 6 s is within the default cap (300 s) but past this server's 5 s.
    for range in [json!({"from": 6, "to": 0}), json!({"from": 7199, "to": 0})] {
        let (status, body) = http(
            &server,
            "POST",
            &clips,
            Some(&listener.token),
            Some(range.clone()),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("clip_too_long")),
            "{range} -> {body}"
        );
    }
}

on_both_backends!(
    hls_plays_live_and_the_dvr_window_after_the_end,
    clips_are_cut_from_the_dvr_window,
    clips_longer_than_the_cap_are_refused,
);
