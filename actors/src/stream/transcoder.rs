//! The `Transcoder` actor: one rung of the ladder (one variant). It owns the rung's encoder
//! (`encoders.rs`), its HLS segmenter and, for the best MP3 rung, the recording's archive, and talks
//! to the `StreamSession` only by messages (`Encoded`, `Segmented`, `RungFailed`, `TranscoderDone`).
//!
//! **Where it runs.** Each rung is started by its session on an [`Arbiter`] of its own: a thread
//! whose only task is this actor, so encoding (blocking, CPU-bound) never runs on an async arbiter
//! that serves anything else, and one slow rung never delays another. `SyncArbiter` is not used:
//! its workers cannot be restarted (a panic ends the worker thread for good) and its mailbox is
//! unbounded and forwards through the system arbiter, which would take the backpressure away.
//!
//! **Supervision.** The actor is started under an actix [`Supervisor`] by its session, which keeps
//! the rung's mailbox (and so the decoder's address of it) across restarts. A panic while encoding
//! a block is caught at the rung's boundary; the rung tells its session (`RungFailed`: the session
//! logs it and counts it in `veza_transcoder_restarts_total{variant}`) and stops; the supervisor
//! then restarts it with a fresh encoder of the same variant (`Supervised::restarting`), keeping its
//! segmenter, archive and stream clock. Only the block being encoded is lost, and only for that
//! rung: the other rungs are other actors on other threads and never see it. The session holds only
//! weak addresses of its rungs, so when the decoder drops its addresses (the input ended) the
//! mailboxes disconnect and every rung flushes and stops for good.
//!
//! **Backpressure.** The decoder thread sends every PCM block to every rung with `Addr::send` and
//! keeps at most [`IN_FLIGHT`] unanswered blocks per rung (`RungInputs`): when a rung is that far
//! behind, the decoder waits for its oldest answer, so a slow rung slows the decoder, and so the
//! ingest socket, instead of queueing without bound. `IN_FLIGHT` is below the mailbox capacity,
//! so a send never parks (a parked send could be reordered).

use super::encoders::{self, EncodeError, Encoder};
use super::hls::{HlsConfig, Segmenter};
use super::ladder::Variant;
use super::{Encoded, RungFailed, Segmented, StreamSession, TranscoderDone};
use crate::stream::decode::PcmBlock;
use actix::dev::Request;
use actix::prelude::*;
use bytes::{Bytes, BytesMut};
use slog::{warn, Logger};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;

/// How much audio is gathered before it goes to listeners: with the decoder's blocks of 93 ms, a
/// piece of about 0.56 s, so fewer than two writes a second per listener instead of one per
/// encoder call (an MP3 frame is 26 ms). A listener's cost is almost all in the kernel's TCP send
/// path, once per write: this is what makes 10,000 listeners cheap (docs/benchmarks.md). Players
/// buffer seconds (and get a 2 s burst on connecting); the pieces add at most this much latency.
pub const COALESCE_SECONDS: f64 = 0.5;

/// A rung whose encoder panics this often within [`RESTART_WINDOW`] is not restarted again: the
/// variant ends for its listeners (they may take another) and the other rungs go on.
pub const MAX_RESTARTS: usize = 5;
pub const RESTART_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// PCM blocks a rung may have unanswered before the decoder waits for it (below actix's default
/// mailbox capacity of 16, so the decoder's sends never park).
pub const IN_FLIGHT: usize = 12;

/// Stereo frames the decoder gathers before sending them to the rungs: about 93 ms at 44.1 kHz,
/// four MP3 frames, so each rung's thread wakes ten times a second instead of forty.
pub const GATHER_FRAMES: usize = 4096;

pub(super) struct TranscoderParams {
    pub hub: usize,
    pub variant: Variant,
    pub session: Addr<StreamSession>,
    pub hls: Option<HlsConfig>,
    pub mount: String,
    pub started_wall_ms: i64,
    /// Append everything encoded to this file (the recording's archive).
    pub archive: Option<PathBuf>,
    pub log: Logger,
}

