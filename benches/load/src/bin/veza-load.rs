//! `veza-load`: opens N authenticated WebSockets across M rooms, sends at a fixed total rate, and
//! reports deliveries/s, latency percentiles (send -> every receive, send -> ack), errors, and the
//! server's CPU and RSS per connection (from /proc, given `--server-pid`).
//!
//! With `--baseline` it skips accounts and REST (the baseline server has neither) and uses room ids
//! 1..=M, so the same client measures both servers.
//!
//! With `--idle S` it sends nothing: it opens and joins the connections, holds them idle for S
//! seconds (answering the server's pings), reads the server's RSS, and prints the result line
//! (`rss_per_conn_kib` = RSS after - RSS before, divided by the connections). For memory per
//! connection without the rest of the benchmark.
//!
//! With `--read-every-ms N` each connection behaves like a client viewing its room: when it has
//! received new `message` events it sends one `read` frame with the highest seq it saw, at most once
//! every N ms, and counts the `unread` frames it gets back (`read_frames`, `unread_frames`).
//!
//! With `--tokens FILE` the accounts are reused: if FILE holds at least `--users` access tokens they
//! are read from it and nothing is registered; otherwise the accounts are registered and their
//! tokens written to it (`--setup-only` then stops there). Registration (argon2) is the slow part
//! of a run with thousands of accounts, so a script registers once and copies the database.

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug, Clone)]
#[command(about = "Chat load generator for Veza (and the baseline server)")]
struct Args {
    /// Server address (host:port). Repeat it for several nodes of one cluster: connection i goes to
    /// address i mod N, accounts and rooms are made on the first.
    #[arg(long = "addr", default_value = "127.0.0.1:8080")]
    addrs: Vec<String>,
    /// WebSocket connections to open.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Rooms they are spread over.
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Accounts the connections share (registration is slow by design: argon2).
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Total sends per second.
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Length of the measured window, after a 2 s warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Talk to the baseline server (no accounts, no REST).
    #[arg(long)]
    baseline: bool,
    /// The server's pid, to read its CPU time and RSS from /proc. Repeat it for several processes
    /// (the nodes, and Redis): CPU and RSS are their sums.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// A label for the result line.
    #[arg(long, default_value = "veza")]
    label: String,
    /// Idle mode: connect and join, hold the connections this many seconds without sending, report
    /// RSS per connection and exit (no send window).
    #[arg(long)]
    idle: Option<u64>,
    /// Read markers: after new `message` events, send one `read` frame with the highest seq seen, at
    /// most once every this many ms (0: never, no unread tracking from the client).
    #[arg(long, default_value_t = 0)]
    read_every_ms: u64,
    /// Access tokens, one a line: read from it if it holds at least `--users`, else the accounts are
    /// registered and their tokens written to it.
    #[arg(long)]
    tokens: Option<std::path::PathBuf>,
    /// Register the accounts (writing `--tokens`) and exit.
    #[arg(long)]
    setup_only: bool,
    /// Before sending, wait until no frame arrived for a second (the join/presence backlog), at
    /// most this many seconds.
    #[arg(long, default_value_t = 300)]
    settle_max_s: u64,
    /// Registrations in flight at once.
    #[arg(long, default_value_t = 8)]
    register_concurrency: usize,
}

/// Bytes and frames received by all connections, and the largest frame (reported in idle mode).
static RX_BYTES: AtomicU64 = AtomicU64::new(0);
static RX_FRAMES: AtomicU64 = AtomicU64::new(0);
static RX_MAX_FRAME: AtomicU64 = AtomicU64::new(0);
/// `read` frames sent and `unread` frames received by all connections (all of the run, and those in
/// the measured window), and the sum of the `unread` counts received (for their mean).
static READS_SENT: AtomicU64 = AtomicU64::new(0);
static READS_SENT_WINDOW: AtomicU64 = AtomicU64::new(0);
static UNREAD_RX: AtomicU64 = AtomicU64::new(0);
static UNREAD_RX_WINDOW: AtomicU64 = AtomicU64::new(0);
static UNREAD_SUM: AtomicU64 = AtomicU64::new(0);

fn count_rx(len: usize) {
    RX_BYTES.fetch_add(len as u64, Ordering::Relaxed);
    RX_FRAMES.fetch_add(1, Ordering::Relaxed);
    RX_MAX_FRAME.fetch_max(len as u64, Ordering::Relaxed);
}

fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    start().elapsed().as_micros() as u64
}

/// Plain HTTP/1.1 JSON call for setup.
async fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Result<Value, String> {
    let mut tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    tcp.read_to_string(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    let (head, body) = reply.split_once("\r\n\r\n").ok_or("bad HTTP reply")?;
    if !head.starts_with("HTTP/1.1 2") {
        return Err(format!("{method} {path}: {head} {body}"));
    }
    serde_json::from_str(body).map_err(|e| e.to_string())
}

/// CPU seconds of all `pids` (None if any is unreadable).
fn servers_cpu_s(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| proc_cpu_s(p)).sum()
}

/// RSS of all `pids` in KiB (None if any is unreadable).
fn servers_rss_kib(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| proc_rss_kib(p)).sum()
}

fn proc_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn proc_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[derive(Default)]
struct ConnStats {
    delivery_us: Vec<u32>,
    ack_us: Vec<u32>,
    errors: HashMap<String, u64>,
    closed: Option<String>,
}

/// Shared switches and counters.
struct Run {
    window: (AtomicU64, AtomicU64),
    stop: AtomicBool,
    sent_in_window: AtomicU64,
}

impl Run {
    fn in_window(&self, t: u64) -> bool {
        t >= self.window.0.load(Ordering::Relaxed) && t < self.window.1.load(Ordering::Relaxed)
    }
}

