//! Live-audio test helpers: REST calls, ffmpeg as a broadcaster, ffprobe/ffmpeg as listeners.

use super::server::{TestServer, TestUser};
use actix_web::web;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Stream {
    pub id: String,
    pub mount: String,
    pub key: String,
    pub ingest_url: String,
}

/// REST calls through a tiny blocking HTTP client (the server runs in this process).
pub async fn http(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let port = server.addr.port();
    let (method, path, token) = (method.to_owned(), path.to_owned(), token.map(str::to_owned));
    web::block(move || {
        let text = body.map(|b| b.to_string());
        let (status, reply) =
            super::process::request(port, &method, &path, token.as_deref(), text.as_deref())
                .expect("HTTP");
        (status, serde_json::from_str(&reply).unwrap_or(Value::Null))
    })
    .await
    .unwrap()
}

pub async fn create_stream(server: &TestServer, user: &TestUser, title: &str) -> Stream {
    create_stream_with(server, user, json!({"title": title})).await
}

/// A stream made with this `POST /api/v2/streams` body (e.g. with a `room_id`).
pub async fn create_stream_with(server: &TestServer, user: &TestUser, body: Value) -> Stream {
    let (status, body) = http(
        server,
        "POST",
        "/api/v2/streams",
        Some(&user.token),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    Stream {
        id: body["id"].as_str().unwrap().to_owned(),
        mount: body["mount"].as_str().unwrap().to_owned(),
        key: body["stream_key"].as_str().unwrap().to_owned(),
        ingest_url: body["ingest_url"].as_str().unwrap().to_owned(),
    }
}

/// A child process that is killed and reaped when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _already_exited_is_fine = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Decodes `seconds` of a URL with ffmpeg to mono f32 samples at `rate`.
pub fn decode_mono(url: &str, seconds: f32, rate: u32) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", url, "-t"])
        .arg(seconds.to_string())
        .args(["-ac", "1", "-ar"])
        .arg(rate.to_string())
        .args(["-f", "f32le", "-"])
        .output()
        .expect("ffmpeg");
    out.stdout
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// ffmpeg sending a lavfi `source` (e.g. `sine=...`, `anoisesrc=...`) at real-time speed to
/// `url`, encoded with `encode` (codec and muxer arguments) and announced as `content_type`.
fn ffmpeg_source(url: &str, source: &str, encode: &[&str], content_type: &str) -> Running {
    Running(
        Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                source,
            ])
            .args(["-ac", "2"])
            .args(encode)
            .args(["-content_type", content_type, url])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ffmpeg on PATH"),
    )
}

fn sine(freq: u32, seconds: u32) -> String {
    format!("sine=frequency={freq}:sample_rate=48000:duration={seconds}")
}

const MP3_192: [&str; 6] = ["-c:a", "libmp3lame", "-b:a", "192k", "-f", "mp3"];

/// ffmpeg broadcasting a sine for `seconds` as 192k MP3 (`legacy`: the old SOURCE method).
pub fn broadcast(url: &str, seconds: u32, freq: u32, legacy: bool) -> Running {
    let mut encode = MP3_192.to_vec();
    if legacy {
        encode.extend(["-legacy_icecast", "1"]);
    }
    ffmpeg_source(url, &sine(freq, seconds), &encode, "audio/mpeg")
}

/// ffmpeg broadcasting a sine in any format: `encode` are the codec and muxer arguments (e.g.
/// `["-c:a", "flac", "-f", "flac"]`), `content_type` what the source announces.
pub fn broadcast_as(
    url: &str,
    freq: u32,
    seconds: u32,
    encode: &[&str],
    content_type: &str,
) -> Running {
    ffmpeg_source(url, &sine(freq, seconds), encode, content_type)
}

/// ffmpeg broadcasting any lavfi source (e.g. `anoisesrc=...`) as 192k MP3.
pub fn broadcast_lavfi(url: &str, source: &str) -> Running {
    ffmpeg_source(url, source, &MP3_192, "audio/mpeg")
}

/// ffprobe's view of a URL: codec, sample rate, bit rate.
pub async fn probe(url: String) -> Value {
    web::block(move || {
        let out = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,sample_rate,channels,bit_rate",
                "-of",
                "json",
                &url,
            ])
            .output()
            .expect("ffprobe on PATH");
        assert!(
            out.status.success(),
            "ffprobe {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["streams"][0].clone()
    })
    .await
    .unwrap()
}

