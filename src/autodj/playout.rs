//! The AutoDJ's playout: library tracks one after another, crossfaded, as one endless source.
//!
//! Each track is a rodio source (`track_source`: decoder, resampler, loudness gain, limiter). A
//! track plays until it has `crossfade` left (its length is known from the library's measured
//! duration); then the next track is opened and the two are joined with rodio's
//! `take_crossfade_with` (the outgoing one fades out while the incoming one fades in). rodio's
//! combinators take sources by value, so the incoming track is wrapped in a [`Shared`] handle: the
//! crossfade pulls its first seconds through one clone and, when the crossfade is over, the
//! playout goes on with the other clone where the crossfade left it. With a crossfade of 0 the next
//! track starts on the sample after the last one of the previous (gapless). A track that ends
//! earlier than its measured length is followed at once.

use super::track_source::{self, BoxedSource, CHANNELS, RATE};
use rodio::Source;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use veza_actors::ids::TrackId;

/// A track the playout can play.
#[derive(Debug, Clone)]
pub struct TrackToPlay {
    pub id: TrackId,
    pub title: String,
    pub artist: Option<String>,
    pub path: PathBuf,
    pub duration_ms: i64,
    pub gain_db: f32,
    /// LRC text, if the track has lyrics.
    pub lyrics: Option<String>,
}

impl TrackToPlay {
    /// What ICY metadata and `now_playing` show: `Artist - Title`, or the title.
    pub fn display_title(&self) -> String {
        match self.artist.as_deref().filter(|a| !a.is_empty()) {
            Some(artist) => format!("{artist} - {}", self.title),
            None => self.title.clone(),
        }
    }
}

/// Where the next track comes from (the playlist, in order or shuffled, and the queue).
pub trait Picker: Send {
    /// The next track, `None` when there is nothing to play.
    fn next(&mut self) -> Option<TrackToPlay>;
    /// Plays `track` before the rest (after other queued tracks).
    fn queue_next(&mut self, track: TrackToPlay);
    fn set_mode(&mut self, mode: super::picker::PlayMode);
}

/// Something the playout did, with the output frame it happened at.
#[derive(Debug, Clone)]
pub enum PlayoutEvent {
    /// A track's first sample is at `frame` (for a crossfade: where the fade-in begins).
    TrackStarted { track: TrackToPlay, frame: u64 },
    /// A track could not be opened and was passed over.
    TrackFailed { track: TrackToPlay, error: String },
}

/// A source that several owners pull from in turn.
#[derive(Clone)]
struct Shared(Arc<Mutex<BoxedSource>>);

impl Iterator for Shared {
    type Item = f32;
    fn next(&mut self) -> Option<f32> {
        // One thread pulls (the mixer's); the lock is never contended. A poisoned lock means the
        // decoder panicked inside: the track ends there.
        self.0.lock().ok()?.next()
    }
}

impl Source for Shared {
    fn current_span_len(&self) -> Option<usize> {
        None
    }
    fn channels(&self) -> u16 {
        CHANNELS
    }
    fn sample_rate(&self) -> u32 {
        RATE
    }
    fn total_duration(&self) -> Option<Duration> {
        None
    }
}

struct Playing {
    track: TrackToPlay,
    /// The track itself, or the crossfade into the next one.
    source: BoxedSource,
    /// Frames left before this track's crossfade (while crossfading: before the crossfade ends).
    left: u64,
    /// Frames kept at the end of the track for the crossfade into the next (0: gapless).
    tail: u64,
    /// While crossfading: frames of the incoming track the crossfade plays, and that track.
    tail_played: u64,
    incoming: Option<(TrackToPlay, Shared)>,
}

pub struct Playout {
    picker: Box<dyn Picker>,
    crossfade_frames: u64,
    current: Option<Playing>,
    /// Output frames rendered so far.
    frame: u64,
    /// A skip asked for while crossfading: applied when the crossfade ends.
    skip_pending: bool,
    events: VecDeque<PlayoutEvent>,
}

fn frames_of(ms: i64) -> u64 {
    (ms.max(0) as u64) * u64::from(RATE) / 1000
}

fn frames_of_duration(d: Duration) -> u64 {
    (d.as_secs_f64() * f64::from(RATE)) as u64
}

impl Playout {
    pub fn new(picker: Box<dyn Picker>, crossfade: Duration) -> Self {
        Playout {
            picker,
            crossfade_frames: frames_of_duration(crossfade),
            current: None,
            frame: 0,
            skip_pending: false,
            events: VecDeque::new(),
        }
    }

    pub fn picker(&mut self) -> &mut dyn Picker {
        self.picker.as_mut()
    }

