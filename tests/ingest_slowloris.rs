//! Issue 11 item 10: the Icecast port against slowloris. A request head has one deadline however
//! slowly it drips in; the port holds at most `ingest_max_per_ip` connections from one client and
//! `ingest_max_connections` in all, turning the rest away at once; so thousands of slow sockets on
//! the ingest port cannot take the file descriptors the main port needs (`/health` stays up). The
//! flood comes from 127.0.0.3, so its thousands of local ports never collide with the 127.0.0.1
//! ports other tests running meanwhile pick for their servers.

mod common;

use common::process::{free_port, get, sigterm_and_wait, veza, wait_until_up};
use common::server::{config_with, TestServer};
use common::{Kind, TestDb, TEST_SECRET};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn a_request_head_that_drips_in_is_cut_at_the_deadline(kind: Kind) {
    let db = TestDb::new(kind);
    let config = config_with(&db, &[("VEZA_INGEST_HEAD_TIMEOUT_MS", "1000")]);
    let server = TestServer::start_with(&db, config).await;
    let mut tcp = tokio::net::TcpStream::connect(server.state.config.ingest_bind)
        .await
        .expect("connect");
    tcp.write_all(b"SOURCE /live/slow HTTP/1.0\r\n")
        .await
        .expect("write");
    let (mut rx, mut tx) = tcp.into_split();
    // One header byte every 200 ms: each read is quick, the head never ends.
    let drip = tokio::spawn(async move {
        while tx.write_all(b"X").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let closed = tokio::time::timeout(Duration::from_secs(8), rx.read(&mut byte)).await;
    drip.abort();
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "still open after {:?}: {closed:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the deadline"
    );
}

/// Lets this process open as many sockets as its hard limit allows; returns that limit.
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    limit.rlim_max
}

/// `veza serve` allowed 1,024 file descriptors for both ports together.
fn serve_with_1024_fds(db: &TestDb, env: &[(&str, &str)]) -> (std::process::Child, u16, u16) {
    serve_with_fds(db, 1024, env, Stdio::null())
}

/// `veza serve` allowed `fds` file descriptors, its log lines going to `stdout`.
fn serve_with_fds(
    db: &TestDb,
    fds: u64,
    env: &[(&str, &str)],
    stdout: Stdio,
) -> (std::process::Child, u16, u16) {
    let (port, ingest) = (free_port(), free_port());
    let mut cmd = veza();
    cmd.current_dir(db.dir())
        .env("VEZA_BIND", format!("127.0.0.1:{port}"))
        .env("VEZA_INGEST_BIND", format!("127.0.0.1:{ingest}"))
        .env("VEZA_DATABASE_URL", &db.url)
        .env("VEZA_JWT_SECRET", TEST_SECRET)
        .env("VEZA_IP_RATE_PER_MINUTE", "0")
        .env("VEZA_LOG_FORMAT", "json")
        .env("VEZA_LOG_LEVEL", "error")
        .stdout(stdout);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: fds,
                rlim_max: fds,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.arg("serve").spawn().expect("spawn veza");
    wait_until_up(&mut child, port);
    (child, port, ingest)
}

/// A socket from `from` (another loopback address: its ports never collide with the 127.0.0.1
/// ports that other tests' servers pick meanwhile) to `addr`.
async fn connect_from(from: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().expect("addr"))?;
    socket.connect(addr).await
}

/// Opens `n` sockets from 127.0.0.3 to `addr` that each send the start of a head and then nothing
/// or, with `keep_alive`, a header line every 2 s while the rest connect.
async fn slow_sockets(addr: SocketAddr, n: usize, keep_alive: bool) -> Vec<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sockets = Vec::with_capacity(n);
    let mut dripped = Instant::now();
    for _ in 0..n {
        if Instant::now() > deadline {
            break;
        }
        // A slowloris keeps its sockets alive with a header line now and then: the server cuts a
        // head that is silent for 10 s, and a loaded machine takes longer than that to connect
        // them all.
        if keep_alive && dripped.elapsed() > Duration::from_secs(2) {
            drip(&mut sockets).await;
            dripped = Instant::now();
        }
        let connect = connect_from("127.0.0.3", addr);
        let Ok(Ok(mut tcp)) = tokio::time::timeout(Duration::from_secs(5), connect).await else {
            continue;
        };
        let _may_be_closed_already = tcp
            .write_all(b"PUT /live/slow HTTP/1.1\r\nHost: x\r\n")
            .await;
        sockets.push(tcp);
    }
    sockets
}

/// One more header line on each of the first sockets (those the caps let in; writes to sockets
/// the server closed fail, which is expected). The last socket is left alone: it is read later.
async fn drip(sockets: &mut [TcpStream]) {
    let held = sockets.len().saturating_sub(1).min(1_000);
    for tcp in &mut sockets[..held] {
        let write = tcp.write_all(b"X-Drip: 1\r\n");
        let _may_be_closed_already = tokio::time::timeout(Duration::from_millis(50), write).await;
    }
}

