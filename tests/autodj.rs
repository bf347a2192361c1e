//! Issue 14, AutoDJ: a stream plays a playlist of library tracks through the ladder, crossfading
//! (measured in what a listener decodes), and a live source takes over and gives the air back
//! without a gap: no run of digital silence longer than 50 ms in the decoded output around both
//! switches, the handover within one HLS segment of the source connecting, and HLS timestamps that
//! run on without a jump or a discontinuity. A live source that stalls (connected, sending
//! nothing) gives the air back to the programme without a silence and takes it again when it
//! delivers. Both stores; real ffmpeg encodes the tracks and the
//! live source and decodes the output.

mod common;

use common::audio::{
    broadcast, create_stream, create_stream_with, http, PacedSource, Running, Stream,
};
use common::raw_http::{form, raw, BOUNDARY};
use common::server::{TestServer, TestUser};
use common::{Kind, TestDb};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A stereo sine of `hz` for `seconds`, encoded by ffmpeg with `codec` into `dir/name`.
fn tone(dir: &Path, name: &str, hz: u32, seconds: u32, codec: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!(
            "sine=frequency={hz}:duration={seconds}:sample_rate=44100"
        ))
        .args(["-ac", "2", "-metadata", &format!("title=Tone {hz}")])
        .args(codec)
        .arg(&out)
        .status()
        .expect("ffmpeg must be installed");
    assert!(status.success(), "ffmpeg failed for {name}");
    out
}

async fn upload_track(server: &TestServer, user: &TestUser, path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let auth = format!("Bearer {}", user.token);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let disposition = b"name=\"file\"; filename=\"t\"".to_vec();
    let reply = raw(
        server.addr,
        "POST",
        "/api/v2/tracks",
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &form(&disposition, "application/octet-stream", &bytes),
    )
    .await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    reply.json()["track"]["id"].as_str().unwrap().to_owned()
}