    /// Plays from another picker (another playlist) from the next track on.
    pub fn set_picker(&mut self, picker: Box<dyn Picker>) {
        self.picker = picker;
    }

    pub fn set_crossfade(&mut self, crossfade: Duration) {
        self.crossfade_frames = frames_of_duration(crossfade);
    }

    /// Output frames rendered so far.
    pub fn frame(&self) -> u64 {
        self.frame
    }

    /// The track on air (the incoming one during a crossfade).
    pub fn now_playing(&self) -> Option<&TrackToPlay> {
        let playing = self.current.as_ref()?;
        Some(
            playing
                .incoming
                .as_ref()
                .map(|(t, _)| t)
                .unwrap_or(&playing.track),
        )
    }

    pub fn take_events(&mut self) -> impl Iterator<Item = PlayoutEvent> + '_ {
        self.events.drain(..)
    }

    /// Ends the track on air with a crossfade of at most `fade` into the next one.
    pub fn skip(&mut self, fade: Duration) {
        match &mut self.current {
            Some(p) if p.incoming.is_none() => {
                p.left = 1;
                p.tail = p.tail.min(frames_of_duration(fade));
            }
            Some(_) => self.skip_pending = true,
            None => {}
        }
    }

    /// Fills `out` (interleaved stereo) with the next frames; silence where there is nothing to
    /// play (an empty playlist).
    pub fn fill(&mut self, out: &mut [f32]) {
        let mut at = 0;
        while at < out.len() {
            if self.current.is_none() {
                self.current = self.open_next(None);
                if self.current.is_none() {
                    out[at..].fill(0.0);
                    self.frame += ((out.len() - at) / 2) as u64;
                    return;
                }
            }
            let Some(playing) = self.current.as_mut() else {
                return;
            };
            if playing.left == 0 {
                self.turn();
                continue;
            }
            // Whole frames up to the next turn.
            let want = ((out.len() - at) / 2).min(playing.left as usize);
            let mut got = 0;
            for frame in out[at..at + want * 2].chunks_exact_mut(2) {
                let (Some(l), Some(r)) = (playing.source.next(), playing.source.next()) else {
                    break;
                };
                frame[0] = l;
                frame[1] = r;
                got += 1;
            }
            at += got * 2;
            self.frame += got as u64;
            playing.left -= got as u64;
            if got < want {
                // The source ended before its measured length: the next one follows at once.
                playing.left = 0;
                playing.tail = 0;
            }
        }
    }

    /// At the end of a track's body or of a crossfade: start the crossfade, or finish it.
    fn turn(&mut self) {
        let Some(playing) = self.current.take() else {
            return;
        };
        if let Some((track, shared)) = playing.incoming {
            // The crossfade is over: the incoming track goes on from where it is.
            let len = frames_of(track.duration_ms);
            let tail = self.crossfade_frames.min(len / 2);
            let left = if std::mem::take(&mut self.skip_pending) {
                1
            } else {
                len.saturating_sub(playing.tail_played)
                    .saturating_sub(tail)
                    .max(1)
            };
            self.current = Some(Playing {
                track,
                source: Box::new(shared),
                left,
                tail,
                tail_played: 0,
                incoming: None,
            });
            return;
        }
        self.current = self.open_next(Some(playing));
    }

    /// Opens the next playable track; with `outgoing`, crossfades into it.
    fn open_next(&mut self, outgoing: Option<Playing>) -> Option<Playing> {
        // A few tries: a missing or broken file is passed over, not retried forever.
        for _ in 0..8 {
            let track = self.picker.next()?;
            let source = match track_source::open(&track.path, track.gain_db) {
                Ok(s) => s,
                Err(e) => {
                    self.events.push_back(PlayoutEvent::TrackFailed {
                        track,
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            self.events.push_back(PlayoutEvent::TrackStarted {
                track: track.clone(),
                frame: self.frame,
            });
            let len = frames_of(track.duration_ms);
            let tail = self.crossfade_frames.min(len / 2);
            let fade = outgoing.as_ref().map_or(0, |o| o.tail.min(len / 2));
            return Some(match outgoing {
                Some(out) if fade > 0 => {
                    let shared = Shared(Arc::new(Mutex::new(source)));
                    let dur = Duration::from_secs_f64(fade as f64 / f64::from(RATE));
                    Playing {
                        source: Box::new(out.source.take_crossfade_with(shared.clone(), dur)),
                        track: out.track,
                        left: fade,
                        tail: 0,
                        tail_played: fade,
                        incoming: Some((track, shared)),
                    }
                }
                _ => Playing {
                    track,
                    source,
                    left: len.saturating_sub(tail).max(1),
                    tail,
                    tail_played: 0,
                    incoming: None,
                },
            });
        }
        None
    }
}
