//! HLS listener sessions on this node. An HLS player makes no lasting connection: it polls its
//! media playlist with the `sid` the master playlist put in the URL. A session opens at the first
//! poll of a (mount, variant, sid) and ends when polls stop for the timeout
//! (`analytics_hls_timeout_s`); its end is its last poll. The session log sweeps it.

use std::collections::HashMap;
use std::sync::Mutex;

/// Most HLS sessions tracked at once on one node; polls of further ones are not counted (memory
/// stays bounded whatever sids clients make up).
pub const MAX_HLS_SESSIONS: usize = 200_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    mount: String,
    variant: String,
    sid: String,
}

#[derive(Debug)]
struct Entry {
    id: i64,
    last_poll: i64,
}

/// A session that just opened: the id its row gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: i64,
}

/// A session that ended: its id and its last poll (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub id: i64,
    pub at: i64,
}

pub struct HlsSessions {
    timeout_ms: i64,
    open: Mutex<HashMap<Key, Entry>>,
}

impl HlsSessions {
    pub fn new(timeout_ms: i64) -> Self {
        Self {
            timeout_ms,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A poll at `now`; `Some` when it opens a session (`new_id` gives its id), `None` when the
    /// session was open already (or the node tracks too many).
    pub fn poll(
        &self,
        mount: &str,
        variant: &str,
        sid: &str,
        now: i64,
        new_id: impl FnOnce() -> i64,
    ) -> Option<Opened> {
        let key = Key {
            mount: mount.to_owned(),
            variant: variant.to_owned(),
            sid: sid.to_owned(),
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = open.get_mut(&key) {
            // A poll after the timeout that the sweep has not seen yet still belongs to the same
            // session: the sweep runs every flush, so the gap is short.
            entry.last_poll = now;
            return None;
        }
        if open.len() >= MAX_HLS_SESSIONS {
            return None;
        }
        let id = new_id();
        open.insert(key, Entry { id, last_poll: now });
        Some(Opened { id })
    }

    /// Removes and returns the sessions whose last poll is older than the timeout at `now`.
    pub fn sweep(&self, now: i64) -> Vec<Ended> {
        let mut ended = Vec::new();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, e| {
            let alive = now - e.last_poll < self.timeout_ms;
            if !alive {
                ended.push(Ended {
                    id: e.id,
                    at: e.last_poll,
                });
            }
            alive
        });
        ended
    }

    /// Sessions open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_of_one_sid_are_one_session_until_the_timeout() {
        let s = HlsSessions::new(1000);
        let mut next = 0;
        let mut id = || {
            next += 1;
            next
        };
        assert_eq!(
            s.poll("m", "mp3-128", "a", 0, &mut id),
            Some(Opened { id: 1 })
        );
        assert_eq!(s.poll("m", "mp3-128", "a", 500, &mut id), None);
        assert_eq!(
            s.poll("m", "aac-128", "a", 700, &mut id),
            Some(Opened { id: 2 })
        );
        assert_eq!(s.sweep(1499), vec![]);
        assert_eq!(s.sweep(1500), vec![Ended { id: 1, at: 500 }]);
        assert_eq!(s.open(), 1);
        assert_eq!(s.sweep(1700), vec![Ended { id: 2, at: 700 }]);
        // The same sid polling again later is a new session.
        assert_eq!(
            s.poll("m", "mp3-128", "a", 5000, &mut id),
            Some(Opened { id: 3 })
        );
    }
}
