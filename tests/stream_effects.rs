//! Live effects with real clients: ffmpeg broadcasts, the server applies the chain, ffmpeg decodes
//! what listeners hear, and the tests measure it (echo delay by autocorrelation, gain by level).

mod common;

use actix_web::web;
use common::audio::*;
use common::server::TestServer;
use common::{Kind, TestDb};
use serde_json::{json, Value};
use std::time::Duration;

async fn put_effects(
    server: &TestServer,
    token: &str,
    stream: &Stream,
    chain: Value,
) -> (u16, Value) {
    http(
        server,
        "PUT",
        &format!("/api/v2/streams/{}/effects", stream.id),
        Some(token),
        Some(json!({ "chain": chain })),
    )
    .await
}

/// Samples `seconds` of what a new listener of mp3-320 hears, dropping the first `skip` seconds
/// (the burst, which holds audio from before the last change).
async fn listen(
    server: &TestServer,
    stream: &Stream,
    seconds: f32,
    skip: f32,
    rate: u32,
) -> Vec<f32> {
    let url = format!("http://{}/live/{}/mp3-320", server.addr, stream.mount);
    let samples = web::block(move || decode_mono(&url, seconds + skip, rate))
        .await
        .unwrap();
    let from = ((skip * rate as f32) as usize).min(samples.len());
    samples[from..].to_vec()
}

/// The lag (in samples, within `lags`) where the normalised autocorrelation peaks, and its value.
fn autocorrelation_peak(x: &[f32], lags: std::ops::Range<usize>) -> (usize, f64) {
    let energy: f64 = x.iter().map(|s| (*s as f64).powi(2)).sum();
    lags.map(|lag| {
        let r: f64 = x[lag..]
            .iter()
            .zip(x)
            .map(|(a, b)| *a as f64 * *b as f64)
            .sum();
        (lag, r / energy)
    })
    .fold((0, f64::MIN), |best, c| if c.1 > best.1 { c } else { best })
}

fn level_db(x: &[f32]) -> f64 {
    let ms = x.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.log10()
}

async fn the_echo_shows_its_delay_and_follows_live_changes(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Echo Chamber").await;
    // Set before going live: stored with the stream and applied from the first sample.
    let (status, body) = put_effects(
        &server,
        &dj.token,
        &stream,
        json!([{"type": "echo", "delay_ms": 250, "feedback": 0.0, "mix": 0.5}]),
    )
    .await;
    assert_eq!(
        (status, body["applied_live"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    let ffmpeg = broadcast_lavfi(
        &stream.ingest_url,
        "anoisesrc=color=white:amplitude=0.3:sample_rate=44100:duration=30",
    );
    wait_live(&server, &stream).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rate = 8000;
    let heard = listen(&server, &stream, 2.0, 0.0, rate).await;
    assert!(heard.len() > rate as usize, "{} samples", heard.len());
    let (lag, peak) = autocorrelation_peak(&heard, 400..4000);
    let lag_ms = lag as f64 * 1000.0 / rate as f64;
    assert!(
        (lag_ms - 250.0).abs() < 3.0 && peak > 0.3,
        "peak {peak:.2} at {lag_ms} ms"
    );

    // Changed while on air: the new delay is what listeners hear next.
    let (status, body) = put_effects(
        &server,
        &dj.token,
        &stream,
        json!([{"type": "echo", "delay_ms": 400, "feedback": 0.0, "mix": 0.5}]),
    )
    .await;
    assert_eq!(
        (status, body["applied_live"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = listen(&server, &stream, 2.0, 2.5, rate).await;
    let (lag, peak) = autocorrelation_peak(&heard, 400..4000);
    let lag_ms = lag as f64 * 1000.0 / rate as f64;
    assert!(
        (lag_ms - 400.0).abs() < 3.0 && peak > 0.3,
        "peak {peak:.2} at {lag_ms} ms"
    );

    // Off: no echo left.
    let (status, _) = put_effects(&server, &dj.token, &stream, json!([])).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = listen(&server, &stream, 2.0, 2.5, rate).await;
    let (_, peak) = autocorrelation_peak(&heard, 400..4000);
    assert!(peak < 0.1, "an echo is left: {peak:.2}");
    drop(ffmpeg);
}

async fn the_gain_sets_the_level(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Loud and Quiet").await;
    // ffmpeg's sine has amplitude 1/8: RMS -21.07 dBFS.
    let ffmpeg = broadcast(&stream.ingest_url, 30, 440, false);
    wait_live(&server, &stream).await;
    let dry = level_db(&listen(&server, &stream, 1.0, 1.0, 44_100).await);
    assert!((dry + 21.07).abs() < 0.5, "dry level {dry:.2} dBFS");
    for gain in [12.0, -6.0] {
        let (status, body) = put_effects(
            &server,
            &dj.token,
            &stream,
            json!([{"type": "gain", "db": gain}]),
        )
        .await;
        assert_eq!(
            (status, body["applied_live"].as_bool()),
            (200, Some(true)),
            "{body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let level = level_db(&listen(&server, &stream, 1.0, 2.5, 44_100).await);
        assert!(
            (level - (-21.07 + gain)).abs() < 0.5,
            "with {gain} dB of gain the level is {level:.2} dBFS"
        );
    }
    drop(ffmpeg);
}

async fn effects_are_validated_and_owner_only(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let other = server.user("someone").await;
    let stream = create_stream(&server, &dj, "Rules").await;
    for bad in [
        json!([{"type": "gain", "db": 100}]),
        json!([{"type": "echo", "delay_ms": 250, "feedback": 1.2}]),
        json!([{"type": "eq", "bands": [{"freq": 5, "gain_db": 3}]}]),
        json!([{"type": "compressor", "threshold_db": -20, "ratio": 0.5}]),
        json!([{"type": "reverb", "mix": "lots"}]),
        json!([{"type": "wah"}]),
    ] {
        let (status, body) = put_effects(&server, &dj.token, &stream, bad.clone()).await;
        assert_eq!(status, 422, "{bad} -> {body}");
        assert_eq!(body["error"]["code"], "validation_failed");
    }
    let chain = json!([
        {"type": "eq", "bands": [{"kind": "low_shelf", "freq": 120, "gain_db": 3, "q": 0.7}]},
        {"type": "compressor", "threshold_db": -18, "ratio": 3, "attack_ms": 5, "release_ms": 120, "makeup_db": 2},
        {"type": "reverb", "room_size": 0.4, "damping": 0.5, "mix": 0.1},
        {"type": "gain", "db": -1}
    ]);
    let (status, _) = put_effects(&server, &other.token, &stream, chain.clone()).await;
    assert_eq!(status, 403);
    let (status, _) = http(
        &server,
        "PUT",
        &format!("/api/v2/streams/{}/effects", stream.id),
        None,
        Some(json!({"chain": []})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = put_effects(&server, &dj.token, &stream, chain).await;
    assert_eq!(status, 200);
    let (status, body) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}/effects", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["chain"].as_array().map(Vec::len), Some(4), "{body}");
    assert_eq!(body["chain"][1]["ratio"], 3.0);
}

on_both_backends!(
    the_echo_shows_its_delay_and_follows_live_changes,
    the_gain_sets_the_level,
    effects_are_validated_and_owner_only,
);
