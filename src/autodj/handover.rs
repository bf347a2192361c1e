//! What the AutoDJ's mixer puts on air, block by block: the programme, a live source, and the
//! equal-power crossfades between them.
//!
//! - **Programme**: the [`Playout`] alone. A live source attached meanwhile is buffered; once
//!   [`prebuffer`] of it is there (so a source that delivers in bursts does not run dry), the
//!   handover begins.
//! - **ToLive**: the programme fades out while the source fades in, over `handover`; then the
//!   playout pauses where it was.
//! - **Live**: the source alone, until its connection ends or it stalls ([`stalled`]: it sends
//!   nothing and what is left of it is down to the fade's length). Either way, what is left is
//!   faded into the programme, which resumes where it paused: the programme starts before the last
//!   of the live audio has played, so there is no gap, and a stalled source is never heard as
//!   silence.
//! - **ToProgramme**: that crossfade. At its end a source that left is dropped; a stalled one
//!   stays attached (the mount stays busy) and takes over again, prebuffer and crossfade, when it
//!   delivers again.

use super::live_input::LiveInput;
use super::mixer::{MixerEvent, BLOCK_FRAMES};
use super::playout::{Playout, PlayoutEvent};
use super::track_source::RATE;
use std::time::Duration;

/// How long a live source on air may send nothing before a low buffer is taken for a stall rather
/// than for a late packet.
pub const STALL_GRACE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Programme,
    ToLive { done: u64, len: u64 },
    Live,
    ToProgramme { done: u64, len: u64 },
}

/// The programme, the live source if one is attached, and which of them is on air.
pub struct Switcher {
    playout: Playout,
    live: Option<LiveInput>,
    mode: Mode,
    handover: Duration,
    /// When the live source connected, or delivered again after a stall (output frames).
    live_since: Option<u64>,
    /// Output frames rendered.
    frames: u64,
    /// Output frames minus playout frames at the last block the programme played: where the
    /// programme's own clock sits on the stream clock. It grows by the time the programme was
    /// paused, which is how far its lyrics move.
    programme_base: u64,
}

pub(super) fn frames(d: Duration) -> u64 {
    (d.as_secs_f64() * f64::from(RATE)) as u64
}

fn secs(frames: u64) -> f64 {
    frames as f64 / f64::from(RATE)
}

/// How much of a live source must be buffered before the handover: the handover itself (so a
/// source that leaves during it still has audio to fade out) and some slack for jitter.
fn prebuffer(handover: Duration) -> u64 {
    frames(handover.max(Duration::from_millis(250)) + Duration::from_millis(150))
}

/// Whether the live source on air has stalled, after the mixer took a block from it: `buffered`
/// frames are left, the fade back to the programme would last `fade`, and the source has sent
/// nothing for `dry_for` frames. What is left must still cover the fade (at least two blocks), so
/// the decision comes once that much is left and the source has been quiet for [`STALL_GRACE`]; a
/// source that still delivers, but too slowly to fill the next block, falls back too.
pub fn stalled(buffered: u64, fade: u64, dry_for: u64) -> bool {
    let block = BLOCK_FRAMES as u64;
    let low = buffered < fade.max(2 * block);
    (low && dry_for >= frames(STALL_GRACE)) || buffered < block
}

/// Equal-power crossfade gains at `t` in [0, 1]: (outgoing, incoming).
fn gains(t: f32) -> (f32, f32) {
    let a = t.clamp(0.0, 1.0) * std::f32::consts::FRAC_PI_2;
    (a.cos(), a.sin())
}

/// Mixes `incoming` into `out` (the outgoing signal) along an equal-power curve that is `done` of
/// `len` frames along at the block's start; returns how far along it is at its end. Past the end
/// of the curve the output is the incoming signal alone.
fn crossfade(out: &mut [f32], incoming: &[f32], done: u64, len: u64) -> u64 {
    let mut at = done;
    for (o, i) in out.chunks_exact_mut(2).zip(incoming.chunks_exact(2)) {
        let (g_out, g_in) = if at >= len {
            (0.0, 1.0)
        } else {
            gains(at as f32 / len as f32)
        };
        o[0] = o[0] * g_out + i[0] * g_in;
        o[1] = o[1] * g_out + i[1] * g_in;
        at += 1;
    }
    at
}

impl Switcher {
    pub fn new(playout: Playout, handover: Duration) -> Self {
        Switcher {
            playout,
            live: None,
            mode: Mode::Programme,
            handover,
            live_since: None,
            frames: 0,
            programme_base: 0,
        }
    }

    pub fn playout(&mut self) -> &mut Playout {
        &mut self.playout
    }

    pub fn set_handover(&mut self, handover: Duration) {
        self.handover = handover;
    }

    /// A live source connected (a second one while one is attached is refused before it gets
    /// here, and ignored if it does).
    pub fn attach(&mut self, input: LiveInput) {
        if self.live.is_none() {
            self.live = Some(input);
            self.live_since = Some(self.frames);
        }
    }

