//! Listener sessions split into minutes: the one rule both the expiry (folding raw sessions into
//! `listener_minutes`) and the endpoint (adding the raw sessions not folded yet) apply, so that a
//! report reads the same before and after its sessions are folded.

use std::collections::BTreeMap;

pub const MINUTE_MS: i64 = 60_000;

/// The start (ms) of the minute holding `t`.
pub fn minute_of(t: i64) -> i64 {
    t.div_euclid(MINUTE_MS) * MINUTE_MS
}

/// What one minute of one variant holds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Sessions overlapping the minute.
    pub listeners: i64,
    /// Sessions that started in it.
    pub sessions_started: i64,
    /// Milliseconds listened within it.
    pub listen_ms: i64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.listeners += other.listeners;
        self.sessions_started += other.sessions_started;
        self.listen_ms += other.listen_ms;
    }
}

/// Counts by (minute start, variant).
pub type Minutes = BTreeMap<(i64, String), Counts>;

/// Adds the session `[start, end)` of `variant` to the minutes it overlaps within `[from, to)`. A
/// session shorter than a tick (`end <= start`) still counts in its first minute.
pub fn add_session(into: &mut Minutes, variant: &str, start: i64, end: i64, from: i64, to: i64) {
    let end = end.max(start);
    let first = minute_of(start);
    let mut minute = first.max(minute_of(from));
    while minute < to && (minute < end || minute == first) {
        let overlap = end.min(minute + MINUTE_MS) - start.max(minute);
        let counts = into.entry((minute, variant.to_owned())).or_default();
        counts.listeners += 1;
        counts.listen_ms += overlap.max(0);
        if minute == first {
            counts.sessions_started += 1;
        }
        minute += MINUTE_MS;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_counts_in_every_minute_it_overlaps() {
        let mut m = Minutes::new();
        // 00:30 to 02:10: minutes 0, 1 and 2.
        add_session(&mut m, "mp3-128", 30_000, 130_000, 0, i64::MAX);
        let at = |minute: i64| m[&(minute, "mp3-128".to_owned())];
        assert_eq!(
            at(0),
            Counts {
                listeners: 1,
                sessions_started: 1,
                listen_ms: 30_000
            }
        );
        assert_eq!(
            at(60_000),
            Counts {
                listeners: 1,
                sessions_started: 0,
                listen_ms: 60_000
            }
        );
        assert_eq!(
            at(120_000),
            Counts {
                listeners: 1,
                sessions_started: 0,
                listen_ms: 10_000
            }
        );
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn the_range_cuts_minutes_and_empty_sessions_count_once() {
        let mut m = Minutes::new();
        add_session(&mut m, "v", 30_000, 130_000, 60_000, 120_000);
        assert_eq!(m.len(), 1);
        assert_eq!(m[&(60_000, "v".to_owned())].sessions_started, 0);
        let mut m = Minutes::new();
        add_session(&mut m, "v", 61_000, 61_000, 0, i64::MAX);
        assert_eq!(
            m[&(60_000, "v".to_owned())],
            Counts {
                listeners: 1,
                sessions_started: 1,
                listen_ms: 0
            }
        );
        // Ending exactly on a minute's start does not reach into it.
        let mut m = Minutes::new();
        add_session(&mut m, "v", 0, 60_000, 0, i64::MAX);
        assert_eq!(m.len(), 1);
    }
}
