//! Issue 14, AutoDJ on several nodes: the programme plays on the node that took the mount's lease;
//! its controls and its listeners reaching another node are sent there (307); when that node dies,
//! another node's keeper puts the programme back on air once the lease lapses (playing the tracks
//! whose files it holds). The programme's `now_playing` and `lyrics` events reach the linked
//! room's members connected to another node. Both stores.

mod common;

use common::cluster::{eventually, Cluster};
use common::raw_http::{form, raw, RawReply, BOUNDARY};
use common::Kind;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn tone(dir: &Path, name: &str, hz: u32) -> Vec<u8> {
    let path = dir.join(name);
    let made = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("sine=frequency={hz}:duration=8:sample_rate=44100"))
        .args(["-ac", "2", "-metadata", &format!("title=Tone {hz}")])
        .args(["-c:a", "flac"])
        .arg(&path)
        .status()
        .expect("ffmpeg must be installed");
    assert!(made.success());
    std::fs::read(path).unwrap()
}

async fn upload(node: SocketAddr, token: &str, bytes: &[u8]) -> String {
    let auth = format!("Bearer {token}");
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let made: RawReply = raw(
        node,
        "POST",
        "/api/v2/tracks",
        &[("Authorization", &auth), ("Content-Type", &content_type)],
        &form(b"name=\"file\"; filename=\"t.flac\"", "audio/flac", bytes),
    )
    .await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    made.json()["track"]["id"].as_str().unwrap().to_owned()
}

