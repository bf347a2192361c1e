//! The AutoDJ's mixer thread: renders the programme in real time into the stream session, and
//! hands over to a live source and back.
//!
//! The session's rungs (encoders, HLS segmenter, archive) are started once, when the AutoDJ goes on
//! air, and keep running while the source changes: a listener's decoder and an HLS player see one
//! continuous encoded stream (one clock, no new headers, no timestamp jump). What changes is only
//! the PCM the mixer renders, block by block, in the [`Switcher`] (`handover`): the programme (the
//! [`Playout`], tracks crossfaded), a live source that connected to the mount (decoded on threads
//! of its own by `live_input`), and the crossfades between them: when the source takes over, when
//! it leaves, and when it stalls (and again when it delivers after a stall).
//!
//! Pacing: the mixer renders blocks of [`BLOCK_FRAMES`] while it is less than [`LEAD`] ahead of the
//! wall clock since it started, then waits on its control channel; the rungs' backpressure (at most
//! a few blocks in flight each) slows it if encoding falls behind.

use super::handover::{frames, Switcher};
use super::live_input::LiveInput;
use super::playout::{Playout, TrackToPlay};
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
    /// The live source is off air, the programme back (crossfade starting at `at`): the source
    /// left, or (`stalled`) it stopped sending and stays attached, to take over again when it
    /// delivers. The programme was paused for `paused` seconds (its stream times move by that).
    LiveEnded {
        at: f64,
        stalled: bool,
        paused: f64,
    },
    /// Output up to stream time `to` has been rendered.
    Rendered {
        to: f64,
    },
}

pub struct Mixer {
    switcher: Switcher,
    feed: PcmFeed,
    control: Receiver<Control>,
    stop_after_live: bool,
    /// Output frames sent to the rungs.
    frames: u64,
}

impl Mixer {
    pub fn new(
        playout: Playout,
        feed: PcmFeed,
        control: Receiver<Control>,
        handover: Duration,
    ) -> Self {
        Mixer {
            switcher: Switcher::new(playout, handover),
            feed,
            control,
            stop_after_live: false,
            frames: 0,
        }
    }

    /// Runs until told to stop (or the control channel is gone); `report` hears every event.
    pub fn run(mut self, mut report: impl FnMut(MixerEvent)) {
        let started = Instant::now();
        loop {
            let due = frames(started.elapsed() + LEAD);
            while self.frames < due {
                let block = self.switcher.render(&mut report);
                self.frames += (block.len() / 2) as u64;
                self.feed.send(RATE, block);
                report(MixerEvent::Rendered {
                    to: self.switcher.now(),
                });
            }
            let ahead = Duration::from_secs_f64(
                self.frames.saturating_sub(frames(started.elapsed())) as f64 / f64::from(RATE),
            );
            let wait = ahead.saturating_sub(LEAD / 2).max(Duration::from_millis(5));
            match self.control.recv_timeout(wait) {
                Ok(Control::Stop) if self.switcher.has_live() => self.stop_after_live = true,
                Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(other) => self.apply(other),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.stop_after_live && !self.switcher.has_live() {
                break;
            }
        }
        self.feed.finish();
    }

    fn apply(&mut self, control: Control) {
        let playout = self.switcher.playout();
        match control {
            Control::Skip => playout.skip(Duration::from_secs(1)),
            Control::Live(input) => self.switcher.attach(input),
            Control::QueueNext(track) => playout.picker().queue_next(track),
            Control::SetMode(mode) => playout.picker().set_mode(mode),
            Control::SetPicker(picker) => playout.set_picker(picker),
            Control::SetCrossfade(d) => playout.set_crossfade(d),
            Control::SetHandover(d) => self.switcher.set_handover(d),
            Control::Stop => {}
        }
    }
}