    /// A live source is attached (on air, fading, buffering, or stalled).
    pub fn has_live(&self) -> bool {
        self.live.is_some()
    }

    /// Stream time (seconds) of the next block.
    pub fn now(&self) -> f64 {
        secs(self.frames)
    }

    /// The next block of output (interleaved stereo, [`BLOCK_FRAMES`] frames).
    pub fn render(&mut self, report: &mut impl FnMut(MixerEvent)) -> Vec<f32> {
        let n = BLOCK_FRAMES;
        let mut out = vec![0.0f32; n * 2];
        let want = prebuffer(self.handover) as usize + n;
        if let Some(live) = &mut self.live {
            live.fill_to(want, self.frames);
        }
        self.mode = match self.mode {
            Mode::Programme => self.programme_block(&mut out, report),
            Mode::ToLive { done, len } => self.handing_over_block(&mut out, done, len, report),
            Mode::Live => self.live_block(&mut out, report),
            Mode::ToProgramme { done, len } => self.giving_back_block(&mut out, done, len, report),
        };
        self.frames += n as u64;
        out
    }

    fn programme_block(&mut self, out: &mut [f32], report: &mut impl FnMut(MixerEvent)) -> Mode {
        self.play_programme(out, report);
        let Some(live) = &self.live else {
            return Mode::Programme;
        };
        let buffered = live.buffered_frames() as u64;
        if buffered >= prebuffer(self.handover) {
            let len = frames(self.handover).max(1);
            let at = secs(self.frames + BLOCK_FRAMES as u64);
            let since = self.live_since.unwrap_or(self.frames);
            report(MixerEvent::LiveStarted {
                at,
                handover: secs(len),
                waited: at - secs(since),
            });
            return Mode::ToLive { done: 0, len };
        }
        if live.ended() {
            // Left before it was (again) on air.
            self.live = None;
        } else if buffered > 0 && self.live_since.is_none() {
            // A stalled source delivers again.
            self.live_since = Some(self.frames);
        }
        Mode::Programme
    }

    fn handing_over_block(
        &mut self,
        out: &mut [f32],
        done: u64,
        len: u64,
        report: &mut impl FnMut(MixerEvent),
    ) -> Mode {
        self.play_programme(out, report);
        let mut live = vec![0.0f32; out.len()];
        if let Some(input) = &mut self.live {
            input.take(&mut live);
        }
        let done = crossfade(out, &live, done, len);
        if done >= len {
            Mode::Live
        } else {
            Mode::ToLive { done, len }
        }
    }

    fn live_block(&mut self, out: &mut [f32], report: &mut impl FnMut(MixerEvent)) -> Mode {
        let block = BLOCK_FRAMES as u64;
        let fade = frames(self.handover);
        let (left, gone, stall) = match &mut self.live {
            Some(input) => {
                let gone = input.ended();
                input.take(out);
                let left = input.buffered_frames() as u64;
                let dry = input.dry_for(self.frames);
                (left, gone, !gone && stalled(left, fade, dry))
            }
            None => (0, true, false),
        };
        if !gone && !stall {
            return Mode::Live;
        }
        // What is left of the source is faded into the programme, which resumes with the next
        // block: it was paused from the end of the handover until then.
        let next = self.frames + block;
        let paused = next
            .saturating_sub(self.playout.frame())
            .saturating_sub(self.programme_base);
        report(MixerEvent::LiveEnded {
            at: secs(next),
            stalled: stall,
            paused: secs(paused),
        });
        Mode::ToProgramme {
            done: 0,
            len: left.min(fade).max(block),
        }
    }

    fn giving_back_block(
        &mut self,
        out: &mut [f32],
        done: u64,
        len: u64,
        report: &mut impl FnMut(MixerEvent),
    ) -> Mode {
        if let Some(input) = &mut self.live {
            input.take(out);
        }
        let mut programme = vec![0.0f32; out.len()];
        self.play_programme(&mut programme, report);
        let done = crossfade(out, &programme, done, len);
        if done < len {
            return Mode::ToProgramme { done, len };
        }
        if self.live.as_ref().is_none_or(LiveInput::ended) {
            self.live = None;
        } else {
            // Stalled: it takes over again once it delivers enough.
            self.live_since = None;
        }
        Mode::Programme
    }

    fn play_programme(&mut self, out: &mut [f32], report: &mut impl FnMut(MixerEvent)) {
        self.programme_base = self.frames.saturating_sub(self.playout.frame());
        let base = self.programme_base;
        self.playout.fill(out);
        for event in self.playout.take_events() {
            report(match event {
                PlayoutEvent::TrackStarted { track, frame } => MixerEvent::TrackStarted {
                    track,
                    at: secs(base + frame),
                },
                PlayoutEvent::TrackFailed { track, error } => {
                    MixerEvent::TrackFailed { track, error }
                }
            });
        }
    }
}

#[cfg(test)]
#[path = "handover_tests.rs"]
mod tests;
