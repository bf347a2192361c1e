//! Which track plays next: the queue (tracks asked for with "queue next") first, then the
//! playlist in order or shuffled. The playlist is read again at the start of every pass, so edits
//! (added, moved, removed items) are heard from the next pass on; a shuffle is a new permutation
//! each pass, never starting with the track that just ended the previous one.

use super::playout::{Picker, TrackToPlay};
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How the playlist is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlayMode {
    /// In playlist order, again from the top after the last item.
    Loop,
    /// A new random order every pass.
    Shuffle,
}

impl PlayMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayMode::Loop => "loop",
            PlayMode::Shuffle => "shuffle",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "loop" => Some(PlayMode::Loop),
            "shuffle" => Some(PlayMode::Shuffle),
            _ => None,
        }
    }
}

/// Reads the playlist's tracks in order (blocking: it runs on the mixer's thread).
pub type Loader = Box<dyn FnMut() -> Vec<TrackToPlay> + Send>;

pub struct PlaylistPicker {
    load: Loader,
    mode: PlayMode,
    pass: VecDeque<TrackToPlay>,
    queue: VecDeque<TrackToPlay>,
    last: Option<veza_actors::ids::TrackId>,
    /// When a load last found nothing: the store is not asked again for a while (the playout
    /// asks on every block while it has nothing to play).
    empty_at: Option<std::time::Instant>,
}

/// How long an empty playlist is believed before it is read again.
const EMPTY_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

impl PlaylistPicker {
    pub fn new(load: Loader, mode: PlayMode) -> Self {
        PlaylistPicker {
            load,
            mode,
            pass: VecDeque::new(),
            queue: VecDeque::new(),
            last: None,
            empty_at: None,
        }
    }

    fn new_pass(&mut self) {
        if self.empty_at.is_some_and(|at| at.elapsed() < EMPTY_RETRY) {
            return;
        }
        let mut tracks = (self.load)();
        self.empty_at = tracks.is_empty().then(std::time::Instant::now);
        if self.mode == PlayMode::Shuffle && tracks.len() > 1 {
            tracks.shuffle(&mut rand::thread_rng());
            if tracks.first().map(|t| t.id) == self.last {
                let n = tracks.len();
                tracks.swap(0, n - 1);
            }
        }
        self.pass = tracks.into();
    }
}

impl Picker for PlaylistPicker {
    fn next(&mut self) -> Option<TrackToPlay> {
        let track = match self.queue.pop_front() {
            Some(t) => t,
            None => {
                if self.pass.is_empty() {
                    self.new_pass();
                }
                self.pass.pop_front()?
            }
        };
        self.last = Some(track.id);
        Some(track)
    }

    fn queue_next(&mut self, track: TrackToPlay) {
        self.queue.push_back(track);
    }

    fn set_mode(&mut self, mode: PlayMode) {
        if mode != self.mode {
            self.mode = mode;
            // The new mode applies from the next pass; the rest of this one is dropped.
            self.pass.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veza_actors::ids::TrackId;

    fn track(id: i64) -> TrackToPlay {
        TrackToPlay {
            id: TrackId(id),
            title: format!("t{id}"),
            artist: None,
            path: std::path::PathBuf::new(),
            duration_ms: 1000,
            gain_db: 0.0,
            lyrics: None,
        }
    }

    fn ids(picker: &mut PlaylistPicker, n: usize) -> Vec<i64> {
        (0..n)
            .filter_map(|_| picker.next())
            .map(|t| t.id.0)
            .collect()
    }

    #[test]
    fn loop_mode_plays_in_order_and_wraps() {
        let mut p = PlaylistPicker::new(Box::new(|| (1..=3).map(track).collect()), PlayMode::Loop);
        assert_eq!(ids(&mut p, 7), vec![1, 2, 3, 1, 2, 3, 1]);
    }

    #[test]
    fn queued_tracks_come_first() {
        let mut p = PlaylistPicker::new(Box::new(|| (1..=3).map(track).collect()), PlayMode::Loop);
        assert_eq!(ids(&mut p, 1), vec![1]);
        p.queue_next(track(9));
        assert_eq!(ids(&mut p, 3), vec![9, 2, 3]);
    }

    #[test]
    fn shuffle_plays_every_track_once_per_pass() {
        let mut p =
            PlaylistPicker::new(Box::new(|| (1..=5).map(track).collect()), PlayMode::Shuffle);
        for _ in 0..20 {
            let mut pass = ids(&mut p, 5);
            pass.sort();
            assert_eq!(pass, vec![1, 2, 3, 4, 5]);
        }
    }

    #[test]
    fn an_empty_playlist_gives_nothing() {
        let mut p = PlaylistPicker::new(Box::new(Vec::new), PlayMode::Loop);
        assert!(p.next().is_none());
    }
}