async fn the_autodj_plays_on_one_node_and_moves_when_it_dies(kind: Kind) {
    let mut c = Cluster::start_on(
        kind,
        2,
        &std::env::var("VEZA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        &[("VEZA_AUTODJ_KEEPER_MS", "300")],
    );
    let node = |i: usize| SocketAddr::from(([127, 0, 0, 1], c.port(i)));
    let dj = c.register(0, "deejay");
    let dir = tempfile::tempdir().unwrap();
    // One track's file on each node's disk.
    let on_first = upload(node(0), &dj.token, &tone(dir.path(), "a.flac", 440)).await;
    let on_second = upload(node(1), &dj.token, &tone(dir.path(), "b.flac", 880)).await;
    let list = c.call(
        0,
        "POST",
        "/api/v2/playlists",
        Some(&dj.token),
        Some(json!({"name": "both"})),
        201,
    );
    let list = list["id"].as_str().unwrap().to_owned();
    for track in [&on_first, &on_second] {
        c.call(
            0,
            "POST",
            &format!("/api/v2/playlists/{list}/items"),
            Some(&dj.token),
            Some(json!({"track": track})),
            201,
        );
    }
    let stream = c.call(
        0,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": "Relay"})),
        201,
    );
    let (id, mount) = (
        stream["id"].as_str().unwrap().to_owned(),
        stream["mount"].as_str().unwrap().to_owned(),
    );
    let autodj = format!("/api/v2/streams/{id}/autodj");
    let on = c.call(
        0,
        "PUT",
        &autodj,
        Some(&dj.token),
        Some(json!({"playlist": list, "crossfade_ms": 0})),
        200,
    );
    assert_eq!(on["on_air"], true, "{on}");

    // Node 1 sends controls and listeners to node 0.
    let auth = format!("Bearer {}", dj.token);
    for (method, path) in [
        ("POST", format!("{autodj}/skip")),
        ("GET", autodj.clone()),
        ("GET", format!("/live/{mount}/mp3-128")),
    ] {
        let reply = raw(node(1), method, &path, &[("Authorization", &auth)], b"").await;
        assert_eq!(reply.status, 307, "{method} {path}");
        let location = reply.header("location").unwrap_or_default().to_owned();
        assert_eq!(location, format!("http://127.0.0.1:{}{path}", c.port(0)));
    }
    let shown: Value = c.call(1, "GET", &format!("/api/v2/streams/{id}"), None, None, 200);
    assert_eq!(shown["live"], true, "{shown}");

    // Node 0 dies: node 1's keeper takes the programme once the lease (10 s) lapses, and plays the
    // track whose file it holds.
    c.kill(0);
    eventually(
        Duration::from_secs(30),
        "the AutoDJ back on air on node 1",
        || {
            let (status, body) = c.get(1, &autodj, Some(&dj.token))?;
            let body: Value = serde_json::from_str(&body).ok()?;
            (status == 200
                && body["on_air"] == true
                && body["now"]["track"]["id"] == on_second.as_str())
            .then_some(())
        },
    )
    .await;
    let shown: Value = c.call(1, "GET", &format!("/api/v2/streams/{id}"), None, None, 200);
    assert_eq!(shown["live"], true, "{shown}");
}

async fn now_playing_and_lyrics_reach_a_member_on_another_node(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let node = |i: usize| SocketAddr::from(([127, 0, 0, 1], c.port(i)));
    let dj = c.register(0, "deejay");
    let fan = c.register(1, "fan");
    let room = c.room(0, &dj, "studio");
    let dir = tempfile::tempdir().unwrap();
    // The track's file on node 0, where the programme will play.
    let track = upload(node(0), &dj.token, &tone(dir.path(), "a.flac", 440)).await;
    let lrc = "[00:00.50]first <00:01.00>line\n[00:02.00]second line\n";
    let reply = raw(
        node(0),
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
    let list = c.call(
        0,
        "POST",
        "/api/v2/playlists",
        Some(&dj.token),
        Some(json!({"name": "karaoke"})),
        201,
    );
    let list = list["id"].as_str().unwrap().to_owned();
    c.call(
        0,
        "POST",
        &format!("/api/v2/playlists/{list}/items"),
        Some(&dj.token),
        Some(json!({"track": track})),
        201,
    );
    let stream = c.call(
        0,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": "Karaoke", "room_id": room})),
        201,
    );
    let id = stream["id"].as_str().unwrap().to_owned();

    // The fan is in the room through node 1; the AutoDJ goes on air on node 0.
    let (mut ws, _) = c.joined(1, &fan, &room, None).await;
    let on = c.call(
        0,
        "PUT",
        &format!("/api/v2/streams/{id}/autodj"),
        Some(&dj.token),
        Some(json!({"playlist": list, "crossfade_ms": 0})),
        200,
    );
    assert_eq!(on["on_air"], true, "{on}");
    let shown: Value = c.call(1, "GET", &format!("/api/v2/streams/{id}"), None, None, 200);
    assert_eq!(
        shown["node"]["id"], c.nodes[0].id,
        "plays on node 0: {shown}"
    );

    let playing = ws.recv_type("now_playing").await;
    assert_eq!(playing["title"], "Tone 440", "{playing}");
    assert_eq!(playing["room"], room.as_str(), "{playing}");
    let first = ws.recv_type("lyrics").await;
    assert_eq!(first["text"], "first line", "{first}");
    assert_eq!(first["words"][0]["text"], "line", "{first}");
    let second = ws.recv_type("lyrics").await;
    assert_eq!(second["text"], "second line", "{second}");
    assert_eq!(second["track"], track.as_str(), "{second}");
    assert_eq!(second["stream"], id.as_str(), "{second}");
    let (t1, t2) = (
        first["stream_time"].as_f64().unwrap(),
        second["stream_time"].as_f64().unwrap(),
    );
    assert!((t2 - t1 - 1.5).abs() < 0.01, "{first} {second}");
    assert_eq!(
        second["at"].as_i64().unwrap() - first["words"][0]["at"].as_i64().unwrap(),
        1000,
        "{first} {second}"
    );
}

on_both_backends!(
    the_autodj_plays_on_one_node_and_moves_when_it_dies,
    now_playing_and_lyrics_reach_a_member_on_another_node,
);