/// One block of decoded (and effects-processed) audio for a rung to encode.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Pcm(pub Arc<PcmBlock>);

/// Makes the rung's encoder panic on its next block (tests of rung supervision only; not in a
/// build without the `fault-injection` feature).
#[cfg(any(test, feature = "fault-injection"))]
#[derive(Message)]
#[rtype(result = "()")]
pub struct InjectEncoderPanic {
    /// How many blocks in a row panic (across restarts).
    pub blocks: u32,
}

pub(super) struct Transcoder {
    hub: usize,
    variant: Variant,
    session: Addr<StreamSession>,
    /// `None` only if a restart could not build a new encoder (the rung then stays silent).
    encoder: Option<Box<dyn Encoder>>,
    segmenter: Option<Segmenter>,
    archive: Option<BufWriter<File>>,
    /// Encoded bytes not yet sent to the session, and the stream time they reach.
    pending: BytesMut,
    pending_since: f64,
    /// Seconds of input encoded so far (the variant's live edge).
    consumed: f64,
    out: Vec<u8>,
    /// Set when a panic was caught: the rung stops and its supervisor restarts it.
    failed: bool,
    /// When the encoder panicked lately (kept across restarts: the supervisor restarts this same
    /// value), for [`MAX_RESTARTS`].
    panics: VecDeque<std::time::Instant>,
    #[cfg(any(test, feature = "fault-injection"))]
    panic_next: u32,
    log: Logger,
}

impl Transcoder {
    /// Starts the rung on `arbiter` under a supervisor; its address is what the decoder feeds.
    pub(super) fn start(
        params: TranscoderParams,
        arbiter: &ArbiterHandle,
    ) -> Result<Addr<Self>, EncodeError> {
        let rung = Transcoder::new(params)?;
        Ok(Supervisor::start_in_arbiter(arbiter, move |_| rung))
    }

    fn new(params: TranscoderParams) -> Result<Self, EncodeError> {
        let TranscoderParams {
            hub,
            variant,
            session,
            hls,
            mount,
            started_wall_ms,
            archive,
            log,
        } = params;
        let encoder = encoders::encoder_for(variant)?;
        let archive = archive.and_then(|path| {
            File::create(&path)
                .map(BufWriter::new)
                .map_err(|e| warn!(log, "not archiving this broadcast"; "file" => path.display().to_string(), "error" => e.to_string()))
                .ok()
        });
        let segmenter = hls.and_then(|config| {
            Segmenter::new(&config, &mount, variant, started_wall_ms)
                .map_err(|e| warn!(log, "HLS off for this variant"; "variant" => variant.to_string(), "error" => e.to_string()))
                .ok()
        });
        Ok(Self {
            hub,
            variant,
            session,
            encoder: Some(encoder),
            segmenter,
            archive,
            pending: BytesMut::new(),
            pending_since: 0.0,
            consumed: 0.0,
            out: Vec::with_capacity(16 * 1024),
            failed: false,
            panics: VecDeque::new(),
            #[cfg(any(test, feature = "fault-injection"))]
            panic_next: 0,
            log,
        })
    }
}

impl Actor for Transcoder {
    type Context = Context<Self>;

    /// Ogg's header pages go to the session first: every new listener needs them (after a
    /// restart, the fresh encoder's headers start a new chained Ogg stream).
    fn started(&mut self, _: &mut Context<Self>) {
        if let Some(header) = self.encoder.as_ref().and_then(|e| e.header()) {
            self.session.do_send(Encoded {
                hub: self.hub,
                data: header,
                header: true,
                edge: self.consumed,
            });
        }
    }

    /// The input ended (every sender is gone), or the rung failed and is about to be restarted.
    fn stopped(&mut self, ctx: &mut Context<Self>) {
        if self.failed && ctx.connected() {
            return;
        }
        self.finish();
    }
}

impl Supervised for Transcoder {
    fn restarting(&mut self, _: &mut Context<Self>) {
        self.failed = false;
        self.out.clear();
        self.encoder = encoders::encoder_for(self.variant)
            .map_err(|e| warn!(self.log, "transcoder could not restart; this variant stays silent"; "variant" => self.variant.to_string(), "error" => e.to_string()))
            .ok();
    }
}

