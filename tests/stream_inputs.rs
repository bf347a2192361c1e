//! Every source format the ingest takes, pushed by ffmpeg at once over the Icecast protocol: ADTS
//! AAC, Ogg Vorbis, Ogg Opus, FLAC and WAV. Each stream goes live and carries its own tone.

mod common;

use actix_web::web;
use common::audio::*;
use common::server::TestServer;
use common::{Kind, TestDb};

async fn every_input_format_goes_live_with_its_audio(kind: Kind) {
    let db = TestDb::new(kind);
    let server = TestServer::start(&db).await;
    let dj = server.user("deejay").await;
    let formats: [(&str, u32, &[&str], &str); 5] = [
        (
            "adts aac",
            330,
            &["-c:a", "aac", "-b:a", "128k", "-f", "adts"],
            "audio/aac",
        ),
        (
            "ogg vorbis",
            550,
            &["-c:a", "libvorbis", "-f", "ogg"],
            "audio/ogg",
        ),
        (
            "ogg opus",
            770,
            &["-c:a", "libopus", "-b:a", "96k", "-f", "ogg"],
            "audio/ogg",
        ),
        ("flac", 990, &["-c:a", "flac", "-f", "flac"], "audio/flac"),
        (
            "wav",
            1210,
            &["-c:a", "pcm_s16le", "-f", "wav"],
            "audio/wav",
        ),
    ];
    let mut running = Vec::new();
    for (name, freq, encode, content_type) in formats {
        let stream = create_stream(&server, &dj, name).await;
        // Long enough that the last source is still on air after the others were listened to
        // on a loaded machine (five sources and their ladders on two cores); killed on drop.
        let ffmpeg = broadcast_as(&stream.ingest_url, freq, 120, encode, content_type);
        running.push((name, freq, stream, ffmpeg));
    }
    for (name, freq, stream, _) in &running {
        wait_live(&server, stream).await;
        let url = format!("http://{}/live/{}/mp3-128", server.addr, stream.mount);
        let found = web::block(move || dominant_frequency(&url)).await.unwrap();
        assert!(
            (found - *freq as f64).abs() < 15.0,
            "{name}: listeners hear {found} Hz, expected {freq}"
        );
    }
}

on_both_backends!(every_input_format_goes_live_with_its_audio);
