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
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    Some(resolve(peer, xff, &trusted))
}

#[cfg(test)]
mod tests {
    use super::resolve;

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
