//! Issue 14, the track library on several nodes: a track uploaded through node 0 is listed and
//! described by node 1 (the row is in the store), its lyrics set on one node are read on the
//! other, and its audio is fetched through node 1, which sends the client to the node whose disk
//! holds the file. Both stores.

mod common;

use common::cluster::Cluster;
use common::raw_http::{form, raw, BOUNDARY};
use common::Kind;
use std::process::Command;

async fn a_track_uploaded_on_one_node_is_listed_and_read_through_another(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let node = |i: usize| std::net::SocketAddr::from(([127, 0, 0, 1], c.port(i)));
    let alice = c.register(0, "alice");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.flac");
    let made = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"])
        .args([
            "-i",
            "sine=frequency=440:duration=2",
            "-metadata",
            "title=Across",
        ])
        .args(["-c:a", "flac"])
        .arg(&path)
        .status()
        .expect("ffmpeg must be installed");
    assert!(made.success());
    let flac = std::fs::read(&path).unwrap();
    let auth = format!("Bearer {}", alice.token);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let body = form(
        b"name=\"file\"; filename=\"tone.flac\"",
        "audio/flac",
        &flac,
    );
    let made = raw(
        node(0),
        "POST",
        "/api/v2/tracks",
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &body,
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    let id = made.json()["track"]["id"].as_str().unwrap().to_owned();

    let listed = raw(
        node(1),
        "GET",
        "/api/v2/tracks",
        &[("Authorization", &auth)],
        b"",
    )
    .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["tracks"][0]["id"], id.as_str());
    assert_eq!(listed.json()["tracks"][0]["title"], "Across");

    let lyrics = format!("/api/v2/tracks/{id}/lyrics");
    let put = raw(
        node(0),
        "PUT",
        &lyrics,
        &[("Authorization", &auth)],
        b"[00:01.00]hello",
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.json());
    let got = raw(node(1), "GET", &lyrics, &[("Authorization", &auth)], b"").await;
    assert_eq!(got.json()["lines"][0]["time_ms"], 1000);

    // Node 1 has no such file on its disk: it sends the client to node 0, where it is.
    let audio = format!("/api/v2/tracks/{id}/audio?access_token={}", alice.token);
    let there = raw(node(1), "GET", &audio, &[], b"").await;
    assert_eq!(there.status, 307, "{:?}", there.json());
    let location = there.header("location").expect("a location").to_owned();
    assert_eq!(location, format!("http://127.0.0.1:{}{audio}", c.port(0)));
    let fetched = raw(node(0), "GET", &audio, &[], b"").await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, flac);
}

on_both_backends!(a_track_uploaded_on_one_node_is_listed_and_read_through_another);
