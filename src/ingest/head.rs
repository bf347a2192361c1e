//! The request head on the Icecast port: read up to the blank line (at most 16 KiB, each read
//! within 10 s; the whole head's deadline is the caller's), then parsed into method, path and
//! headers. The parser takes any bytes: it never panics, whatever a client sends.

use bytes::BytesMut;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

const MAX_HEAD: usize = 16 * 1024;

pub struct Head {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

/// Reads the head; returns it and whatever came after it (the start of the audio).
pub async fn read_head(tcp: &mut TcpStream) -> std::io::Result<(Head, BytesMut)> {
    let mut buf = BytesMut::with_capacity(4096);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read_buf(&mut buf))
            .await
            .map_err(|_| std::io::Error::other("timed out reading the request head"))??;
        if n == 0 {
            return Err(std::io::Error::other(
                "closed before the request head ended",
            ));
        }
    };
    let head = buf.split_to(end + 4);
    Ok((parse_head(&head), buf))
}

/// Method, path and headers (names lower-cased; a repeated name keeps its last value) of a head.
/// Lines without a colon are skipped; invalid UTF-8 is replaced.
pub fn parse_head(head: &[u8]) -> Head {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Head {
        method,
        path,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn any_bytes_parse_without_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let head = parse_head(&bytes);
            prop_assert!(!head.method.contains(char::is_whitespace));
            prop_assert!(head.headers.keys().all(|k| !k.contains(':')));
        }

        #[test]
        fn well_formed_heads_parse_back(
            method in "(PUT|SOURCE|GET)",
            path in "/[a-z0-9/?=&.-]{0,40}",
            headers in prop::collection::btree_map("[A-Za-z-]{1,16}", "[ -~]{0,40}", 0..8),
        ) {
            let mut text = format!("{method} {path} HTTP/1.1\r\n");
            for (k, v) in &headers {
                text.push_str(&format!("{k}: {v}\r\n"));
            }
            text.push_str("\r\n");
            let head = parse_head(text.as_bytes());
            prop_assert_eq!(&head.method, &method);
            prop_assert_eq!(&head.path, &path);
            for (k, v) in &headers {
                let last = headers
                    .iter()
                    .rfind(|(k2, _)| k2.eq_ignore_ascii_case(k))
                    .map(|(_, v2)| v2.trim());
                let got = head.headers.get(&k.to_ascii_lowercase()).map(String::as_str);
                prop_assert_eq!(got, last, "{}: {}", k, v);
            }
        }
    }
}