async fn connection(
    args: Arc<Args>,
    index: usize,
    token: String,
    room: String,
    run: Arc<Run>,
    mut sends: mpsc::Receiver<()>,
    ready: mpsc::Sender<Result<(), String>>,
) -> ConnStats {
    let mut stats = ConnStats::default();
    let addr = &args.addrs[index % args.addrs.len()];
    let url = format!("ws://{addr}/ws?access_token={token}");
    let ws = match tokio_tungstenite::connect_async(url).await {
        Ok((ws, _)) => ws,
        Err(e) => {
            let _ = ready.send(Err(format!("connect: {e}"))).await;
            return stats;
        }
    };
    let (mut sink, mut stream) = ws.split();
    let join = json!({"type": "join", "room": room}).to_string();
    if sink.send(Message::text(join)).await.is_err() {
        let _ = ready.send(Err("join send failed".into())).await;
        return stats;
    }
    loop {
        let msg = stream.next().await;
        if let Some(Ok(m)) = &msg {
            count_rx(m.len());
        }
        match msg {
            Some(Ok(Message::Text(t))) if t.contains("\"joined\"") => break,
            Some(Ok(Message::Text(t))) if t.contains("\"error\"") => {
                let _ = ready.send(Err(format!("join: {t}"))).await;
                return stats;
            }
            Some(Ok(_)) => continue,
            other => {
                let _ = ready.send(Err(format!("join: {other:?}"))).await;
                return stats;
            }
        }
    }
    let _ = ready.send(Ok(())).await;
    let mut n = 0u64;
    // Read markers (`--read-every-ms`): the highest seq seen, the last one sent, when it was sent.
    let read_every = Duration::from_millis(args.read_every_ms);
    let (mut seen_seq, mut read_seq) = (0i64, 0i64);
    let mut last_read: Option<tokio::time::Instant> = None;
    let read_timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(read_timer);
    let mut read_armed = false;
    loop {
        tokio::select! {
            () = &mut read_timer, if read_armed => {
                read_armed = false;
                let frame = json!({"type": "read", "room": room, "seq": seen_seq});
                if sink.send(Message::text(frame.to_string())).await.is_err() { break; }
                read_seq = seen_seq;
                last_read = Some(tokio::time::Instant::now());
                READS_SENT.fetch_add(1, Ordering::Relaxed);
                if run.in_window(now_us()) { READS_SENT_WINDOW.fetch_add(1, Ordering::Relaxed); }
            }
            cmd = sends.recv() => {
                if cmd.is_none() { break; }
                let t = now_us();
                n += 1;
                if run.in_window(t) { run.sent_in_window.fetch_add(1, Ordering::Relaxed); }
                let frame = json!({"type": "send", "room": room, "body": format!("t={t}"), "client_id": format!("{t}-{index}-{n}")});
                if sink.send(Message::text(frame.to_string())).await.is_err() { break; }
            }
            msg = stream.next() => {
                let Some(Ok(msg)) = msg else { stats.closed = Some("socket ended".into()); break };
                count_rx(msg.len());
                match msg {
                    Message::Text(text) => {
                        let now = now_us();
                        let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                        match v["type"].as_str() {
                            Some("message") => {
                                if !read_every.is_zero() {
                                    let seq = v["message"]["seq"].as_i64().unwrap_or(0);
                                    seen_seq = seen_seq.max(seq);
                                    if !read_armed && seen_seq > read_seq {
                                        // At most one read per `read_every`: at once after a pause.
                                        let at = last_read.map_or_else(tokio::time::Instant::now, |l| l + read_every);
                                        read_timer.as_mut().reset(at.max(tokio::time::Instant::now()));
                                        read_armed = true;
                                    }
                                }
                                if let Some(t) = v["message"]["body"].as_str().and_then(|b| b.strip_prefix("t=")).and_then(|t| t.parse::<u64>().ok()) {
                                    if run.in_window(t) { stats.delivery_us.push(now.saturating_sub(t) as u32); }
                                }
                            }
                            Some("ack") => {
                                if let Some(t) = v["client_id"].as_str().and_then(|c| c.split('-').next()).and_then(|t| t.parse::<u64>().ok()) {
                                    if run.in_window(t) { stats.ack_us.push(now.saturating_sub(t) as u32); }
                                }
                            }
                            Some("unread") => {
                                UNREAD_RX.fetch_add(1, Ordering::Relaxed);
                                if run.in_window(now) { UNREAD_RX_WINDOW.fetch_add(1, Ordering::Relaxed); }
                                UNREAD_SUM.fetch_add(v["unread"].as_u64().unwrap_or(0), Ordering::Relaxed);
                            }
                            Some("error") => {
                                *stats.errors.entry(v["code"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
                            }
                            _ => {}
                        }
                    }
                    Message::Close(frame) => { stats.closed = Some(format!("{frame:?}")); break; }
                    _ => {}
                }
                if run.stop.load(Ordering::Relaxed) { break; }
            }
        }
    }
    stats
}

/// The accounts' access tokens: from `--tokens` if it holds enough, else registered (several at
/// once) and written to it.
async fn accounts(args: &Args, setup: &str, tag: &str) -> Result<Vec<String>, String> {
    let want = args.users.max(1);
    if let Some(path) = &args.tokens {
        if let Ok(text) = std::fs::read_to_string(path) {
            let tokens: Vec<String> = text.lines().map(str::to_owned).collect();
            if tokens.len() >= want {
                eprintln!("{want} accounts from {}", path.display());
                return Ok(tokens.into_iter().take(want).collect());
            }
        }
    }
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.register_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(want);
    for i in 0..want {
        let (gate, setup, username) = (gate.clone(), setup.to_owned(), format!("ld{tag}_{i}"));
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let body = json!({"username": username, "password": "load-test-password"});
            let reply = http(&setup, "POST", "/api/v2/auth/register", None, body).await?;
            reply["access_token"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| String::from("no token"))
        }));
    }
    let mut tokens = Vec::with_capacity(want);
    for task in tasks {
        tokens.push(task.await.map_err(|e| e.to_string())??);
    }
    eprintln!(
        "{want} accounts registered in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.tokens {
        std::fs::write(path, tokens.join("\n")).map_err(|e| e.to_string())?;
    }
    Ok(tokens)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Arc::new(Args::parse());
    let setup = args.addrs.first().ok_or("no --addr")?.clone();
    start();
    // Time and pid: several generators may register against one cluster at once.
    let tag = format!(
        "{:x}{:x}",
        std::process::id() % 0xfff,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_millis()
            % 0xffffff
    );

    // Accounts and rooms.
    let (tokens, rooms) = if args.baseline {
        (
            vec![String::from("none"); args.users.max(1)],
            (1..=args.rooms).map(|r| r.to_string()).collect::<Vec<_>>(),
        )
    } else {
        let tokens = accounts(&args, &setup, &tag).await?;
        if args.setup_only {
            eprintln!("{} accounts ready", tokens.len());
            return Ok(());
        }
        let mut rooms = Vec::new();
        for r in 0..args.rooms {
            let reply = http(
                &setup,
                "POST",
                "/api/v2/rooms",
                Some(&tokens[0]),
                json!({"name": format!("load {tag} {r}")}),
            )
            .await?;
            rooms.push(reply["id"].as_str().ok_or("no room id")?.to_owned());
        }
        (tokens, rooms)
    };

    // Connections. RSS is taken after the set-up, so the figure per connection is only theirs.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = servers_rss_kib(&args.server_pids);
    let run = Arc::new(Run {
        window: (AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)),
        stop: AtomicBool::new(false),
        sent_in_window: AtomicU64::new(0),
    });
    let (ready_tx, mut ready_rx) = mpsc::channel(args.connections.max(1));
    let gate = Arc::new(Semaphore::new(256));
    let mut senders = Vec::with_capacity(args.connections);
    let mut tasks = Vec::with_capacity(args.connections);
    let connect_started = Instant::now();
    for i in 0..args.connections {
        let (tx, rx) = mpsc::channel(64);
        senders.push(tx);
        let (args2, run2, ready2, gate2) =
            (args.clone(), run.clone(), ready_tx.clone(), gate.clone());
        let token = tokens[i % tokens.len()].clone();
        let room = rooms[i % rooms.len()].clone();
        tasks.push(tokio::spawn(async move {
            let permit = gate2.acquire_owned().await;
            let (inner_ready, mut inner_rx) = mpsc::channel(1);
            let handle = tokio::spawn(connection(args2, i, token, room, run2, rx, inner_ready));
            let outcome = inner_rx
                .recv()
                .await
                .unwrap_or(Err("connection task ended".into()));
            drop(permit);
            let _ = ready2.send(outcome).await;
            handle.await.unwrap_or_default()
        }));
    }
    drop(ready_tx);
    let mut connected = 0;
    let mut failed = Vec::new();
    for _ in 0..args.connections {
        match ready_rx.recv().await {
            Some(Ok(())) => connected += 1,
            Some(Err(e)) => failed.push(e),
            None => break,
        }
    }
    let connect_s = connect_started.elapsed().as_secs_f64();
    eprintln!(
        "{connected} connected, {} failed, in {connect_s:.1} s",
        failed.len()
    );
    if let Some(first) = failed.first() {
        eprintln!("first failure: {first}");
    }
    if let Some(hold) = args.idle {
        return idle_report(
            &args,
            connected,
            failed.len(),
            rooms.len(),
            hold,
            rss_before,
        )
        .await;
    }
    // Settle: in one big room every join sends presence to everyone already there (O(members^2)
    // frames while connecting); wait until the connections stop receiving before the window, or
    // the deliveries measured queue behind that backlog.
    let settle_started = Instant::now();
    let mut last = RX_FRAMES.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = RX_FRAMES.load(Ordering::Relaxed);
        if now == last || settle_started.elapsed() > Duration::from_secs(args.settle_max_s) {
            break;
        }
        last = now;
    }
    let settle_s = settle_started.elapsed().as_secs_f64();
    eprintln!("settled in {settle_s:.1} s");
    let rss_idle = servers_rss_kib(&args.server_pids);

    // Send at the fixed rate: 2 s warm-up, then the measured window.
    let warmup = Duration::from_secs(2);
    let window = Duration::from_secs(args.seconds);
    let t0 = now_us() + warmup.as_micros() as u64;
    run.window.0.store(t0, Ordering::Relaxed);
    run.window
        .1
        .store(t0 + window.as_micros() as u64, Ordering::Relaxed);
    let mut cpu_start = None;
    let mut own_cpu_start = None;
    let began = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut owed = 0.0f64;
    let mut next = 0usize;
    let mut dropped = 0u64;
    while began.elapsed() < warmup + window {
        tick.tick().await;
        if cpu_start.is_none() && began.elapsed() >= warmup {
            cpu_start = servers_cpu_s(&args.server_pids);
            own_cpu_start = proc_cpu_s(std::process::id());
        }
        owed += args.rate as f64 / 1000.0;
        while owed >= 1.0 {
            owed -= 1.0;
            if senders.is_empty() {
                break;
            }
            if senders[next % senders.len()].try_send(()).is_err() {
                dropped += 1;
            }
            next += 1;
        }
    }
    let cpu_s = match (cpu_start, servers_cpu_s(&args.server_pids)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let own_cpu_s = match (own_cpu_start, proc_cpu_s(std::process::id())) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let rss_busy = servers_rss_kib(&args.server_pids);
    // Let the last deliveries arrive, then stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    run.stop.store(true, Ordering::Relaxed);
    drop(senders);
    let mut delivery = Vec::new();
    let mut acks = Vec::new();
    let mut errors: HashMap<String, u64> = HashMap::new();
    let mut closed = 0;
    for task in tasks {
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(5), task).await {
            delivery.extend(s.delivery_us);
            acks.extend(s.ack_us);
            for (k, v) in s.errors {
                *errors.entry(k).or_default() += v;
            }
            if s.closed.is_some() {
                closed += 1;
            }
        }
    }
    delivery.sort_unstable();
    acks.sort_unstable();
    let secs = window.as_secs_f64();
    let sent = run.sent_in_window.load(Ordering::Relaxed);
    let per_room = connected as f64 / rooms.len() as f64;
    let expected = sent as f64 * per_room;
    let result = json!({
        "label": args.label, "nodes": args.addrs.len(),
        "connections": connected, "failed": failed.len(), "rooms": rooms.len(), "rate": args.rate, "seconds": args.seconds,
        "sent": sent, "acked": acks.len(), "deliveries": delivery.len(), "expected_deliveries": expected.round(),
        "deliveries_per_s": (delivery.len() as f64 / secs).round(),
        "delivery_ms": {"p50": percentile(&delivery, 0.5), "p99": percentile(&delivery, 0.99), "p999": percentile(&delivery, 0.999), "max": percentile(&delivery, 1.0)},
        "ack_ms": {"p50": percentile(&acks, 0.5), "p99": percentile(&acks, 0.99), "p999": percentile(&acks, 0.999), "max": percentile(&acks, 1.0)},
        "errors": errors, "closed_early": closed, "scheduler_drops": dropped,
        "server_cpu_cores": cpu_s.map(|c| (c / secs * 1000.0).round() / 1000.0),
        "server_cpu_ms_per_1k_deliveries": cpu_s.filter(|_| !delivery.is_empty()).map(|c| (c * 1e6 / delivery.len() as f64 * 100.0).round() / 100.0),
        "loadgen_cpu_cores": own_cpu_s.map(|c| (c / secs * 1000.0).round() / 1000.0),
        "server_rss_kib": {"before": rss_before, "idle_connected": rss_idle, "busy": rss_busy},
        "rss_per_conn_kib": match (rss_before, rss_idle) { (Some(a), Some(b)) if connected > 0 => Some(((b as f64 - a as f64) / connected as f64 * 100.0).round() / 100.0), _ => None },
        "connect_s": (connect_s * 10.0).round() / 10.0,
        "settle_s": (settle_s * 10.0).round() / 10.0,
        "read_every_ms": args.read_every_ms,
        "read_frames": READS_SENT.load(Ordering::Relaxed), "read_frames_in_window": READS_SENT_WINDOW.load(Ordering::Relaxed),
        "unread_frames": UNREAD_RX.load(Ordering::Relaxed), "unread_frames_in_window": UNREAD_RX_WINDOW.load(Ordering::Relaxed),
        "unread_mean": match UNREAD_RX.load(Ordering::Relaxed) { 0 => None, n => Some((UNREAD_SUM.load(Ordering::Relaxed) as f64 / n as f64 * 100.0).round() / 100.0) },
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&result).unwrap_or_default()
    );
    println!("RESULT {result}");
    Ok(())
}

