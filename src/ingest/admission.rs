//! Who may hold a connection on the ingest port: at most `ingest_max_connections` at once and
//! `ingest_max_per_ip` from one client (IPv6 by its /64, as the rate limits key it). A socket over
//! either cap is closed at once, so slow or idle sockets cannot take the file descriptors the
//! main port needs too. The accept loop backs off on errors (`EMFILE`) instead of spinning.

use crate::limits::held::{Full, Gate, Permit};
use crate::limits::ip_key;
use std::net::IpAddr;
use std::time::Duration;

/// The ingest port's caps.
pub struct Admission(Gate);

impl Admission {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self(Gate::new(max_total, max_per_ip))
    }

    /// A place for a connection from `ip`, or which cap it hit.
    pub fn enter(&self, ip: IpAddr) -> Result<Permit, Full> {
        self.0.enter(&ip_key(ip))
    }
}

/// The pause after the `failures`-th accept error in a row: 10 ms doubling to 1 s.
pub fn accept_backoff(failures: u32) -> Duration {
    Duration::from_millis(10u64 << failures.min(7)).min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_ipv6_64_is_one_client() {
        let gate = Admission::new(10, 1);
        let _held = gate.enter("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(
            gate.enter("2001:db8::ffff".parse().unwrap()).err(),
            Some(Full::PerKey)
        );
        assert!(gate.enter("192.0.2.1".parse().unwrap()).is_ok());
    }

    #[test]
    fn accept_errors_back_off_up_to_a_second() {
        assert_eq!(accept_backoff(0), Duration::from_millis(10));
        assert_eq!(accept_backoff(3), Duration::from_millis(80));
        assert_eq!(accept_backoff(30), Duration::from_secs(1));
    }
}
