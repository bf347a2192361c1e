//! Who may hold a connection on the ingest port: at most `ingest_max_connections` at once and
//! `ingest_max_per_ip` from one client (IPv6 by its /64, as the rate limits key it). A socket over
//! either cap is closed at once, so slow or idle sockets cannot take the file descriptors the
//! main port needs too. The accept loop backs off on errors (`EMFILE`) instead of spinning.

use crate::limits::ip_key;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The port holds `ingest_max_connections` already.
    Total,
    /// This client holds `ingest_max_per_ip` already.
    PerIp,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<String, usize>,
}

/// The counts of the port's open connections (shared by the accept loop and the connections'
/// permits, nothing else).
pub struct Gate {
    counts: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_ip: usize,
}

/// One admitted connection; dropping it (the connection ended) gives its place back.
pub struct Permit {
    counts: Arc<Mutex<Counts>>,
    key: String,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.total = counts.total.saturating_sub(1);
            if let Some(n) = counts.per_ip.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    counts.per_ip.remove(&self.key);
                }
            }
        }
    }
}

impl Gate {
    pub fn new(max_total: usize, max_per_ip: usize) -> Self {
        Self {
            counts: Arc::default(),
            max_total,
            max_per_ip,
        }
    }

    /// A place for a connection from `ip`, or which cap it hit.
    pub fn enter(&self, ip: IpAddr) -> Result<Permit, Full> {
        let key = ip_key(ip);
        let mut counts = self.counts.lock().map_err(|_| Full::Total)?;
        if counts.total >= self.max_total {
            return Err(Full::Total);
        }
        let held = counts.per_ip.get(&key).copied().unwrap_or(0);
        if held >= self.max_per_ip {
            return Err(Full::PerIp);
        }
        counts.total += 1;
        counts.per_ip.insert(key.clone(), held + 1);
        Ok(Permit {
            counts: Arc::clone(&self.counts),
            key,
        })
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
    fn caps_hold_per_client_and_in_total_and_places_come_back() {
        let gate = Gate::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::ffff".parse().unwrap();
        let first = gate.enter(a).unwrap();
        let _second = gate.enter(a).unwrap();
        assert_eq!(gate.enter(a).err(), Some(Full::PerIp));
        let _third = gate.enter(b).unwrap();
        assert_eq!(gate.enter(same_64).err(), Some(Full::Total));
        drop(first);
        assert_eq!(
            gate.enter(same_64).map(|_| ()).err(),
            None,
            "a closed connection frees its place"
        );
        assert_eq!(gate.counts.lock().unwrap().per_ip.len(), 2);
    }

    #[test]
    fn accept_errors_back_off_up_to_a_second() {
        assert_eq!(accept_backoff(0), Duration::from_millis(10));
        assert_eq!(accept_backoff(3), Duration::from_millis(80));
        assert_eq!(accept_backoff(30), Duration::from_secs(1));
    }
}
