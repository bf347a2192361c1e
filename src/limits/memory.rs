//! The single-node store: TATs in a map behind a mutex (short critical sections, no I/O), swept of
//! keys whose bucket is full again.

use super::gcra::{decide, Decision, Rule};
use std::collections::HashMap;
use std::sync::Mutex;

const SWEEP_AT: usize = 50_000;

#[derive(Default)]
pub struct MemoryStore {
    tat: Mutex<HashMap<String, i64>>,
}

impl MemoryStore {
    pub fn check(&self, key: &str, rule: Rule, now_ms: i64) -> Decision {
        let mut map = self.tat.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= SWEEP_AT {
            map.retain(|_, tat| *tat > now_ms);
        }
        let (decision, tat) = decide(rule, map.get(key).copied(), now_ms);
        if decision.allowed {
            map.insert(key.to_owned(), tat);
        }
        decision
    }
}
