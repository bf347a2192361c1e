//! One HTTP/1.1 request with a binary body and a binary answer, on its own connection (the
//! harness's `call` sends and reads JSON only).
#![allow(dead_code)]

use serde_json::Value;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Status, headers (lower-cased names) and the body's bytes.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawReply {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.expect("write head");
    // The server may answer (413) and close before reading all of a large body.
    let _ = tcp.write_all(body).await;
    let mut bytes = Vec::new();
    let _ = tcp.read_to_end(&mut bytes).await;
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    RawReply {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}

/// The boundary of [`form`] bodies.
pub const BOUNDARY: &str = "veza-test-boundary-5e1f";

/// A multipart/form-data body with one part: `disposition` is the part's raw
/// `Content-Disposition` parameters after `form-data; ` (so tests can send any filename bytes).
pub fn form(disposition: &[u8], declared: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; ").into_bytes();
    body.extend_from_slice(disposition);
    body.extend_from_slice(format!("\r\nContent-Type: {declared}\r\n\r\n").as_bytes());
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}