impl Handler<Pcm> for Transcoder {
    type Result = ();
    fn handle(&mut self, Pcm(block): Pcm, ctx: &mut Context<Self>) {
        let encoded = std::panic::catch_unwind(AssertUnwindSafe(|| self.encode(&block)));
        self.consumed += (block.samples.len() / 2) as f64 / f64::from(block.rate.max(1));
        match encoded {
            Ok(Ok(())) => self.emit(false),
            Ok(Err(e)) => {
                // An encoder error (not a panic) is not transient: this rung stops for good.
                warn!(self.log, "transcoder stopped"; "variant" => self.variant.to_string(), "error" => e.to_string());
                self.encoder = None;
            }
            Err(panic) => {
                let error = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_owned());
                let now = std::time::Instant::now();
                self.panics.push_back(now);
                while self
                    .panics
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
                {
                    self.panics.pop_front();
                }
                let gave_up = self.panics.len() >= MAX_RESTARTS;
                self.session.do_send(RungFailed {
                    hub: self.hub,
                    variant: self.variant,
                    error,
                    gave_up,
                });
                if gave_up {
                    // Not restarted: the encoder is dropped, the blocks still sent are taken and
                    // dropped, and the session ends this variant's listeners.
                    self.encoder = None;
                } else {
                    self.failed = true;
                    ctx.stop();
                }
            }
        }
    }
}

#[cfg(any(test, feature = "fault-injection"))]
impl Handler<InjectEncoderPanic> for Transcoder {
    type Result = ();
    fn handle(&mut self, msg: InjectEncoderPanic, _: &mut Context<Self>) {
        self.panic_next = msg.blocks;
    }
}

impl Transcoder {
    fn encode(&mut self, block: &PcmBlock) -> Result<(), EncodeError> {
        #[cfg(any(test, feature = "fault-injection"))]
        if self.panic_next > 0 && self.encoder.is_some() {
            self.panic_next -= 1;
            panic!("encoder fault injected into {}", self.variant);
        }
        match self.encoder.as_mut() {
            Some(encoder) => encoder.encode(block, &mut self.out),
            None => Ok(()),
        }
    }

    /// Hands what the encoder produced to HLS, the archive and (coalesced) the listeners.
    fn emit(&mut self, last: bool) {
        if !self.out.is_empty() {
            let data = std::mem::take(&mut self.out);
            self.segment(&data);
            self.archive(&data);
            self.pending.extend_from_slice(&data);
            self.out = data;
            self.out.clear();
        }
        let due = self.consumed - self.pending_since >= COALESCE_SECONDS;
        if !self.pending.is_empty() && (due || last) {
            self.pending_since = self.consumed;
            self.session.do_send(Encoded {
                hub: self.hub,
                data: self.pending.split().freeze(),
                header: false,
                edge: self.consumed,
            });
        }
    }

    fn segment(&mut self, data: &[u8]) {
        let Some(s) = self.segmenter.as_mut() else {
            return;
        };
        match s.push(data) {
            Ok(done) => {
                for segment in done {
                    let playlist = Bytes::from(s.playlist(false));
                    self.session.do_send(Segmented {
                        hub: self.hub,
                        segment,
                        playlist,
                    });
                }
            }
            Err(e) => {
                // A full or read-only disk stops HLS for this variant, not the broadcast.
                warn!(self.log, "HLS segment write failed; HLS off for this variant"; "variant" => self.variant.to_string(), "error" => e.to_string());
                self.segmenter = None;
            }
        }
    }

    fn archive(&mut self, data: &[u8]) {
        if let Some(Err(e)) = self.archive.as_mut().map(|f| f.write_all(data)) {
            warn!(self.log, "archive write failed; the recording stops here"; "error" => e.to_string());
            self.archive = None;
        }
    }