pub async fn wait_live(server: &TestServer, stream: &Stream) {
    // 30 s: ffmpeg starting and connecting is slow when the suite loads both cores.
    for _ in 0..300 {
        let (_, body) = http(
            server,
            "GET",
            &format!("/api/v2/streams/{}", stream.id),
            None,
            None,
        )
        .await;
        if body["live"] == true {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("stream {} ({}) never went live", stream.id, stream.mount);
}

/// Waits (up to `seconds`) until the stream is off air; panics with `why` if it stays live.
pub async fn wait_off_air(server: &TestServer, stream: &Stream, seconds: u64, why: &str) {
    for _ in 0..seconds * 10 {
        let path = format!("/api/v2/streams/{}", stream.id);
        let (_, body) = http(server, "GET", &path, None, None).await;
        if body["live"] == false {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{why}");
}

/// GETs `url` into `target` until it stops answering 202 (a clip or recording being made);
/// returns `"STATUS CONTENT_TYPE"`.
pub fn fetch_when_ready(url: &str, target: &std::path::Path, seconds: u64) -> String {
    for _ in 0..seconds * 10 {
        let out = Command::new("curl")
            .args(["-s", "-o"])
            .arg(target)
            .args(["-w", "%{http_code} %{content_type}", url])
            .output()
            .expect("curl");
        let status = String::from_utf8_lossy(&out.stdout).into_owned();
        if !status.starts_with("202") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{url} never became ready");
}

/// Decodes one second of a URL with ffmpeg to mono s16 at 8 kHz and finds the loudest frequency by
/// counting zero crossings (enough for a pure tone).
pub fn dominant_frequency(url: &str) -> f64 {
    let out = Command::new("ffmpeg")
        .args([
            "-v", "error", "-i", url, "-t", "1.5", "-ac", "1", "-ar", "8000", "-f", "s16le", "-",
        ])
        .output()
        .expect("ffmpeg");
    let samples: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let tail = &samples[samples.len() / 3..];
    let crossings = tail.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    crossings as f64 / 2.0 / (tail.len() as f64 / 8000.0)
}

/// What a [`PacedSource`] does.
const SENDING: u8 = 0;
const STALLED: u8 = 1;
const LEAVING: u8 = 2;

/// A live source opened by hand on the ingest port, sending an MP3 file at its own byte rate in
/// real time (0.3 s ahead, as an encoder's buffer would be). Stalled, it keeps the connection open
/// and sends nothing; dropped, it closes the connection.
pub struct PacedSource {
    state: std::sync::Arc<std::sync::atomic::AtomicU8>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PacedSource {
    /// Sends `mp3` (`seconds` long) to `stream`'s mount on the ingest port at `ingest`.
    pub fn start(ingest: SocketAddr, stream: &Stream, mp3: Vec<u8>, seconds: u32) -> Self {
        use std::sync::atomic::{AtomicU8, Ordering};
        let state = std::sync::Arc::new(AtomicU8::new(SENDING));
        let auth = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(format!("source:{}", stream.key))
        };
        let head = format!(
            "PUT /live/{} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: audio/mpeg\r\n\r\n",
            stream.mount
        );
        let per_second = mp3.len() as f64 / f64::from(seconds);
        let shared = state.clone();
        // On a thread of its own, handshake included: the server may run on the test's runtime.
        let thread = std::thread::spawn(move || {
            let Some(mut tcp) = open_source(ingest, &head) else {
                return;
            };
            let (mut sent, mut active) = (0usize, Duration::ZERO);
            let mut last = Instant::now();
            loop {
                let now = Instant::now();
                match shared.load(Ordering::SeqCst) {
                    LEAVING => return,
                    SENDING => active += now - last,
                    _ => {}
                }
                last = now;
                let due = ((active.as_secs_f64() + 0.3) * per_second) as usize;
                let due = due.min(mp3.len());
                if due > sent {
                    if std::io::Write::write_all(&mut tcp, &mp3[sent..due]).is_err() {
                        return;
                    }
                    sent = due;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        PacedSource {
            state,
            thread: Some(thread),
        }
    }

    /// Keeps the connection open and sends nothing.
    pub fn stall(&self) {
        self.set(STALLED);
    }

    /// Sends again, from where it stalled.
    pub fn resume(&self) {
        self.set(SENDING);
    }

    fn set(&self, what: u8) {
        self.state.store(what, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for PacedSource {
    fn drop(&mut self) {
        self.set(LEAVING);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends a source's request `head` to the ingest at `addr`; the connection once it is accepted.
fn open_source(addr: SocketAddr, head: &str) -> Option<std::net::TcpStream> {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(addr).ok()?;
    tcp.write_all(head.as_bytes()).ok()?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).ok()? == 0 {
            break;
        }
        reply.push(byte[0]);
    }
    let ok = reply.starts_with(b"HTTP/1.1 200");
    if !ok {
        eprintln!("source refused: {}", String::from_utf8_lossy(&reply));
    }
    ok.then_some(tcp)
}
