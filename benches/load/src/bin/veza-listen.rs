//! Progressive listeners for the audio benchmark: N HTTP clients of one stream URL (Veza's
//! `/live/MOUNT/VARIANT` or an Icecast mount), each playing out at the stream's bitrate from a
//! small buffer, like a player. An underrun is a moment a listener's buffer runs dry (it then
//! re-buffers); a drop is a connection that ends before the run does. Prints one JSON line.

use clap::Parser;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// host:port of the server.
    #[arg(long)]
    addr: String,
    /// Path of the stream, e.g. /live/jazz/mp3-128 or /jazz.
    #[arg(long)]
    path: String,
    /// Listeners.
    #[arg(long, default_value_t = 100)]
    listeners: usize,
    /// Seconds each listener listens once all are connected.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The stream's bitrate in kbit/s (the playout rate).
    #[arg(long, default_value_t = 128)]
    kbps: u64,
    /// Seconds of audio buffered before playback starts (and after an underrun).
    #[arg(long, default_value_t = 1.0)]
    prebuffer: f64,
    /// New connections per second while ramping up.
    #[arg(long, default_value_t = 1000)]
    ramp: u64,
}

#[derive(Default, Debug)]
struct Outcome {
    connected: bool,
    underruns: u64,
    dropped: bool,
    bytes: u64,
}

async fn listen(args: &Args, until: Instant) -> Outcome {
    // A server that never answers (a full accept queue, a client cap that holds connections
    // unanswered) leaves the listener unconnected at the end of the run, not hanging. (A
    // connected one returns at `until` by itself.)
    let grace = until + Duration::from_secs(5);
    tokio::time::timeout_at(grace.into(), play(args, until))
        .await
        .unwrap_or_default()
}

async fn play(args: &Args, until: Instant) -> Outcome {
    let mut out = Outcome::default();
    let Ok(mut tcp) = TcpStream::connect(&args.addr).await else {
        return out;
    };
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: veza-listen\r\nAccept: */*\r\n\r\n",
        args.path, args.addr
    );
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return out;
    }
    let rate = args.kbps as f64 * 1000.0 / 8.0;
    let prebuffer = (rate * args.prebuffer) as u64;
    let mut buf = vec![0u8; 16 * 1024];
    let mut head = Vec::new();
    // Headers first.
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if !head.starts_with(b"HTTP/1.0 200") && !head.starts_with(b"HTTP/1.1 200") {
                return out;
            }
            out.connected = true;
            out.bytes = (head.len() - end - 4) as u64;
            break;
        }
    }
    // Playout: the player starts once `prebuffer` bytes are in, then consumes `rate` bytes a
    // second; `consumed` counts what it had played before the current run started at `t0`.
    let mut consumed = 0u64;
    let mut playing: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= until {
            return out;
        }
        let wait = (until - now).min(Duration::from_millis(100));
        match tokio::time::timeout(wait, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                out.dropped = Instant::now() < until;
                return out;
            }
            Ok(Ok(n)) => out.bytes += n as u64,
            Err(_) => {}
        }
        match playing {
            None if out.bytes >= consumed + prebuffer => playing = Some(Instant::now()),
            None => {}
            Some(t0) => {
                let played = consumed + (t0.elapsed().as_secs_f64() * rate) as u64;
                if played > out.bytes {
                    // The buffer ran dry: an audible gap; re-buffer.
                    out.underruns += 1;
                    consumed = out.bytes;
                    playing = None;
                }
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let args = std::sync::Arc::new(Args::parse());
    let ramp = Duration::from_secs_f64(args.listeners as f64 / args.ramp.max(1) as f64);
    let until = Instant::now() + ramp + Duration::from_secs(args.seconds);
    let mut tasks = Vec::with_capacity(args.listeners);
    let gap = Duration::from_secs_f64(1.0 / args.ramp.max(1) as f64);
    for _ in 0..args.listeners {
        let args = args.clone();
        tasks.push(tokio::spawn(async move { listen(&args, until).await }));
        tokio::time::sleep(gap).await;
    }
    eprintln!("veza-listen: {} listeners started", args.listeners);
    let mut connected = 0;
    let mut underruns = 0;
    let mut with_underrun = 0;
    let mut dropped = 0;
    let mut bytes = 0;
    for t in tasks {
        let o = t.await.unwrap_or_default();
        connected += usize::from(o.connected);
        underruns += o.underruns;
        with_underrun += usize::from(o.underruns > 0);
        dropped += usize::from(o.dropped);
        bytes += o.bytes;
    }
    println!(
        "{}",
        json!({
            "listeners": args.listeners,
            "connected": connected,
            "dropped": dropped,
            "underruns": underruns,
            "listeners_with_underrun": with_underrun,
            "mbytes_received": bytes as f64 / 1e6,
        })
    );
}