/// `--idle`: the connections stay open and silent (their tasks still answer pings) for `hold`
/// seconds, then the server's RSS is read once more. Reports and exits; dropping the runtime closes
/// the sockets.
async fn idle_report(
    args: &Args,
    connected: usize,
    failed: usize,
    rooms: usize,
    hold: u64,
    rss_before: Option<u64>,
) -> Result<(), String> {
    tokio::time::sleep(Duration::from_secs(hold.max(1))).await;
    let rss_idle = servers_rss_kib(&args.server_pids);
    let per_conn = match (rss_before, rss_idle) {
        (Some(a), Some(b)) if connected > 0 => {
            Some(((b as f64 - a as f64) / connected as f64 * 100.0).round() / 100.0)
        }
        _ => None,
    };
    let result = json!({
        "label": args.label, "mode": "idle", "nodes": args.addrs.len(), "connections": connected, "failed": failed,
        "rooms": rooms, "hold_s": hold,
        "server_rss_kib": {"before": rss_before, "idle_connected": rss_idle},
        "rss_per_conn_kib": per_conn,
        "received": {"frames": RX_FRAMES.load(Ordering::Relaxed), "bytes": RX_BYTES.load(Ordering::Relaxed),
            "largest_frame": RX_MAX_FRAME.load(Ordering::Relaxed)},
    });
    println!("RESULT {result}");
    Ok(())
}
