//! The WebSocket ingest (`/live/{mount}/ws`, for browsers): a client sends MP3 in binary frames at
//! real-time pace, listeners hear it, a text frame sets the title, and bad sources are refused
//! before the upgrade.

mod common;

use actix_web::web;
use common::audio::*;
use common::server::TestServer;
use common::{Kind, TestDb};
use futures_util::{SinkExt, StreamExt};
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Encodes `seconds` of a sine to MP3 bytes with ffmpeg.
fn mp3_tone(freq: u32, seconds: u32) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency={freq}:sample_rate=44100:duration={seconds}"
        ))
        .args([
            "-ac",
            "2",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-f",
            "mp3",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success());
    out.stdout
}

async fn handshake_status(url: String) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => 101,
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}

async fn a_browser_style_source_broadcasts_over_a_websocket(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let stream = create_stream(&server, &dj, "Browser Show").await;
    let base = format!("ws://{}/live/{}/ws", server.addr, stream.mount);

    // Refused before the upgrade, as plain HTTP.
    assert_eq!(
        handshake_status(format!("{base}?key=wrong&type=audio/mpeg")).await,
        401
    );
    assert_eq!(
        handshake_status(format!("{base}?type=audio/mpeg")).await,
        401
    );
    assert_eq!(
        handshake_status(format!("{base}?key={}", stream.key)).await,
        415
    );
    assert_eq!(
        handshake_status(format!("{base}?key={}&type=video/webm", stream.key)).await,
        415
    );
    assert_eq!(
        handshake_status(format!(
            "ws://{}/live/nope/ws?key={}&type=audio/mpeg",
            server.addr, stream.key
        ))
        .await,
        404
    );

    let audio = web::block(|| mp3_tone(660, 12)).await.unwrap();
    let url = format!("{base}?key={}&type=audio/mpeg", stream.key);
    let (mut ws, _) = tokio_tungstenite::connect_async(url.clone())
        .await
        .expect("upgrade");
    let hello = ws.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"live\""), "{hello}");
    // A second source on the same mount is refused.
    assert_eq!(handshake_status(url).await, 403);

    // Real-time pace: 128 kbit/s = 1,600 bytes per 100 ms; the first 2 s at once (a pre-roll).
    let sender = tokio::spawn(async move {
        let (pre, rest) = audio.split_at(32_000.min(audio.len()));
        ws.send(Message::binary(pre.to_vec())).await.unwrap();
        ws.send(Message::text(r#"{"title":"From the browser"}"#))
            .await
            .unwrap();
        ws.send(Message::text("not json")).await.unwrap();
        for chunk in rest.chunks(1600) {
            ws.send(Message::binary(chunk.to_vec())).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ws
    });
    wait_live(&server, &stream).await;
    let listen = format!("http://{}/live/{}/mp3-128", server.addr, stream.mount);
    let found = web::block(move || dominant_frequency(&listen))
        .await
        .unwrap();
    assert!((found - 660.0).abs() < 15.0, "listeners hear {found} Hz");
    let (_, body) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{}", stream.id),
        None,
        None,
    )
    .await;
    assert_eq!(body["now_playing"], "From the browser", "{body}");

    let mut ws = sender.await.unwrap();
    // The bad text frame got an error frame; audio kept flowing.
    let mut saw_error = false;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(500), ws.next()).await
    {
        if let Message::Text(t) = msg {
            saw_error |= t.contains("\"error\"") && t.contains("bad_request");
        }
    }
    assert!(saw_error);
    ws.close(None).await.unwrap();
    wait_off_air(
        &server,
        &stream,
        5,
        "closing the socket should end the broadcast",
    )
    .await;
}

on_both_backends!(a_browser_style_source_broadcasts_over_a_websocket);
