//! Recordings: a broadcast with silence around a tone is archived, then published normalised to
//! -16 LUFS with the silence trimmed. Measured with ffprobe and ffmpeg's own EBU R128 meter.

mod common;

use actix_web::web;
use common::audio::*;
use common::server::TestServer;
use common::{Kind, TestDb};
use std::path::Path;
use std::process::Command;

/// ffmpeg's EBU R128 integrated loudness of a file, and ffprobe's duration.
fn measure(path: &Path) -> (f64, f64) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let log = String::from_utf8_lossy(&out.stderr);
    let summary = log.rsplit("Summary:").next().unwrap_or("");
    let loudness = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("I:"))
        .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
        .unwrap_or_else(|| panic!("no integrated loudness in: {summary}"));
    let probe = Command::new("ffprobe")
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
    let duration = String::from_utf8_lossy(&probe.stdout)
        .trim()
        .parse()
        .unwrap_or(-1.0);
    (loudness, duration)
}

async fn a_finished_broadcast_is_published_normalised_and_trimmed(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Archive Hour").await;
    let latest = format!("/api/v2/streams/{}/recording", stream.id);
    let (status, _) = http(&server, "GET", &latest, None, None).await;
    assert_eq!(status, 404, "no broadcast, no recording");

    // 2 s of silence, 6 s of a quiet tone (about -23 LUFS), 2 s of silence.
    let ffmpeg = broadcast_lavfi(
        &stream.ingest_url,
        "aevalsrc=exprs=if(between(t\\,2\\,8)\\,0.1*sin(2*PI*440*t)\\,0):s=44100:d=10",
    );
    wait_live(&server, &stream).await;
    let (status, body) = http(&server, "GET", &latest, None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (202, Some("processing")),
        "{body}"
    );

    let file = db.dir().join("recording.mp3");
    let url = format!("http://{}{latest}", server.addr);
    let target = file.clone();
    let got = web::block(move || fetch_when_ready(&url, &target, 30))
        .await
        .unwrap();
    assert_eq!(got, "200 audio/mpeg");
    let size = std::fs::metadata(&file).unwrap().len();
    // Issue 11 item 2: served from disk with ranges, so a player can seek without the whole file.
    let part = common::http::call(
        server.addr,
        "GET",
        &latest,
        &[("Range", "bytes=100-199")],
        None,
    )
    .await;
    assert_eq!(part.status, 206, "{:?}", part.headers);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{size}").as_str())
    );
    assert_eq!(part.header("content-length"), Some("100"));
    assert_eq!(part.header("accept-ranges"), Some("bytes"));
    let (loudness, duration) = web::block(move || measure(&file)).await.unwrap();
    assert!(
        (loudness + 16.0).abs() < 0.5,
        "published at {loudness} LUFS"
    );
    assert!(
        (duration - 6.0).abs() < 0.15,
        "silence trimmed: {duration} s left of 6"
    );

    let (status, list) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}/recordings", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let entry = &list["recordings"][0];
    assert_eq!(entry["status"], "ready", "{list}");
    let source = entry["source_loudness_lufs"].as_f64().unwrap();
    assert!((-26.0..-20.0).contains(&source), "source at {source} LUFS");
    assert!((entry["gain_db"].as_f64().unwrap() - (-16.0 - source)).abs() < 1e-6);
    let trimmed = entry["trimmed_start_seconds"].as_f64().unwrap();
    assert!(
        (trimmed - 2.0).abs() < 0.1,
        "{trimmed} s trimmed at the start"
    );
    let audio = format!("http://{}{}", server.addr, entry["url"].as_str().unwrap());
    let status = web::block(move || {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &audio])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap();
    assert_eq!(status, "200");
    let (status, _) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}/recordings/42", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);
    drop(ffmpeg);
}

on_both_backends!(a_finished_broadcast_is_published_normalised_and_trimmed);
