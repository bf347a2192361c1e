//! Things held open at once (connections), counted per key and in total: a permit is taken when
//! one opens and gives its place back when dropped. Used for the ingest port's connections (per
//! client address) and the WebSockets of one user on this node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The total cap is reached.
    Total,
    /// This key's cap is reached.
    PerKey,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_key: HashMap<String, usize>,
}

/// The counts of what is held open (shared by whoever admits and the permits, nothing else).
pub struct Gate {
    counts: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_key: usize,
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
            if let Some(n) = counts.per_key.get_mut(&self.key) {
                *n -= 1;
                if *n == 0 {
                    counts.per_key.remove(&self.key);
                }
            }
        }
    }
}

impl Gate {
    pub fn new(max_total: usize, max_per_key: usize) -> Self {
        Self {
            counts: Arc::default(),
            max_total,
            max_per_key,
        }
    }

    /// A place for one more under `key`, or which cap it hit.
    pub fn enter(&self, key: &str) -> Result<Permit, Full> {
        let key = key.to_owned();
        let mut counts = self.counts.lock().map_err(|_| Full::Total)?;
        if counts.total >= self.max_total {
            return Err(Full::Total);
        }
        let held = counts.per_key.get(&key).copied().unwrap_or(0);
        if held >= self.max_per_key {
            return Err(Full::PerKey);
        }
        counts.total += 1;
        counts.per_key.insert(key.clone(), held + 1);
        Ok(Permit {
            counts: Arc::clone(&self.counts),
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_per_key_and_in_total_and_places_come_back() {
        let gate = Gate::new(3, 2);
        let first = gate.enter("a").unwrap();
        let _second = gate.enter("a").unwrap();
        assert_eq!(gate.enter("a").err(), Some(Full::PerKey));
        let _third = gate.enter("b").unwrap();
        assert_eq!(gate.enter("c").err(), Some(Full::Total));
        drop(first);
        assert_eq!(
            gate.enter("c").map(|_| ()).err(),
            None,
            "a freed place is given again"
        );
        assert_eq!(
            gate.counts.lock().unwrap().per_key.len(),
            2,
            "emptied keys are forgotten"
        );
    }
}
