//! Where an outgoing webhook may point (against server-side request forgery).
//!
//! Only `http` and `https` URLs with a host and no credentials. Every address the host resolves to
//! is checked, when the hook is made and again on each call (the name may resolve elsewhere by
//! then): link-local (cloud metadata at 169.254.169.254 among them), unspecified, multicast and
//! broadcast addresses are always refused; loopback and private ranges only pass when the operator
//! allows them (`webhook_allow_loopback`, `webhook_allow_private`). The call connects to the
//! addresses that passed, never to a second lookup, and follows no redirects.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;
use thiserror::Error;
use url::Url;

/// What the operator allows besides public addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refused {
    #[error("not a URL: {0}")]
    Syntax(String),
    #[error("only http and https URLs")]
    Scheme,
    #[error("the URL must not carry a user name or password")]
    Credentials,
    #[error("the URL has no host")]
    NoHost,
    #[error("{host} does not resolve: {reason}")]
    Unresolved { host: String, reason: String },
    #[error("{host} resolves to {ip}, a {class} address, which webhooks may not call")]
    Address {
        host: String,
        ip: IpAddr,
        class: &'static str,
    },
}

/// The URL if its form is acceptable (no lookup yet).
pub fn parse(raw: &str) -> Result<Url, Refused> {
    let url = Url::parse(raw.trim()).map_err(|e| Refused::Syntax(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Refused::NoHost);
    }
    Ok(url)
}

/// Why `ip` may not be called under `policy`, if it may not.
pub fn refusal(ip: IpAddr, policy: AddressPolicy) -> Option<&'static str> {
    let ip = match ip {
        // An IPv4 address written as IPv6 is judged as what it is.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    let class = classify(ip);
    match class {
        Class::Public => None,
        Class::Loopback if policy.allow_loopback => None,
        Class::Private if policy.allow_private => None,
        Class::Loopback => Some("loopback"),
        Class::Private => Some("private"),
        Class::LinkLocal => Some("link-local"),
        Class::Unspecified => Some("unspecified"),
        Class::Multicast => Some("multicast"),
        Class::Reserved => Some("reserved"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Unspecified,
    Multicast,
    Reserved,
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_unspecified() || a == 0 {
        Class::Unspecified
    } else if ip.is_link_local() {
        Class::LinkLocal
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // RFC 1918 and the carrier-grade NAT block (RFC 6598).
        Class::Private
    } else if ip.is_multicast() {
        Class::Multicast
    } else if ip.is_broadcast()
        || ip.is_documentation()
        || a >= 240
        || (a == 198 && b & 0xfe == 18)
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 88 && c == 99)
    {
        // Benchmarking (198.18/15), IETF protocol assignments (192.0.0/24), the old 6to4 relay
        // anycast (192.88.99/24), documentation, class E and broadcast.
        Class::Reserved
    } else {
        Class::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let seg = ip.segments();
    let first = seg[0];
    let octets = ip.octets();
    // Translation prefixes reach the IPv4 address inside them: judge that one.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64, the well-known prefix (64:ff9b::/96).
        return classify_v4(Ipv4Addr::new(
            octets[12], octets[13], octets[14], octets[15],
        ));
    }
    if first == 0x2002 {
        // 6to4 (2002::/16): the IPv4 address is in bits 16-47.
        return classify_v4(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5]));
    }
    if (first == 0x64 && seg[1] == 0xff9b) || (first == 0x2001 && seg[1] == 0) {
        // Local-use NAT64 (64:ff9b:1::/48) and Teredo (2001::/32): where they lead is not
        // knowable from here.
        return Class::Reserved;
    }
    if ip.is_loopback() {
        Class::Loopback
    } else if ip.is_unspecified() {
        Class::Unspecified
    } else if first & 0xffc0 == 0xfe80 {
        Class::LinkLocal
    } else if first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfec0 {
        // Unique local (fc00::/7) and the old site-local (fec0::/10).
        Class::Private
    } else if ip.is_multicast() {
        Class::Multicast
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Class::Reserved
    } else if ip.to_ipv4().is_some() && first == 0 {
        // IPv4-compatible (::a.b.c.d, deprecated): never a real destination.
        Class::Reserved
    } else {
        Class::Public
    }
}

/// Resolves `host:port` and checks every address; all must pass (a name that also resolves to
/// an internal address is refused, not tried on its public one).
pub fn resolve(host: &str, port: u16, policy: AddressPolicy) -> Result<Vec<SocketAddr>, Refused> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (bare, port)
            .to_socket_addrs()
            .map_err(|e| Refused::Unresolved {
                host: host.to_owned(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Refused::Unresolved {
            host: host.to_owned(),
            reason: "no addresses".into(),
        });
    }
    for addr in &addrs {
        if let Some(class) = refusal(addr.ip(), policy) {
            return Err(Refused::Address {
                host: host.to_owned(),
                ip: addr.ip(),
                class,
            });
        }
    }
    Ok(addrs)
}

/// Checks a hook's URL as it is made: its form, and where it resolves now (within `within`).
pub fn check(raw: &str, policy: AddressPolicy, within: Duration) -> Result<Url, Refused> {
    let url = parse(raw)?;
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    resolve_within(host, port, policy, within)?;
    Ok(url)
}

impl Refused {
    /// What the person making the hook is told: the form errors as they are; for where a name
    /// leads, only that it may not be called (the address and its class are logged, not shown,
    /// so the server does not answer questions about internal names).
    pub fn public_message(&self) -> String {
        match self {
            Refused::Unresolved { host, .. } | Refused::Address { host, .. } => format!(
                "webhooks may not call {host}: it must resolve, and only to public addresses"
            ),
            other => other.to_string(),
        }
    }
}