/// A playlist of `tracks`, in that order.
async fn playlist(server: &TestServer, user: &TestUser, tracks: &[String]) -> String {
    let (status, body) = http(
        server,
        "POST",
        "/api/v2/playlists",
        Some(&user.token),
        Some(json!({"name": "Rotation"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    for track in tracks {
        let (status, body) = http(
            server,
            "POST",
            &format!("/api/v2/playlists/{id}/items"),
            Some(&user.token),
            Some(json!({"track": track})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    id
}

async fn autodj(server: &TestServer, user: &TestUser, stream: &Stream) -> Value {
    let (status, body) = http(
        server,
        "GET",
        &format!("/api/v2/streams/{}/autodj", stream.id),
        Some(&user.token),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls the AutoDJ's state until `ready` holds (at most `seconds`).
async fn wait_for(
    server: &TestServer,
    user: &TestUser,
    stream: &Stream,
    seconds: u64,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let state = autodj(server, user, stream).await;
        if ready(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "{what}: {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// ffmpeg decoding a listener URL to raw f32 stereo at 44.1 kHz for `seconds`, in the background.
fn record(url: &str, seconds: u32, into: &Path) -> Running {
    Running(
        Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-i", url, "-t"])
            .arg(seconds.to_string())
            .args(["-ac", "2", "-ar", "44100", "-f", "f32le"])
            .arg(into)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg"),
    )
}

/// Waits for a recording ffmpeg to finish (at most `seconds`) and reads its samples.
async fn finished(mut ffmpeg: Running, path: &Path, seconds: u64) -> Vec<f32> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while ffmpeg.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the recording never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

const RATE: f64 = 44_100.0;

/// The power of `hz` in the left channel of `samples` (Goertzel), relative to a full-scale sine.
fn power_at(samples: &[f32], hz: f64) -> f64 {
    let left: Vec<f64> = samples.iter().step_by(2).map(|s| f64::from(*s)).collect();
    let n = left.len() as f64;
    let w = 2.0 * std::f64::consts::PI * hz / RATE;
    let (mut s1, mut s2) = (0.0, 0.0);
    for x in &left {
        let s = x + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (n * n / 4.0)
}

/// Which tones sound in each 100 ms window: (440 Hz, 1 kHz) above -40 dB of full scale (ffmpeg's
/// `sine` is at -18 dB).
fn tones(samples: &[f32]) -> Vec<(bool, bool)> {
    samples
        .chunks_exact(4410 * 2)
        .map(|w| (power_at(w, 440.0) > 0.0001, power_at(w, 1000.0) > 0.0001))
        .collect()
}

/// The runs of consecutive windows where `pick` holds: (first, past the last).
fn runs_of(windows: &[(bool, bool)], pick: impl Fn(&(bool, bool)) -> bool) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, w) in windows.iter().enumerate() {
        if !pick(w) {
            continue;
        }
        match runs.last_mut() {
            Some((_, end)) if *end == i => *end = i + 1,
            _ => runs.push((i, i + 1)),
        }
    }
    runs
}

/// The runs of consecutive windows where both tones sound: (first, past the last).
fn mixed_runs(windows: &[(bool, bool)]) -> Vec<(usize, usize)> {
    runs_of(windows, |w| w.0 && w.1)
}

/// The longest run of frames whose samples are all zero, in milliseconds.
fn longest_silence_ms(samples: &[f32]) -> f64 {
    let (mut best, mut run) = (0usize, 0usize);
    for frame in samples.chunks_exact(2) {
        if frame[0] == 0.0 && frame[1] == 0.0 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best as f64 * 1000.0 / RATE
}

/// The segments of a media playlist: (name, EXTINF seconds).
fn segments(media: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut duration = None;
    for line in media.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            duration = d.trim_end_matches(',').parse().ok();
        } else if !line.starts_with('#') && !line.is_empty() {
            out.push((line.to_owned(), duration.take().unwrap_or(0.0)));
        }
    }
    out
}

/// The 90 kHz timestamp of a packed-audio HLS segment's ID3 PRIV frame.
fn segment_timestamp(segment: &[u8]) -> u64 {
    assert_eq!(
        &segment[20..65],
        b"com.apple.streaming.transportStreamTimestamp\0"
    );
    u64::from_be_bytes(segment[65..73].try_into().unwrap())
}

async fn get(server: &TestServer, path: &str) -> (u16, Vec<u8>) {
    let reply = raw(server.addr, "GET", path, &[], b"").await;
    (reply.status, reply.body.clone())
}

async fn a_playlist_plays_with_crossfades(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Night Radio").await;
    let dir = tempfile::tempdir().unwrap();
    let a = tone(
        dir.path(),
        "a.mp3",
        440,
        6,
        &["-c:a", "libmp3lame", "-b:a", "192k"],
    );
    let b = tone(dir.path(), "b.flac", 1000, 6, &["-c:a", "flac"]);
    let ids = vec![
        upload_track(&server, &dj, &a).await,
        upload_track(&server, &dj, &b).await,
    ];
    let list = playlist(&server, &dj, &ids).await;

    // Only the owner.
    let stranger = server.user("stranger").await;
    let path = format!("/api/v2/streams/{}/autodj", stream.id);
    let body = json!({"playlist": list, "crossfade_ms": 2000});
    let (status, _) = http(
        &server,
        "PUT",
        &path,
        Some(&stranger.token),
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, reply) = http(
        &server,
        "PUT",
        &path,
        Some(&dj.token),
        Some(json!({"playlist": list, "crossfade_ms": 99_000})),
    )
    .await;
    assert_eq!(status, 422, "{reply}");

    let listener_file = dir.path().join("out.f32");
    let (status, reply) = http(&server, "PUT", &path, Some(&dj.token), Some(body)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["on_air"], true, "{reply}");
    assert_eq!(reply["mode"], "loop");
    let url = format!("http://{}/live/{}/mp3-128", server.addr, stream.mount);
    let listener = record(&url, 12, &listener_file);

    // The second track comes on, announced as it starts.
    let state = wait_for(&server, &dj, &stream, 20, "track 2 never started", |s| {
        s["now"]["track"]["id"] == ids[1].as_str()
    })
    .await;
    assert_eq!(state["now"]["track"]["title"], "Tone 1000");
    assert_eq!(state["now"]["live"], false);
    let (_, info) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(info["live"], true, "{info}");
    assert_eq!(
        info["now_playing"], "Tone 1000",
        "now playing (and so ICY StreamTitle) follows the track: {info}"
    );

    let samples = finished(listener, &listener_file, 30).await;
    assert!(
        samples.len() as f64 > 11.0 * RATE * 2.0,
        "{} samples",
        samples.len()
    );
    let windows = tones(&samples);
    let first_b = windows.iter().position(|w| w.1).expect("1 kHz heard");
    let first_a_only = windows
        .iter()
        .position(|w| w.0 && !w.1)
        .expect("440 Hz heard");
    assert!(first_a_only < first_b, "{windows:?}");
    // Both tones together: the crossfades (2 s; each tone above -40 dB for ~1.7 s of it). The
    // playlist loops, so the recording holds two.
    let runs = mixed_runs(&windows);
    assert!(!runs.is_empty(), "{windows:?}");
    for (from, to) in &runs {
        assert!(
            (13..=21).contains(&(to - from)),
            "crossfade of {} windows of 100 ms: {windows:?}",
            to - from
        );
    }
    assert!(
        windows[runs[0].1..].iter().any(|w| w.1 && !w.0),
        "{windows:?}"
    );
    let silence = longest_silence_ms(&samples[(0.5 * RATE) as usize * 2..]);
    assert!(silence < 50.0, "{silence} ms of digital silence");

    // Skip: the next track (the first again, the playlist loops) within a second or so.
    let (status, _) = http(
        &server,
        "POST",
        &format!("{path}/skip"),
        Some(&dj.token),
        None,
    )
    .await;
    assert_eq!(status, 204);
    wait_for(&server, &dj, &stream, 10, "skip never took", |s| {
        s["now"]["track"]["id"] == ids[0].as_str()
    })
    .await;
    // Queue next: track 2 plays next, after a skip.
    let (status, _) = http(
        &server,
        "POST",
        &format!("{path}/queue"),
        Some(&dj.token),
        Some(json!({"track": ids[1]})),
    )
    .await;
    assert_eq!(status, 204);
    http(
        &server,
        "POST",
        &format!("{path}/skip"),
        Some(&dj.token),
        None,
    )
    .await;
    wait_for(
        &server,
        &dj,
        &stream,
        10,
        "the queued track never came",
        |s| s["now"]["track"]["id"] == ids[1].as_str(),
    )
    .await;

    // Off: the stream goes off air; its settings stay.
    let (status, _) = http(&server, "DELETE", &path, Some(&dj.token), None).await;
    assert_eq!(status, 204);
    common::audio::wait_off_air(&server, &stream, 15, "the AutoDJ should have gone off air").await;
    let state = autodj(&server, &dj, &stream).await;
    assert_eq!(state["enabled"], false);
    assert_eq!(state["on_air"], false);
    let (status, _) = http(
        &server,
        "POST",
        &format!("{path}/skip"),
        Some(&dj.token),
        None,
    )
    .await;
    assert_eq!(status, 409);
}

async fn a_live_source_takes_over_and_gives_the_air_back(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Handover FM").await;
    let dir = tempfile::tempdir().unwrap();
    let a = tone(dir.path(), "a.ogg", 440, 40, &["-c:a", "libvorbis"]);
    let ids = vec![upload_track(&server, &dj, &a).await];
    let list = playlist(&server, &dj, &ids).await;
    let path = format!("/api/v2/streams/{}/autodj", stream.id);
    let (status, reply) = http(
        &server,
        "PUT",
        &path,
        Some(&dj.token),
        Some(json!({"playlist": list, "crossfade_ms": 0, "handover_ms": 500})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    wait_for(&server, &dj, &stream, 10, "AutoDJ never played", |s| {
        s["now"]["track"]["id"] == ids[0].as_str()
    })
    .await;

    // A listener from before the takeover to after the return.
    let out = dir.path().join("out.f32");
    let url = format!("http://{}/live/{}/mp3-128", server.addr, stream.mount);
    let listener = record(&url, 16, &out);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The live source: 1 kHz for 6 s.
    let source = broadcast(&stream.ingest_url, 6, 1000, false);
    let on = wait_for(
        &server,
        &dj,
        &stream,
        15,
        "the live source never took over",
        |s| s["now"]["live"] == true,
    )
    .await;
    // From the source's first audio to the start of the handover: within one HLS segment (2 s).
    let waited = on["now"]["live_waited_s"].as_f64().unwrap();
    eprintln!("handover started {waited:.3} s after the source connected");
    assert!(waited < 2.0, "the handover waited {waited} s");
    // A second source meanwhile is refused, on the main port's PUT /live.
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("source:{}", stream.key))
    };
    let reply = raw(
        server.addr,
        "PUT",
        &format!("/live/{}", stream.mount),
        &[
            ("Authorization", &format!("Basic {basic}")),
            ("Content-Type", "audio/mpeg"),
        ],
        b"",
    )
    .await;
    assert_eq!(reply.status, 403, "{:?}", reply.json());
    wait_for(
        &server,
        &dj,
        &stream,
        20,
        "the AutoDJ never came back",
        |s| s["now"]["live"] == false,
    )
    .await;
    drop(source);

    let samples = finished(listener, &out, 40).await;
    assert!(
        samples.len() as f64 > 15.0 * RATE * 2.0,
        "{} samples",
        samples.len()
    );
    let windows = tones(&samples);
    let live_from = windows
        .iter()
        .position(|w| w.1 && !w.0)
        .expect("the live source heard");
    let live_to = windows.iter().rposition(|w| w.1 && !w.0).unwrap();
    assert!(
        windows[..live_from].iter().any(|w| w.0 && !w.1),
        "AutoDJ before: {windows:?}"
    );
    assert!(
        windows[live_to..].iter().any(|w| w.0 && !w.1),
        "AutoDJ after: {windows:?}"
    );
    assert!(live_to - live_from >= 40, "about 6 s of live: {windows:?}");
    let silence = longest_silence_ms(&samples[(0.5 * RATE) as usize * 2..]);
    eprintln!("longest digital silence around the switches: {silence:.2} ms; handovers (100 ms windows): {:?}", mixed_runs(&windows));
    assert!(
        silence < 50.0,
        "{silence} ms of digital silence around the switches"
    );
    // The two handovers (500 ms each): two short runs of windows where both tones sound.
    let runs = mixed_runs(&windows);
    assert_eq!(runs.len(), 2, "two handovers: {runs:?} in {windows:?}");
    for (from, to) in &runs {
        assert!(
            to - from <= 7,
            "a handover of {} windows of 100 ms",
            to - from
        );
    }

    // HLS across both switches: timestamps run on, segment after segment, no discontinuity.
    let (status, media) = get(
        &server,
        &format!("/hls/{}/mp3-128/index.m3u8", stream.mount),
    )
    .await;
    assert_eq!(status, 200);
    let media = String::from_utf8(media).unwrap();
    assert!(!media.contains("DISCONTINUITY"), "{media}");
    let segs = segments(&media);
    assert!(segs.len() >= 8, "{media}");
    let mut expected = None;
    let mut worst_jump = 0;
    for (name, duration) in &segs {
        let (status, bytes) = get(&server, &format!("/hls/{}/mp3-128/{name}", stream.mount)).await;
        assert_eq!(status, 200, "{name}");
        let ts = segment_timestamp(&bytes);
        if let Some(expected) = expected {
            let jump = (ts as i64 - expected as i64).abs();
            worst_jump = worst_jump.max(jump);
            assert!(
                jump <= 2400,
                "{name}: timestamp {ts}, expected {expected} (one MP3 frame is 2351)"
            );
        }
        expected = Some(ts + (duration * 90_000.0).round() as u64);
    }
    eprintln!("{} HLS segments, largest timestamp gap from the previous segment's end: {worst_jump} ticks of 90 kHz", segs.len());
}

/// Polls the stream's `now_playing` until it is `title` (at most 10 s).
async fn wait_title(server: &TestServer, stream: &Stream, title: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = format!("/api/v2/streams/{}", stream.id);
        let (_, info) = http(server, "GET", &path, None, None).await;
        if info["now_playing"] == title {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "now_playing never {title}: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_stalled_live_source_falls_back_to_the_programme(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Stall FM").await;
    let dir = tempfile::tempdir().unwrap();
    let a = tone(dir.path(), "a.ogg", 440, 60, &["-c:a", "libvorbis"]);
    let ids = vec![upload_track(&server, &dj, &a).await];
    let list = playlist(&server, &dj, &ids).await;
    let path = format!("/api/v2/streams/{}/autodj", stream.id);
    let (status, reply) = http(
        &server,
        "PUT",
        &path,
        Some(&dj.token),
        Some(json!({"playlist": list, "crossfade_ms": 0, "handover_ms": 500})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    wait_for(&server, &dj, &stream, 10, "AutoDJ never played", |s| {
        s["now"]["track"]["id"] == ids[0].as_str()
    })
    .await;
    let live_mp3 = tone(
        dir.path(),
        "live.mp3",
        1000,
        40,
        &["-c:a", "libmp3lame", "-b:a", "192k"],
    );
    let live_mp3 = std::fs::read(live_mp3).unwrap();

    // A listener from before the takeover to after the source leaves.
    let out = dir.path().join("out.f32");
    let url = format!("http://{}/live/{}/mp3-128", server.addr, stream.mount);
    let listener = record(&url, 26, &out);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let source = PacedSource::start(server.state.config.ingest_bind, &stream, live_mp3, 40);
    wait_for(
        &server,
        &dj,
        &stream,
        15,
        "the source never took over",
        |s| s["now"]["live"] == true,
    )
    .await;
    wait_title(&server, &stream, "Stall FM").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    // The source stalls: connected, sending nothing. The programme comes back, titled.
    source.stall();
    let stalled_at = Instant::now();
    wait_for(&server, &dj, &stream, 5, "no fallback on the stall", |s| {
        s["now"]["live"] == false
    })
    .await;
    let fallback = stalled_at.elapsed();
    wait_title(&server, &stream, "Tone 440").await;
    // Still attached: the mount is busy for a second source.
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("source:{}", stream.key))
    };
    let second = raw(
        server.addr,
        "PUT",
        &format!("/live/{}", stream.mount),
        &[
            ("Authorization", &format!("Basic {basic}")),
            ("Content-Type", "audio/mpeg"),
        ],
        b"",
    )
    .await;
    assert_eq!(second.status, 403, "{:?}", second.json());
    // A stall of several seconds.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(autodj(&server, &dj, &stream).await["now"]["live"], false);

    // It delivers again: it takes over again.
    source.resume();
    let resumed_at = Instant::now();
    wait_for(
        &server,
        &dj,
        &stream,
        10,
        "no takeover after the stall",
        |s| s["now"]["live"] == true,
    )
    .await;
    let again = resumed_at.elapsed();
    wait_title(&server, &stream, "Stall FM").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(source);
    wait_for(
        &server,
        &dj,
        &stream,
        10,
        "the AutoDJ never came back",
        |s| s["now"]["live"] == false,
    )
    .await;
    eprintln!(
        "fallback seen {:.0} ms after the stall began, takeover {:.0} ms after it resumed (50 ms polls)",
        fallback.as_secs_f64() * 1000.0,
        again.as_secs_f64() * 1000.0
    );

    let samples = finished(listener, &out, 40).await;
    assert!(
        samples.len() as f64 > 25.0 * RATE * 2.0,
        "{} samples",
        samples.len()
    );
    let windows = tones(&samples);
    let silence = longest_silence_ms(&samples[(0.5 * RATE) as usize * 2..]);
    eprintln!(
        "longest digital silence: {silence:.2} ms; live runs {:?}, switches {:?} (100 ms windows)",
        runs_of(&windows, |w| w.1 && !w.0),
        mixed_runs(&windows)
    );
    assert!(silence < 50.0, "{silence} ms of digital silence");
    // Live, then the programme through the stall, then live again, then the programme.
    let live = runs_of(&windows, |w| w.1 && !w.0);
    assert_eq!(
        live.len(),
        2,
        "live before and after the stall: {windows:?}"
    );
    let programme = runs_of(&windows, |w| w.0 && !w.1);
    assert!(programme[0].1 <= live[0].0, "AutoDJ before: {windows:?}");
    let during = programme
        .iter()
        .find(|r| r.0 >= live[0].1 && r.1 <= live[1].0)
        .expect("the programme during the stall");
    assert!(
        during.1 - during.0 >= 30,
        "about 4 s of programme in the stall: {windows:?}"
    );
    assert!(
        programme.iter().any(|r| r.0 >= live[1].1),
        "AutoDJ after: {windows:?}"
    );
    // Four switches, each a short crossfade.
    let runs = mixed_runs(&windows);
    assert_eq!(runs.len(), 4, "{runs:?} in {windows:?}");
    assert!(runs.iter().all(|(from, to)| to - from <= 7), "{runs:?}");
}

/// A track of 440 Hz for 2 s, then 1 kHz for 2 s (MP3).
fn two_tones(dir: &Path) -> PathBuf {
    let out = dir.join("lyrics.mp3");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2:sample_rate=44100",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:duration=2:sample_rate=44100",
        ])
        .args([
            "-filter_complex",
            "[0:a][1:a]concat=n=2:v=0:a=1,pan=stereo|c0=c0|c1=c0[a]",
        ])
        .args([
            "-map",
            "[a]",
            "-metadata",
            "title=Two tones",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "192k",
        ])
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    out
}

async fn lyrics_follow_the_stream_clock(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let fan = server.user("fan").await;
    let room = server.room(&dj, "studio", false).await;
    let stream =
        create_stream_with(&server, &dj, json!({"title": "Karaoke", "room_id": room})).await;
    let dir = tempfile::tempdir().unwrap();
    let track = upload_track(&server, &dj, &two_tones(dir.path())).await;
    let lrc = "[ti:Two tones]\n[00:00.50]low <00:01.00>tone\n[00:02.00]high tone\n";
    let reply = raw(
        server.addr,
        "PUT",
        &format!("/api/v2/tracks/{track}/lyrics"),
        &[
            ("Authorization", &format!("Bearer {}", dj.token)),
            ("Content-Type", "text/plain"),
        ],
        lrc.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let list = playlist(&server, &dj, std::slice::from_ref(&track)).await;
    let mut ws = server.ws(&fan).await;
    ws.join(&room).await;
    let (status, reply) = http(
        &server,
        "PUT",
        &format!("/api/v2/streams/{}/autodj", stream.id),
        Some(&dj.token),
        Some(json!({"playlist": list, "crossfade_ms": 0})),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let playing = ws.recv_type("now_playing").await;
    assert_eq!(playing["title"], "Two tones", "{playing}");
    let low = ws.recv_type("lyrics").await;
    assert_eq!(low["text"], "low tone", "{low}");
    assert_eq!(low["words"][0]["text"], "tone", "{low}");
    let high = ws.recv_type("lyrics").await;
    assert_eq!(high["text"], "high tone");
    assert_eq!(high["stream"], stream.id.as_str());
    assert_eq!(high["track"], track.as_str());
    let (t_low, t_high) = (
        low["stream_time"].as_f64().unwrap(),
        high["stream_time"].as_f64().unwrap(),
    );
    assert!((t_high - t_low - 1.5).abs() < 0.01, "{low} {high}");
    let at = high["at"].as_i64().unwrap();
    let word_at = low["words"][0]["at"].as_i64().unwrap();
    assert_eq!(at - word_at, 1000, "{low} {high}");

    // In the output (HLS, whose timestamps are the stream clock): the tone changes where the
    // `high tone` line says, within 100 ms.
    let media = loop {
        let (_, media) = get(
            &server,
            &format!("/hls/{}/mp3-128/index.m3u8", stream.mount),
        )
        .await;
        let media = String::from_utf8(media).unwrap();
        if segments(&media).len() >= 4 {
            break media;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let segs = segments(&media);
    let (_, first) = get(
        &server,
        &format!("/hls/{}/mp3-128/{}", stream.mount, segs[0].0),
    )
    .await;
    let origin = segment_timestamp(&first) as f64 / 90_000.0;
    let joined = dir.path().join("joined.mp3");
    let mut bytes = Vec::new();
    for (name, _) in &segs[..4] {
        let (_, segment) = get(&server, &format!("/hls/{}/mp3-128/{name}", stream.mount)).await;
        bytes.extend_from_slice(&segment);
    }
    std::fs::write(&joined, bytes).unwrap();
    let out = dir.path().join("joined.f32");
    let decoded = finished(record(joined.to_str().unwrap(), 8, &out), &out, 20).await;
    // 10 ms windows: the first where 1 kHz is louder than 440 Hz, after 440 Hz was heard.
    let windows: Vec<(f64, f64)> = decoded
        .chunks_exact(441 * 2)
        .map(|w| (power_at(w, 440.0), power_at(w, 1000.0)))
        .collect();
    let heard_low = windows
        .iter()
        .position(|w| w.0 > w.1 * 10.0)
        .expect("440 Hz");
    let change = heard_low
        + windows[heard_low..]
            .iter()
            .position(|w| w.1 > w.0)
            .expect("1 kHz after 440 Hz");
    let change_at = origin + change as f64 * 0.01;
    eprintln!("tone change at stream time {change_at:.3}, lyrics line at {t_high:.3}");
    assert!(
        (change_at - t_high).abs() < 0.1,
        "the tone changes at stream time {change_at:.3}, the line says {t_high:.3}"
    );
}

async fn a_live_broadcaster_pushes_lyrics(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let fan = server.user("fan").await;
    let room = server.room(&dj, "studio", false).await;
    let stream =
        create_stream_with(&server, &dj, json!({"title": "Open mic", "room_id": room})).await;
    let path = format!("/api/v2/streams/{}/lyrics", stream.id);
    let (status, body) = http(
        &server,
        "POST",
        &path,
        Some(&dj.token),
        Some(json!({"text": "la"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("not_live"))
    );
    let source = broadcast(&stream.ingest_url, 10, 440, false);
    common::audio::wait_live(&server, &stream).await;
    let mut ws = server.ws(&fan).await;
    ws.join(&room).await;
    let (status, _) = http(
        &server,
        "POST",
        &path,
        Some(&fan.token),
        Some(json!({"text": "x"})),
    )
    .await;
    assert_eq!(status, 403);
    let long = "x".repeat(501);
    let (status, _) = http(
        &server,
        "POST",
        &path,
        Some(&dj.token),
        Some(json!({"text": long})),
    )
    .await;
    assert_eq!(status, 422);
    // Pushed until the broadcast has encoded audio (its clock starts with the first block).
    let pushed = loop {
        let (status, pushed) = http(
            &server,
            "POST",
            &path,
            Some(&dj.token),
            Some(json!({"text": "sing along"})),
        )
        .await;
        assert_eq!(status, 200, "{pushed}");
        if pushed["stream_time"].as_f64().unwrap() > 0.0 {
            break pushed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let line = loop {
        let line = ws.recv_type("lyrics").await;
        if line["stream_time"] == pushed["stream_time"] {
            break line;
        }
    };
    assert_eq!(line["text"], "sing along");
    assert_eq!(line["track"], Value::Null);
    assert_eq!(line["at"], pushed["at"]);
    drop(source);
}

on_both_backends!(
    a_playlist_plays_with_crossfades,
    a_live_source_takes_over_and_gives_the_air_back,
    a_stalled_live_source_falls_back_to_the_programme,
    lyrics_follow_the_stream_clock,
    a_live_broadcaster_pushes_lyrics,
);
