//! Issue 11 item 1: clips are bounded. A node's clip pool admits `clip_queue` clips at once (then
//! 503 + Retry-After), one user asks for at most `clips_per_user_hour` (then 429), and clips are
//! deleted `clip_expire_seconds` after they are cut. Clips are served from disk with ranges.

mod common;

use common::audio::*;
use common::http::{call, Reply};
use common::server::{config_with, TestServer, TestUser};
use common::{Kind, TestDb};
use serde_json::json;
use std::time::{Duration, Instant};

async fn ask(server: &TestServer, user: &TestUser, clips: &str) -> Reply {
    let bearer = format!("Bearer {}", user.token);
    let body = json!({"from": 1, "to": 0});
    call(
        server.addr,
        "POST",
        clips,
        &[("Authorization", bearer.as_str())],
        Some(&body),
    )
    .await
}

/// Asks for the last second until the DVR window holds it (422 `validation_failed` before);
/// returns the clip's URL.
async fn first_clip(server: &TestServer, user: &TestUser, clips: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = ask(server, user, clips).await;
        match reply.status {
            201 => return reply.body["url"].as_str().expect("url").to_owned(),
            422 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            _ => panic!("clip refused: {reply:?}"),
        }
    }
}

/// Polls `url` (with `headers`) until it is no longer 202.
async fn when_cut(server: &TestServer, url: &str, headers: &[(&str, &str)]) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = call(server.addr, "GET", url, headers, None).await;
        if reply.status != 202 {
            return reply;
        }
        assert!(Instant::now() < deadline, "{url} was never cut");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn live_stream(server: &TestServer, title: &str) -> (Stream, Running) {
    let dj = server.user("deejay").await;
    let stream = create_stream(server, &dj, title).await;
    let ffmpeg = broadcast(&stream.ingest_url, 60, 440, false);
    wait_live(server, &stream).await;
    (stream, ffmpeg)
}

async fn a_full_clip_pool_answers_503_with_retry_after(kind: Kind) {
    let db = TestDb::new(kind);
    // One clip at a time; segments of 4 s keep the first one waiting for its audio a while.
    let config = config_with(
        &db,
        &[("VEZA_CLIP_QUEUE", "1"), ("VEZA_HLS_SEGMENT_SECONDS", "4")],
    );
    let server = TestServer::start_with(&db, config).await;
    let listener = server.user("listener").await;
    let (stream, _ffmpeg) = live_stream(&server, "Busy Clips").await;
    let clips = format!("/api/v2/streams/{}/clips", stream.id);
    let first = first_clip(&server, &listener, &clips).await;

    let busy = ask(&server, &listener, &clips).await;
    assert_eq!(
        (busy.status, busy.body["error"]["code"].as_str()),
        (503, Some("overloaded")),
        "{busy:?}"
    );
    assert_eq!(busy.header("retry-after"), Some("5"));

    // The first clip cut frees its place.
    let done = when_cut(&server, &first, &[]).await;
    assert_eq!(done.status, 200, "{done:?}");
    let again = ask(&server, &listener, &clips).await;
    assert_eq!(again.status, 201, "{again:?}");
}

async fn one_user_gets_clips_per_user_hour_then_429(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_CLIPS_PER_USER_HOUR", "2")]);
    let server = TestServer::start_with(&db, config).await;
    let prober = server.user("prober").await;
    let listener = server.user("listener").await;
    let (stream, _ffmpeg) = live_stream(&server, "Counted Clips").await;
    let clips = format!("/api/v2/streams/{}/clips", stream.id);
    // Someone else waits for the DVR window to fill, so the listener's count starts at 0.
    first_clip(&server, &prober, &clips).await;

    for n in 1..=2 {
        let reply = ask(&server, &listener, &clips).await;
        assert_eq!(reply.status, 201, "clip {n}: {reply:?}");
    }
    let third = ask(&server, &listener, &clips).await;
    assert_eq!(
        (third.status, third.body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{third:?}"
    );
    let wait: u64 = third
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After");
    assert!(wait > 60, "the budget is per hour: retry in {wait} s");
    // The limit is the user's, not everyone's.
    let other = server.user("other").await;
    assert_eq!(ask(&server, &other, &clips).await.status, 201);
}

async fn clips_are_served_with_ranges_and_expire(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_CLIP_EXPIRE_SECONDS", "2")]);
    let server = TestServer::start_with(&db, config).await;
    let listener = server.user("listener").await;
    let (stream, _ffmpeg) = live_stream(&server, "Short-lived Clips").await;
    let clips = format!("/api/v2/streams/{}/clips", stream.id);
    let url = first_clip(&server, &listener, &clips).await;

    let part = when_cut(&server, &url, &[("Range", "bytes=0-99")]).await;
    assert_eq!(part.status, 206, "{part:?}");
    assert!(
        part.header("content-range")
            .is_some_and(|r| r.starts_with("bytes 0-99/")),
        "{part:?}"
    );
    assert_eq!(part.header("content-length"), Some("100"));
    assert_eq!(part.header("content-type"), Some("audio/mpeg"));

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = call(server.addr, "GET", &url, &[], None).await;
        if reply.status == 404 {
            break;
        }
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(Instant::now() < deadline, "the clip never expired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The sweep that deleted the file removes the emptied directory right after.
    let dir = db.dir().join("data").join("clips").join(&stream.id);
    while dir.exists() {
        assert!(
            Instant::now() < deadline,
            "{} is still there",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_backends!(
    a_full_clip_pool_answers_503_with_retry_after,
    one_user_gets_clips_per_user_hour_then_429,
    clips_are_served_with_ranges_and_expire,
);
