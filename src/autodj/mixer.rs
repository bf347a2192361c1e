//! The AutoDJ's mixer thread: renders the programme in real time into the stream session, and
//! hands over to a live source and back.
//!
//! The session's rungs (encoders, HLS segmenter, archive) are started once, when the AutoDJ goes on
//! air, and keep running while the source changes: a listener's decoder and an HLS player see one
//! continuous encoded stream (one clock, no new headers, no timestamp jump). What changes is only
//! the PCM the mixer renders:
//! - **Programme**: the [`Playout`] (tracks crossfaded).
//! - **Live takes over**: a source connecting to the mount is decoded on threads of its own
//!   (`live_input`) into a small buffer here. Once `prebuffer` of it is there (so a source that
//!   delivers in bursts does not run dry), the mixer crossfades from the programme to it over
//!   `handover` (equal power), and the playout pauses where it was.
//! - **Live leaves**: when the source's connection ends, what is left in the buffer (about
//!   `prebuffer`) is crossfaded into the programme, which resumes where it paused: the programme
//!   starts before the last of the live audio has played, so there is no gap.
//!
//! Pacing: the mixer renders blocks of [`BLOCK_FRAMES`] while it is less than [`LEAD`] ahead of the
//! wall clock since it started, then waits on its control channel; the rungs' backpressure (at most
//! a few blocks in flight each) slows it if encoding falls behind.

use super::live_input::LiveInput;
use super::playout::{Playout, PlayoutEvent, TrackToPlay};
use super::track_source::RATE;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use veza_actors::stream::PcmFeed;

/// Frames per block sent to the rungs (46 ms).
pub const BLOCK_FRAMES: usize = 2048;
/// How far ahead of the wall clock the mixer renders.
const LEAD: Duration = Duration::from_millis(200);

/// What the mixer is told.
pub enum Control {
    /// End the track on air with a short crossfade.
    Skip,
    /// A source connected: hand over to it once enough of it is buffered.
    Live(LiveInput),
    /// Play this track next (after other queued ones).
    QueueNext(TrackToPlay),
    SetMode(super::picker::PlayMode),
    /// Play from another playlist from the next track on.
    SetPicker(Box<dyn super::playout::Picker>),
    SetCrossfade(Duration),
    SetHandover(Duration),
    /// Go off air (after the live source, if one is on).
    Stop,
}

/// What the mixer reports, with the stream time (seconds since the AutoDJ went on air).
#[derive(Debug, Clone)]
pub enum MixerEvent {
    TrackStarted {
        track: TrackToPlay,
        at: f64,
    },
    TrackFailed {
        track: TrackToPlay,
        error: String,
    },
    /// The handover to a live source began (`at`) and lasts `handover` seconds; the source had
    /// connected `waited` seconds before.
    LiveStarted {
        at: f64,
        handover: f64,
        waited: f64,
    },
    /// The live source is gone; the programme is back (crossfade starting at `at`).
    LiveEnded {
        at: f64,
    },
    /// Output up to stream time `to` has been rendered.
    Rendered {
        to: f64,
    },
}

enum Mode {
    Programme,
    ToLive { done: u64, len: u64 },
    Live,
    ToProgramme { done: u64, len: u64 },
}

pub struct Mixer {
    playout: Playout,
    feed: PcmFeed,
    control: Receiver<Control>,
    live: Option<LiveInput>,
    mode: Mode,
    handover: Duration,
    stop_after_live: bool,
    /// When the live source connected (output frames).
    live_since: u64,
    /// Output frames sent to the rungs.
    frames: u64,
}

fn frames(d: Duration) -> u64 {
    (d.as_secs_f64() * f64::from(RATE)) as u64
}

/// How much of a live source must be buffered before the handover: the handover itself (so a
/// source that leaves during it still has audio to fade out) and some slack for jitter.
fn prebuffer(handover: Duration) -> u64 {
    frames(handover.max(Duration::from_millis(250)) + Duration::from_millis(150))
}

/// Equal-power crossfade gains at `t` in [0, 1]: (outgoing, incoming).
fn gains(t: f32) -> (f32, f32) {
    let a = t.clamp(0.0, 1.0) * std::f32::consts::FRAC_PI_2;
    (a.cos(), a.sin())
}

impl Mixer {
    pub fn new(
        playout: Playout,
        feed: PcmFeed,
        control: Receiver<Control>,
        handover: Duration,
    ) -> Self {
        Mixer {
            playout,
            feed,
            control,
            live: None,
            mode: Mode::Programme,
            handover,
            stop_after_live: false,
            live_since: 0,
            frames: 0,
        }
    }

