//! The client's address: the peer's, unless the peer is a configured trusted proxy, in which case
//! the right-most address in `X-Forwarded-For` that is not itself a trusted proxy. A client can
//! put anything in that header; only what trusted proxies appended is believed.

use ipnet::IpNet;
use std::net::IpAddr;

pub fn resolve(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let hops: Vec<IpAddr> = header
        .split(',')
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// The client address of a request under the app's configuration.
pub fn of(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|s| s.config.trusted_proxies.clone())
        .unwrap_or_default();
    Some(resolve(
        peer,
        forwarded_for(req.headers()).as_deref(),
        &trusted,
    ))
}

/// Every `X-Forwarded-For` line, in order, as one list: a proxy may append its own line after the
/// one the client sent, and the client must not win by being first. A line that is not text makes
/// the whole header unusable (the peer is then the client).
fn forwarded_for(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    let mut lines = headers.get_all("x-forwarded-for").peekable();
    lines.peek()?;
    let texts: Option<Vec<&str>> = lines.map(|v| v.to_str().ok()).collect();
    Some(texts?.join(","))
}

#[cfg(test)]
mod tests {
    use super::{forwarded_for, resolve};
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    #[test]
    fn every_forwarded_for_line_is_read() {
        let mut headers = HeaderMap::new();
        let name = HeaderName::from_static("x-forwarded-for");
        assert_eq!(forwarded_for(&headers), None);
        // The client's own line first, the one our proxy appended second.
        headers.append(name.clone(), HeaderValue::from_static("6.6.6.6"));
        headers.append(name, HeaderValue::from_static("198.51.100.7"));
        let joined = forwarded_for(&headers);
        assert_eq!(joined.as_deref(), Some("6.6.6.6,198.51.100.7"));
        let trusted = vec!["127.0.0.1/32".parse().unwrap()];
        assert_eq!(
            resolve("127.0.0.1".parse().unwrap(), joined.as_deref(), &trusted),
            "198.51.100.7".parse::<std::net::IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec![
            "10.0.0.0/8".parse().unwrap(),
            "127.0.0.1/32".parse().unwrap(),
        ];
        let ip = |s: &str| s.parse().unwrap();
        // Straight from a client: the header is ignored, whatever it says.
        assert_eq!(
            resolve(ip("203.0.113.9"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.9")
        );
        // Through our proxy: the address it appended.
        assert_eq!(
            resolve(ip("10.0.0.2"), Some("198.51.100.7"), &trusted),
            ip("198.51.100.7")
        );
        // A client forging a first hop: the right-most untrusted address wins.
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                Some("6.6.6.6, 198.51.100.7, 10.0.0.3"),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // No or garbage header: the proxy itself.
        assert_eq!(resolve(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
        assert_eq!(
            resolve(ip("127.0.0.1"), Some("junk"), &trusted),
            ip("127.0.0.1")
        );
        // No trusted proxies configured: never believed.
        assert_eq!(
            resolve(ip("127.0.0.1"), Some("1.2.3.4"), &[]),
            ip("127.0.0.1")
        );
    }
}