    /// The input ended: flush the encoder, the last piece, the archive and the final playlist,
    /// then tell the session this variant is done.
    fn finish(&mut self) {
        if let Some(Err(e)) = self.encoder.as_mut().map(|e| e.finish(&mut self.out)) {
            warn!(self.log, "encoder flush failed"; "variant" => self.variant.to_string(), "error" => e.to_string());
        }
        self.emit(true);
        if let Some(Err(e)) = self.archive.take().map(|mut f| f.flush()) {
            warn!(self.log, "archive flush failed"; "error" => e.to_string());
        }
        if let Some(s) = self.segmenter.as_mut() {
            match s.finish() {
                Ok(Some(last)) => self.session.do_send(Segmented {
                    hub: self.hub,
                    segment: last,
                    playlist: Bytes::from(s.playlist(true)),
                }),
                Ok(None) => {}
                Err(e) => {
                    warn!(self.log, "could not write the final HLS playlist"; "error" => e.to_string())
                }
            }
        }
        self.session.do_send(TranscoderDone);
    }
}

/// The decoder thread's side of the rungs: every block goes to every rung, with at most
/// [`IN_FLIGHT`] unanswered blocks per rung (see the module doc).
pub(super) struct RungInputs {
    rungs: Vec<RungInput>,
    /// Decoded audio not yet sent (fewer than [`GATHER_FRAMES`] frames, all at one rate).
    gathered: Option<PcmBlock>,
    /// Waits for answers; the decoder thread is a plain thread, not an arbiter.
    waiter: tokio::runtime::Runtime,
}

struct RungInput {
    addr: Option<Addr<Transcoder>>,
    in_flight: VecDeque<Request<Transcoder, Pcm>>,
}

impl RungInputs {
    pub(super) fn new(rungs: Vec<Addr<Transcoder>>) -> std::io::Result<Self> {
        Ok(Self {
            rungs: rungs
                .into_iter()
                .map(|addr| RungInput {
                    addr: Some(addr),
                    in_flight: VecDeque::with_capacity(IN_FLIGHT),
                })
                .collect(),
            gathered: None,
            waiter: tokio::runtime::Builder::new_current_thread().build()?,
        })
    }

    /// Gathers `block` and, once [`GATHER_FRAMES`] frames are there (or the rate changes), sends
    /// them to every rung.
    pub(super) fn send(&mut self, block: &Arc<PcmBlock>) {
        if self.gathered.as_ref().is_some_and(|g| g.rate != block.rate) {
            self.flush();
        }
        let gathered = self.gathered.get_or_insert_with(|| PcmBlock {
            rate: block.rate,
            samples: Vec::with_capacity(GATHER_FRAMES * 2 + block.samples.len()),
        });
        gathered.samples.extend_from_slice(&block.samples);
        if gathered.samples.len() >= GATHER_FRAMES * 2 {
            self.flush();
        }
    }

    /// Sends what is gathered, if anything.
    fn flush(&mut self) {
        if let Some(block) = self.gathered.take().filter(|b| !b.samples.is_empty()) {
            self.send_now(&Arc::new(block));
        }
    }

    /// Sends `block` to every rung still running, first waiting for any rung that is full.
    fn send_now(&mut self, block: &Arc<PcmBlock>) {
        for rung in &mut self.rungs {
            while rung.in_flight.len() >= IN_FLIGHT {
                if let Some(oldest) = rung.in_flight.pop_front() {
                    if self.waiter.block_on(oldest).is_err() {
                        // The rung is gone (it could not encode at all): skip it from now on.
                        rung.addr = None;
                        rung.in_flight.clear();
                    }
                }
            }
            if let Some(addr) = &rung.addr {
                rung.in_flight.push_back(addr.send(Pcm(block.clone())));
            }
        }
    }

    /// The input ended: waits until every rung has taken every block, then lets go of the rungs
    /// (an actor whose senders are all gone stops without reading what is left in its mailbox),
    /// which flush and stop.
    pub(super) fn finish(mut self) {
        self.flush();
        for rung in &mut self.rungs {
            for request in rung.in_flight.drain(..) {
                let _rung_gone = self.waiter.block_on(request);
            }
        }
    }
}