    /// Runs until told to stop (or the control channel is gone); `report` hears every event.
    pub fn run(mut self, mut report: impl FnMut(MixerEvent)) {
        let started = Instant::now();
        loop {
            let due = frames(started.elapsed() + LEAD);
            while self.frames < due {
                let block = self.render(&mut report);
                self.feed.send(RATE, block);
                report(MixerEvent::Rendered { to: self.now() });
            }
            let ahead = Duration::from_secs_f64(
                self.frames.saturating_sub(frames(started.elapsed())) as f64 / f64::from(RATE),
            );
            let wait = ahead.saturating_sub(LEAD / 2).max(Duration::from_millis(5));
            match self.control.recv_timeout(wait) {
                Ok(Control::Stop) if self.live.is_some() => self.stop_after_live = true,
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(other) => self.apply(other),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.stop_after_live && self.live.is_none() {
                break;
            }
        }
        self.feed.finish();
    }

    fn apply(&mut self, control: Control) {
        match control {
            Control::Skip => self.playout.skip(Duration::from_secs(1)),
            Control::Live(input) => {
                // A second source while one is on air is refused before it gets here.
                if self.live.is_none() {
                    self.live = Some(input);
                    self.live_since = self.frames;
                }
            }
            Control::QueueNext(track) => self.playout.picker().queue_next(track),
            Control::SetMode(mode) => self.playout.picker().set_mode(mode),
            Control::SetPicker(picker) => self.playout.set_picker(picker),
            Control::SetCrossfade(d) => self.playout.set_crossfade(d),
            Control::SetHandover(d) => self.handover = d,
            Control::Stop => {}
        }
    }

    fn now(&self) -> f64 {
        self.frames as f64 / f64::from(RATE)
    }

    /// The next block of output.
    fn render(&mut self, report: &mut impl FnMut(MixerEvent)) -> Vec<f32> {
        let n = BLOCK_FRAMES;
        let mut out = vec![0.0f32; n * 2];
        let prebuffer = prebuffer(self.handover);
        if let Some(live) = &mut self.live {
            live.fill_to(prebuffer as usize + n);
        }
        match self.mode {
            Mode::Programme => {
                self.play_programme(&mut out, report);
                if let Some(live) = &self.live {
                    if live.buffered_frames() as u64 >= prebuffer {
                        let len = frames(self.handover).max(1);
                        let at = self.now() + n as f64 / f64::from(RATE);
                        report(MixerEvent::LiveStarted {
                            at,
                            handover: len as f64 / f64::from(RATE),
                            waited: at - self.live_since as f64 / f64::from(RATE),
                        });
                        self.mode = Mode::ToLive { done: 0, len };
                    } else if live.ended() {
                        // Left before it was ever on air.
                        self.live = None;
                    }
                }
            }
            Mode::ToLive { done, len } => {
                self.play_programme(&mut out, report);
                let mut live = vec![0.0f32; n * 2];
                if let Some(input) = &mut self.live {
                    input.take(&mut live);
                }
                let done = crossfade(&mut out, &live, done, len, true);
                self.mode = if done >= len {
                    Mode::Live
                } else {
                    Mode::ToLive { done, len }
                };
            }
            Mode::Live => {
                let ending = self.live.as_ref().is_none_or(|l| l.ended());
                if let Some(input) = &mut self.live {
                    input.take(&mut out);
                }
                if ending {
                    // What is left of the source is faded into the programme.
                    let left = self.live.as_ref().map_or(0, |l| l.buffered_frames() as u64);
                    let len = left.min(frames(self.handover)).max(n as u64);
                    report(MixerEvent::LiveEnded {
                        at: self.now() + n as f64 / f64::from(RATE),
                    });
                    self.mode = Mode::ToProgramme { done: 0, len };
                }
            }
            Mode::ToProgramme { done, len } => {
                if let Some(input) = &mut self.live {
                    input.take(&mut out);
                }
                let mut programme = vec![0.0f32; n * 2];
                self.play_programme(&mut programme, report);
                let done = crossfade(&mut out, &programme, done, len, true);
                if done >= len {
                    self.live = None;
                    self.mode = Mode::Programme;
                } else {
                    self.mode = Mode::ToProgramme { done, len };
                }
            }
        }
        self.frames += n as u64;
        out
    }

    fn play_programme(&mut self, out: &mut [f32], report: &mut impl FnMut(MixerEvent)) {
        let base = self.frames as f64 - self.playout.frame() as f64;
        self.playout.fill(out);
        for event in self.playout.take_events() {
            report(match event {
                PlayoutEvent::TrackStarted { track, frame } => MixerEvent::TrackStarted {
                    track,
                    at: (base + frame as f64) / f64::from(RATE),
                },
                PlayoutEvent::TrackFailed { track, error } => {
                    MixerEvent::TrackFailed { track, error }
                }
            });
        }
    }
}

/// Mixes `incoming` into `out` (the outgoing signal) along an equal-power curve that is `done` of
/// `len` frames along at the block's start; returns how far along it is at its end. With `hold`,
/// past the end of the curve the output is the incoming signal alone.
fn crossfade(out: &mut [f32], incoming: &[f32], done: u64, len: u64, hold: bool) -> u64 {
    let mut at = done;
    for (o, i) in out.chunks_exact_mut(2).zip(incoming.chunks_exact(2)) {
        let t = if len == 0 {
            1.0
        } else {
            at as f32 / len as f32
        };
        let (g_out, g_in) = if hold && at >= len {
            (0.0, 1.0)
        } else {
            gains(t)
        };
        o[0] = o[0] * g_out + i[0] * g_in;
        o[1] = o[1] * g_out + i[1] * g_in;
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_power_gains_keep_the_power() {
        for step in 0..=10 {
            let (a, b) = gains(step as f32 / 10.0);
            assert!((a * a + b * b - 1.0).abs() < 1e-5);
        }
        assert_eq!(gains(0.0), (1.0, 0.0));
    }

    #[test]
    fn a_crossfade_ends_on_the_incoming_signal() {
        let mut out = vec![1.0f32; 200];
        let incoming = vec![0.5f32; 200];
        let done = crossfade(&mut out, &incoming, 0, 50, true);
        assert_eq!(done, 100);
        assert!((out[0] - 1.0).abs() < 1e-6);
        assert!((out[199] - 0.5).abs() < 1e-6);
        // Half-way: both at cos/sin of 45 degrees.
        let mid = out[50];
        assert!((mid - (std::f32::consts::FRAC_1_SQRT_2 * 1.5)).abs() < 0.02);
    }
}
