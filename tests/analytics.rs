//! Stream analytics with real listeners: ffmpeg broadcasts, progressive listeners read the audio
//! on the main port and on the Icecast port, HLS players poll their media playlists with their
//! session token, and chat is sent in the linked room; the analytics endpoint then reports exactly
//! those sessions, as JSON and CSV, before and after the expiry folds them into minutes.

mod common;

use actix_web::web;
use common::audio::*;
use common::cluster::{eventually, Cluster};
use common::server::{TestServer, TestUser};
use common::{Kind, TestDb};
use diesel::prelude::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use veza::db::schema::listener_sessions;

/// A progressive listener: a socket reading the audio until dropped.
struct Listener {
    tcp: TcpStream,
    reader: Option<std::thread::JoinHandle<usize>>,
}

impl Listener {
    fn open(addr: SocketAddr, path: &str) -> Self {
        let mut tcp = TcpStream::connect(addr).expect("connect");
        write!(tcp, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("request");
        let mut read = tcp.try_clone().expect("clone");
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            let mut total = 0;
            while let Ok(n) = read.read(&mut buf) {
                if n == 0 {
                    break;
                }
                total += n;
            }
            total
        });
        Listener {
            tcp,
            reader: Some(reader),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _already_closed_is_fine = self.tcp.shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// An HLS player: polls its media playlist with its `sid` every half second until dropped.
struct HlsPlayer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u32>>,
}

impl HlsPlayer {
    fn start(port: u16, mount: &str, variant: &str, sid: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let path = format!("/hls/{mount}/{variant}/index.m3u8?sid={sid}");
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut polls = 0;
            while !flag.load(Ordering::Relaxed) {
                if let Some((200, _)) = common::process::request(port, "GET", &path, None, None) {
                    polls += 1;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            polls
        });
        HlsPlayer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for HlsPlayer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// (kind, variant, open) of every stored session.
async fn sessions(server: &TestServer) -> Vec<(String, String, bool)> {
    let pool = server.state.pool.clone();
    web::block(move || {
        let conn = &mut *pool.get().unwrap();
        listener_sessions::table
            .select((
                listener_sessions::kind,
                listener_sessions::variant,
                listener_sessions::ended_at,
            ))
            .order(listener_sessions::id.asc())
            .load::<(String, String, Option<i64>)>(conn)
            .unwrap()
            .into_iter()
            .map(|(k, v, e)| (k, v, e.is_none()))
            .collect()
    })
    .await
    .unwrap()
}

/// Polls until `check` holds for the stored sessions (up to `seconds`).
async fn wait_sessions(
    server: &TestServer,
    seconds: u64,
    why: &str,
    check: impl Fn(&[(String, String, bool)]) -> bool,
) {
    for _ in 0..seconds * 10 {
        if check(&sessions(server).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{why}: {:?}", sessions(server).await);
}

fn count(rows: &[(String, String, bool)], kind: &str, variant: &str, open: Option<bool>) -> usize {
    rows.iter()
        .filter(|(k, v, o)| k == kind && v == variant && open.is_none_or(|open| open == *o))
        .count()
}

async fn analytics(
    server: &TestServer,
    user: &TestUser,
    stream: &str,
    query: &str,
) -> (u16, Value) {
    let path = format!("/api/v2/streams/{stream}/analytics{query}");
    http(server, "GET", &path, Some(&user.token), None).await
}

/// The report as CSV through curl, asked for with `Accept: text/csv`.
async fn analytics_csv(server: &TestServer, user: &TestUser, stream: &str, query: &str) -> String {
    let url = format!(
        "http://{}/api/v2/streams/{stream}/analytics{query}",
        server.addr
    );
    let auth = format!("Authorization: Bearer {}", user.token);
    web::block(move || {
        let out = Command::new("curl")
            .args(["-sSf", "-H", "Accept: text/csv", "-H", &auth, &url])
            .output()
            .expect("curl");
        assert!(out.status.success(), "GET {url}");
        String::from_utf8(out.stdout).unwrap()
    })
    .await
    .unwrap()
}

/// The most listeners of `variant` at any point.
fn max_of(report: &Value, variant: &str) -> i64 {
    report["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["listeners"][variant].as_i64().unwrap_or(0))
        .max()
        .unwrap_or(0)
}

fn chat_total(report: &Value) -> i64 {
    report["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["chat_messages"].as_i64().unwrap())
        .sum()
}

/// The CSV's rows agree with the JSON points, column for column.
fn assert_csv_matches(csv: &str, report: &Value) {
    let mut lines = csv.lines();
    let variants: Vec<String> = report["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let mut header = vec!["t".to_owned()];
    header.extend(variants.iter().cloned());
    header.extend(["total".to_owned(), "chat_messages".to_owned()]);
    assert_eq!(lines.next(), Some(header.join(",").as_str()), "{csv}");
    let points = report["points"].as_array().unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), points.len(), "{csv}");
    for (row, point) in rows.iter().zip(points) {
        let mut expected = vec![point["t"].to_string()];
        for v in &variants {
            expected.push(point["listeners"][v.as_str()].to_string());
        }
        expected.push(point["total"].to_string());
        expected.push(point["chat_messages"].to_string());
        assert_eq!(*row, expected.join(","), "{csv}");
    }
}

async fn listeners_on_both_ports_and_hls_are_counted_and_survive_expiry(kind: Kind) {
    let db = TestDb::new(kind);
    let mut config = db.config();
    config.analytics.flush_ms = 200;
    config.analytics.hls_timeout_s = 3;
    let server = TestServer::start_with(&db, config).await;
    let dj = server.user("deejay").await;
    let stranger = server.user("stranger").await;
    let room = server.room(&dj, "radio room", false).await;
    let (status, body) = http(
        &server,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": "Counted", "room_id": room})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let mount = body["mount"].as_str().unwrap().to_owned();
    let stream = Stream {
        id: id.clone(),
        mount: mount.clone(),
        key: body["stream_key"].as_str().unwrap().to_owned(),
        ingest_url: body["ingest_url"].as_str().unwrap().to_owned(),
    };
    let started = veza_actors::ids::now_ms() as i64;
    let ffmpeg = broadcast(&stream.ingest_url, 120, 440, false);
    wait_live(&server, &stream).await;

    // Three progressive listeners (two variants, one on the Icecast port), two HLS players.
    let main = server.addr;
    let icecast = server.state.config.ingest_bind;
    let port = main.port();
    let a = Listener::open(main, &format!("/live/{mount}/mp3-128"));
    let b = Listener::open(main, &format!("/live/{mount}/aac-128"));
    let c = Listener::open(icecast, &format!("/live/{mount}/mp3-128"));
    let h1 = HlsPlayer::start(port, &mount, "mp3-128", "playerone");
    let h2 = HlsPlayer::start(port, &mount, "aac-128", "playertwo");
    wait_sessions(&server, 30, "five sessions open", |rows| {
        rows.len() == 5 && rows.iter().all(|r| r.2)
    })
    .await;
    let rows = sessions(&server).await;
    assert_eq!(count(&rows, "progressive", "mp3-128", None), 2, "{rows:?}");
    assert_eq!(count(&rows, "progressive", "aac-128", None), 1, "{rows:?}");
    assert_eq!(count(&rows, "hls", "mp3-128", None), 1, "{rows:?}");
    assert_eq!(count(&rows, "hls", "aac-128", None), 1, "{rows:?}");

    // Still-open sessions count: live listeners now.
    let (status, live) = analytics(&server, &dj, &id, "").await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["sessions"], 5, "{live}");
    assert_eq!(live["peak"]["listeners"], 5, "{live}");
    assert_eq!(
        (max_of(&live, "mp3-128"), max_of(&live, "aac-128")),
        (3, 2),
        "{live}"
    );
    assert_eq!(live["step"], 60);
    assert_eq!(
        live["points"].as_array().unwrap().len(),
        1440,
        "a day by minute"
    );

    // Chat in the linked room.
    let mut ws = server.ws(&dj).await;
    ws.join(&room).await;
    for i in 0..3 {
        ws.say(&room, &format!("hello {i}"), &format!("c{i}")).await;
    }

    // One progressive listener leaves early; one HLS player stops polling and is closed after
    // the timeout (3 s here) while the other still polls.
    drop(b);
    drop(h2);
    wait_sessions(&server, 30, "the early leavers closed", |rows| {
        count(rows, "progressive", "aac-128", Some(false)) == 1
            && count(rows, "hls", "aac-128", Some(false)) == 1
    })
    .await;
    let rows = sessions(&server).await;
    assert_eq!(
        count(&rows, "hls", "mp3-128", Some(true)),
        1,
        "still polling: {rows:?}"
    );
    assert_eq!(rows.iter().filter(|r| r.2).count(), 3, "{rows:?}");

    drop((a, c, h1));
    wait_sessions(&server, 30, "every session closed", |rows| {
        rows.len() == 5 && rows.iter().all(|r| !r.2)
    })
    .await;
    drop(ffmpeg);

    // A fixed range, so the report cannot change from here on.
    let to = veza_actors::ids::now_ms() as i64 + 60_000;
    let query = format!("?from={}&to={to}&step=60", started - 120_000);
    let (status, report) = analytics(&server, &dj, &id, &query).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["stream"], id.as_str());
    assert_eq!(
        report["variants"],
        json!(["aac-128", "mp3-128"]),
        "{report}"
    );
    assert_eq!(report["sessions"], 5, "{report}");
    assert_eq!(report["peak"]["listeners"], 5, "{report}");
    assert!(
        report["peak"]["at"].as_i64().unwrap() >= started - 60_000,
        "{report}"
    );
    assert_eq!(
        (max_of(&report, "mp3-128"), max_of(&report, "aac-128")),
        (3, 2),
        "{report}"
    );
    assert_eq!(chat_total(&report), 3, "{report}");
    let elapsed_s = (veza_actors::ids::now_ms() as i64 - started) as f64 / 1000.0;
    let average = report["average_listen_seconds"].as_f64().unwrap();
    assert!(
        average > 0.5 && average < elapsed_s,
        "{average} of {elapsed_s} s: {report}"
    );

    // The same numbers as CSV (by Accept header or by format=csv).
    assert_csv_matches(&analytics_csv(&server, &dj, &id, &query).await, &report);
    let path = format!("/api/v2/streams/{id}/analytics{query}&format=csv");
    let token = dj.token.clone();
    let (status, csv) = web::block(move || {
        common::process::request(port, "GET", &path, Some(&token), None).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_csv_matches(&csv, &report);

    // Only the owner sees it; bad input is refused.
    let (status, _) = analytics(&server, &stranger, &id, "").await;
    assert_eq!(status, 404);
    let (status, _) = http(
        &server,
        "GET",
        &format!("/api/v2/streams/{id}/analytics"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 401);
    for bad in [
        "?step=30",
        "?step=abc",
        "?step=90",
        "?step=86460",
        "?from=never",
        "?from=0",
    ] {
        let (status, body) = analytics(&server, &dj, &id, bad).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, hourly) =
        analytics(&server, &dj, &id, &query.replace("step=60", "step=3600")).await;
    assert_eq!(status, 200, "{hourly}");
    assert_eq!(hourly["sessions"], 5, "{hourly}");
    assert_eq!(hourly["peak"], report["peak"], "{hourly}");

    // Expiry: a node with a 1 s retention folds the raw sessions into minutes; the report is the
    // same.
    server.stop().await;
    let mut config = db.config();
    config.analytics.retention_s = 1;
    config.analytics.fold_s = 1;
    let server = TestServer::start_with(&db, config).await;
    wait_sessions(&server, 30, "raw sessions folded", |rows| rows.is_empty()).await;
    let pool = server.state.pool.clone();
    let (raw, minutes) = web::block(move || veza::db::analytics::counts(&mut pool.get().unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(raw, 0);
    assert!(minutes >= 2, "two variants at least: {minutes}");
    let (status, folded) = analytics(&server, &dj, &id, &query).await;
    assert_eq!(status, 200, "{folded}");
    assert_eq!(folded, report);
}

/// Two real nodes: a listener that reaches node 1 is sent to node 0 (which serves the stream) and
/// counted there; chat sent on both nodes counts; either node answers the same report.
async fn on_two_nodes_listeners_and_chat_from_both_count(kind: Kind) {
    let c = Cluster::start(kind, 2);
    let dj = c.register(0, "deejay");
    let room = c.room(0, &dj, "radio room");
    let s = c.call(
        0,
        "POST",
        "/api/v2/streams",
        Some(&dj.token),
        Some(json!({"title": "two nodes", "room_id": room})),
        201,
    );
    let id = s["id"].as_str().unwrap().to_owned();
    let mount = s["mount"].as_str().unwrap().to_owned();
    let source = broadcast(s["ingest_url"].as_str().unwrap(), 60, 440, false);
    eventually(Duration::from_secs(20), "live on node 0", || {
        let v = c.call(0, "GET", &format!("/api/v2/streams/{id}"), None, None, 200);
        (v["live"] == true).then_some(())
    })
    .await;
    // ffprobe on node 1 follows the redirect to node 0 and listens for a moment.
    let probed = probe(format!(
        "http://127.0.0.1:{}/live/{mount}/mp3-128",
        c.port(1)
    ))
    .await;
    assert_eq!(probed["codec_name"], "mp3");
    let mut on0 = c.ws(0, &dj).await;
    on0.join(&room).await;
    on0.say(&room, "from node 0", "n0").await;
    let mut on1 = c.ws(1, &dj).await;
    on1.join(&room).await;
    on1.say(&room, "from node 1", "n1").await;
    let path = format!("/api/v2/streams/{id}/analytics");
    let report = eventually(
        Duration::from_secs(20),
        "the listener and both messages",
        || {
            let r = c.call(1, "GET", &path, Some(&dj.token), None, 200);
            (r["sessions"].as_i64() >= Some(1) && chat_total(&r) == 2).then_some(r)
        },
    )
    .await;
    assert_eq!(report["variants"], json!(["mp3-128"]), "{report}");
    assert!(max_of(&report, "mp3-128") >= 1, "{report}");
    let on_node0 = c.call(0, "GET", &path, Some(&dj.token), None, 200);
    assert_eq!(on_node0["sessions"], report["sessions"]);
    assert_eq!(chat_total(&on_node0), 2);
    drop(source);
}

on_both_backends!(
    listeners_on_both_ports_and_hls_are_counted_and_survive_expiry,
    on_two_nodes_listeners_and_chat_from_both_count
);