/// [`resolve`] that gives up after `within` (a name server that never answers would otherwise
/// hold the caller for as long as the system resolver keeps retrying). The lookup goes on in a
/// thread of its own, which ends when the system resolver does.
pub fn resolve_within(
    host: &str,
    port: u16,
    policy: AddressPolicy,
    within: Duration,
) -> Result<Vec<SocketAddr>, Refused> {
    let (tx, rx) = mpsc::sync_channel(1);
    let owned = host.to_owned();
    let spawned = std::thread::Builder::new()
        .name("webhook-dns".into())
        .spawn(move || {
            let _caller_may_have_given_up = tx.send(resolve(&owned, port, policy));
        });
    if spawned.is_err() {
        return resolve(host, port, policy);
    }
    rx.recv_timeout(within).unwrap_or_else(|_| {
        Err(Refused::Unresolved {
            host: host.to_owned(),
            reason: format!("no answer within {} ms", within.as_millis()),
        })
    })
}

/// The HTTP client's resolver: lookups through [`resolve_within`], so a call only ever connects
/// to addresses that passed. A refused address is `PermissionDenied` (the call gives up); a name
/// that does not resolve (now) is `NotFound` (the call is retried).
pub struct CheckedResolver {
    pub policy: AddressPolicy,
    pub timeout: Duration,
}

impl ureq::Resolver for CheckedResolver {
    fn resolve(&self, netloc: &str) -> io::Result<Vec<SocketAddr>> {
        let (host, port) = netloc
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad host:port"))?;
        resolve_within(host, port, self.policy, self.timeout).map_err(|e| {
            let kind = match e {
                Refused::Unresolved { .. } => io::ErrorKind::NotFound,
                _ => io::ErrorKind::PermissionDenied,
            };
            io::Error::new(kind, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_loopback: false,
        allow_private: false,
    };

    fn refused(ip: &str, policy: AddressPolicy) -> Option<&'static str> {
        refusal(ip.parse().unwrap(), policy)
    }

    #[test]
    fn internal_addresses_are_refused_by_default() {
        for (ip, class) in [
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("100.64.0.1", "private"),
            ("fd00::1", "private"),
            ("169.254.169.254", "link-local"),
            ("::ffff:169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::127.0.0.1", "reserved"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b::a00:5", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:a9fe:a9fe::1", "link-local"),
            ("2002:c0a8:0101::", "private"),
            ("64:ff9b:1::1", "reserved"),
            ("2001:0:4136:e378::1", "reserved"),
            ("192.0.0.8", "reserved"),
            ("192.88.99.1", "reserved"),
        ] {
            assert_eq!(refused(ip, STRICT), Some(class), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:4700::1111",
            "1.1.1.1",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert_eq!(refused(ip, STRICT), None, "{ip}");
        }
    }

    #[test]
    fn the_operator_may_allow_loopback_and_private_but_never_link_local() {
        let open = AddressPolicy {
            allow_loopback: true,
            allow_private: true,
        };
        assert_eq!(refused("127.0.0.1", open), None);
        assert_eq!(refused("10.0.0.1", open), None);
        assert_eq!(refused("169.254.169.254", open), Some("link-local"));
        let loopback_only = AddressPolicy {
            allow_loopback: true,
            allow_private: false,
        };
        assert_eq!(refused("10.0.0.1", loopback_only), Some("private"));
    }

    #[test]
    fn urls_must_be_plain_http_with_a_host() {
        assert_eq!(parse("ftp://example.com/x"), Err(Refused::Scheme));
        assert_eq!(parse("http://u:p@example.com/"), Err(Refused::Credentials));
        assert!(matches!(parse("not a url"), Err(Refused::Syntax(_))));
        assert!(parse("https://example.com/hook?x=1").is_ok());
        let check = |url: &str, policy| check(url, policy, Duration::from_secs(5));
        assert!(matches!(
            check("http://127.0.0.1:9/x", STRICT),
            Err(Refused::Address {
                class: "loopback",
                ..
            })
        ));
        assert!(matches!(
            check("http://[::1]:9/x", STRICT),
            Err(Refused::Address { .. })
        ));
        assert!(check("http://localhost:9/x", STRICT).is_err());
        // Hosts written as one number or in hex are read as the address they are.
        assert!(check("http://2130706433/", STRICT).is_err());
        assert!(check("http://0x7f.1/", STRICT).is_err());
    }

    #[test]
    fn the_client_resolver_gives_up_on_refused_addresses_and_retries_unresolved_names() {
        use ureq::Resolver;
        let resolver = CheckedResolver {
            policy: STRICT,
            timeout: Duration::from_secs(3),
        };
        let refused = resolver.resolve("127.0.0.1:80").unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::PermissionDenied);
        // `.invalid` never resolves (RFC 2606): whether the resolver says so or times out, the
        // call is to be tried again later, not given up.
        let unresolved = resolver.resolve("no-such-host.invalid:80").unwrap_err();
        assert_eq!(unresolved.kind(), io::ErrorKind::NotFound, "{unresolved}");
    }

    #[test]
    fn the_public_message_does_not_tell_where_a_name_leads() {
        let refused = check("http://127.0.0.1:9/x", STRICT, Duration::from_secs(5)).unwrap_err();
        assert!(refused.to_string().contains("127.0.0.1"));
        let shown = refused.public_message();
        assert!(!shown.contains("loopback"), "{shown}");
        assert_eq!(Refused::Scheme.public_message(), "only http and https URLs");
    }
}