fn health_stays_up(port: u16) {
    for _ in 0..10 {
        assert_eq!(
            get(port, "/health").map(|(s, _)| s),
            Some(200),
            "/health must answer while the ingest port is flooded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a socket over the cap was told before it was closed.
async fn turned_away(sockets: &mut [TcpStream]) -> String {
    let last = sockets.last_mut().expect("sockets");
    let mut reply = Vec::new();
    let _closed = tokio::time::timeout(Duration::from_secs(5), last.read_to_end(&mut reply)).await;
    String::from_utf8_lossy(&reply).into_owned()
}

struct Flooded {
    child: std::process::Child,
    sockets: Vec<TcpStream>,
    ingest: u16,
    _db: TestDb,
}

/// Floods the ingest port of a server with 1,024 fds from 127.0.0.3 with up to 5,000 slow
/// sockets, and checks `/health` stays up and the sockets over the cap were told 503.
async fn flood(kind: Kind, env: &[(&str, &str)]) -> Flooded {
    let db = TestDb::new(kind);
    let hard = raise_fd_limit();
    let n = 5_000.min(hard.saturating_sub(500) as usize);
    assert!(
        n >= 2_000,
        "this test needs a hard fd limit of 2,500 or more"
    );
    let (child, port, ingest) = serve_with_1024_fds(&db, env);
    let addr: SocketAddr = format!("127.0.0.1:{ingest}").parse().expect("addr");
    let mut sockets = slow_sockets(addr, n, true).await;
    assert!(
        sockets.len() >= n - 10,
        "{} of {n} connected",
        sockets.len()
    );
    actix_web::web::block(move || health_stays_up(port))
        .await
        .expect("health");
    let reply = turned_away(&mut sockets).await;
    assert!(
        reply.starts_with("HTTP/1.1 503") && reply.contains("overloaded"),
        "{reply}"
    );
    drip(&mut sockets).await;
    Flooded {
        child,
        sockets,
        ingest,
        _db: db,
    }
}

/// What a client at 127.0.0.2 gets from the flooded ingest port: the status code.
async fn another_client(ingest: u16) -> String {
    let addr: SocketAddr = format!("127.0.0.1:{ingest}").parse().expect("addr");
    let mut tcp = connect_from("127.0.0.2", addr).await.expect("connect");
    tcp.write_all(b"GET /live/none/mp3-128 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer in 5 s");
    let answer = String::from_utf8_lossy(&answer);
    answer.split_whitespace().nth(1).unwrap_or("").to_owned()
}

async fn slow_sockets_from_one_client_are_capped_per_ip(kind: Kind) {
    let mut flooded = flood(kind, &[]).await;
    // Another client is served (a listener of an unknown mount: 404).
    assert_eq!(another_client(flooded.ingest).await, "404");
    drop(std::mem::take(&mut flooded.sockets));
    assert!(sigterm_and_wait(&mut flooded.child).success());
}

async fn slow_sockets_from_many_are_capped_in_total(kind: Kind) {
    // The slow sockets keep their places for the whole test: with the 10 s head deadline, a slow
    // machine freed them before the other client came, which then got served (404); the same
    // happened through the 10 s silence cut until the flood dripped header lines.
    let env = [
        ("VEZA_INGEST_MAX_PER_IP", "100000"),
        ("VEZA_INGEST_MAX_CONNECTIONS", "300"),
        ("VEZA_INGEST_HEAD_TIMEOUT_MS", "120000"),
    ];
    let mut flooded = flood(kind, &env).await;
    // The port is full for everyone.
    assert_eq!(another_client(flooded.ingest).await, "503");
    drop(std::mem::take(&mut flooded.sockets));
    assert!(sigterm_and_wait(&mut flooded.child).success());
}

/// The server's JSON log lines, as they come.
fn log_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<serde_json::Value> {
    use std::io::BufRead;
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str(&line) {
                if tx.send(value).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

/// The first log line with message `msg`, waiting up to `within`.
fn wait_for_log(
    lines: &std::sync::mpsc::Receiver<serde_json::Value>,
    msg: &str,
    within: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line["msg"] == msg => return line,
            Ok(_) => continue,
            Err(e) => panic!("no {msg:?} log line within {within:?}: {e}"),
        }
    }
}

/// Out of file descriptors, the ingest accept loop waits (10 ms doubling to 1 s) instead of
/// retrying at once: over a 3 s stretch of `EMFILE` it fails a handful of times, where a spinning
/// loop fails hundreds of thousands. Both ports serve again once descriptors come back.
async fn accept_errors_back_off_instead_of_spinning(kind: Kind) {
    let db = TestDb::new(kind);
    raise_fd_limit();
    let env = [
        ("VEZA_INGEST_MAX_PER_IP", "100000"),
        ("VEZA_INGEST_MAX_CONNECTIONS", "100000"),
        ("VEZA_INGEST_HEAD_TIMEOUT_MS", "120000"),
        ("VEZA_LOG_LEVEL", "info"),
    ];
    let (mut child, port, ingest) = serve_with_fds(&db, 256, &env, Stdio::piped());
    let lines = log_lines(&mut child);
    let addr: SocketAddr = format!("127.0.0.1:{ingest}").parse().expect("addr");
    // More sockets than the server has descriptors: the kernel completes their handshakes into
    // the listen backlog, and accepting them fails with EMFILE.
    let sockets = slow_sockets(addr, 400, false).await;
    wait_for_log(
        &lines,
        "ingest accept failed; backing off",
        Duration::from_secs(30),
    );
    // The measurement window: how often accept fails while descriptors stay exhausted.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(sockets);
    let recovered = wait_for_log(&lines, "ingest accept recovered", Duration::from_secs(30));
    let failures = recovered["failures"].as_u64().expect("failures");
    assert!(
        (1..100).contains(&failures),
        "{failures} accept failures in about 3 s"
    );
    actix_web::web::block(move || health_stays_up(port))
        .await
        .expect("health");
    assert!(sigterm_and_wait(&mut child).success());
}

on_both_backends!(
    accept_errors_back_off_instead_of_spinning,
    a_request_head_that_drips_in_is_cut_at_the_deadline,
    slow_sockets_from_one_client_are_capped_per_ip,
    slow_sockets_from_many_are_capped_in_total,
);
