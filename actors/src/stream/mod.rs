//! Live audio: one [`StreamSession`] actor per live broadcast.
//!
//! The data path runs on dedicated threads: the ingest connection's bytes go to a decoder thread
//! (`decode.rs`), whose PCM goes to one `Transcoder` actor per variant (a rung, `transcoder.rs`,
//! each on an arbiter of its own and supervised by the session: a panic in one rung's encoder
//! restarts that rung only), whose encoded chunks come back to the session as messages. The
//! encoders themselves are in `encoders.rs`. The session owns, per variant, a burst buffer (the
//! last ~2 s, sent to a new listener at once so playback starts immediately) and a broadcast
//! channel to the listeners; `listener.rs` is the listener side of it, shared by both ports. A
//! listener that falls further behind than that channel holds is dropped, never buffered for.

mod aac;
pub mod clip;
pub mod clip_expiry;
pub mod clip_pool;
pub mod decode;
pub mod effects;
pub mod encoders;
pub mod hls;
pub mod icy;
pub mod ladder;
pub mod listener;
pub mod ogg_opus_in;
mod opus_ogg;
mod rates;
pub mod recording;
#[cfg(test)]
mod supervision_tests;
mod transcoder;

use crate::ids::{now_ms, RoomId, StreamId};
use crate::protocol::event;
use actix::prelude::*;
use actix::WeakAddr;
use bytes::Bytes;
use bytestring::ByteString;
use ladder::Variant;
use serde::Serialize;
use slog::{info, warn, Logger};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, watch};

/// Stream settings shared by every session.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub ladder: Vec<Variant>,
    /// Audio sent to a new listener at once, in milliseconds.
    pub burst_ms: u64,
    /// Encoded pieces (~0.56 s each, `transcoder::COALESCE_SECONDS`) a listener may lag behind
    /// before it is dropped (a power of two: the broadcast channel rounds up to one, and holds
    /// that many pieces of every variant for as long as the broadcast lasts).
    pub listener_queue: usize,
    /// HLS segments and DVR window; `None` turns HLS off.
    pub hls: Option<hls::HlsConfig>,
    /// Archive and post-process every broadcast; `None` turns recordings off.
    pub recording: Option<recording::RecordingConfig>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            ladder: ladder::parse_ladder(ladder::DEFAULT_LADDER).unwrap_or_default(),
            burst_ms: 2000,
            listener_queue: 64,
            hls: None,
            recording: None,
        }
    }
}

struct Hub {
    variant: Variant,
    /// Sent to every listener before anything else (Ogg header pages).
    header: Option<Bytes>,
    burst: VecDeque<Bytes>,
    burst_bytes: usize,
    burst_limit: usize,
    tx: Option<broadcast::Sender<Bytes>>,
    bytes_out: u64,
    /// Stream time this rung has encoded to.
    edge: f64,
    /// The live HLS playlist and segment index of this variant, if it is in HLS.
    hls: Option<HubHls>,
}

struct HubHls {
    /// Where the segments are written.
    dir: std::path::PathBuf,
    playlist: Bytes,
    segments: VecDeque<hls::Segment>,
    /// When the newest segment was written.
    last_segment_at: Option<Instant>,
}

impl Hub {
    fn push(&mut self, chunk: Bytes) {
        self.bytes_out += chunk.len() as u64;
        self.burst_bytes += chunk.len();
        self.burst.push_back(chunk.clone());
        // The fewest newest pieces that hold at least `burst_limit` (what a new listener gets).
        while let Some(front) = self.burst.front() {
            if self.burst_bytes - front.len() < self.burst_limit {
                break;
            }
            self.burst_bytes -= front.len();
            self.burst.pop_front();
        }
        if let Some(tx) = &self.tx {
            // No receivers is fine: nobody is listening to this variant right now.
            let _nobody_listening = tx.send(chunk);
        }
    }

    fn listeners(&self) -> usize {
        self.tx.as_ref().map(|t| t.receiver_count()).unwrap_or(0)
    }
}

pub struct StreamSession {
    pub stream_id: StreamId,
    pub mount: String,
    room: Option<RoomId>,
    notify: Recipient<NotifyRoom>,
    hubs: Vec<Hub>,
    title: watch::Sender<String>,
    effects: watch::Sender<Arc<effects::EffectsSpec>>,
    started_at: i64,
    transcoders_running: usize,
    /// The rungs (weak: the decoder's addresses are what keep them running), read only by the
    /// fault-injection hook, and their threads.
    #[cfg_attr(not(any(test, feature = "fault-injection")), allow(dead_code))]
    rungs: Vec<Option<WeakAddr<transcoder::Transcoder>>>,
    /// Held for its `Drop`: stops the rungs' threads when the session goes.
    _rung_threads: RungThreads,
    dvr_seconds: f64,
    /// Stream time (seconds since the start) of the newest encoded audio.
    edge: f64,
    /// Where this broadcast is archived, if it is.
    recording: Option<recording::RecordingConfig>,
    /// Clips waiting for their end to be segmented.
    pending_clips: Vec<clip::Pending>,
    /// HLS clients (by the `sid` in their playlist URLs) and when they last polled.
    hls_clients: HashMap<String, Instant>,
    rates: rates::Rates,
    on_end: Option<Recipient<BroadcastEnded>>,
    /// The broadcast's span (`stream.session`), from start to stop, when tracing is on.
    span: Option<crate::telemetry::Span>,
    log: Logger,
}

/// The rungs' threads: stopped with the session (after its rungs are done, or at once if the
/// session panicked).
struct RungThreads(Vec<Arbiter>);

impl Drop for RungThreads {
    fn drop(&mut self) {
        for arbiter in &self.0 {
            arbiter.stop();
        }
    }
}

/// Tells whoever started the session (the registry) that the broadcast is over.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct BroadcastEnded {
    pub mount: String,
}

/// Asks the registry to pass an event to a room's members.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct NotifyRoom {
    pub room: RoomId,
    pub frame: ByteString,
}

/// Who a new session is.
pub struct SessionParams {
    pub stream_id: StreamId,
    pub room: Option<RoomId>,
    pub mount: String,
    pub title: String,
    /// The source container (`mp3`, `aac`, `ogg`, `wav`, `flac`).
    pub extension: &'static str,
    /// The effects chain to start with.
    pub effects: effects::EffectsSpec,
}

/// What `start` returns: the actor and where the ingest writes the source's bytes.
pub struct Started {
    pub session: Addr<StreamSession>,
    pub input: mpsc::Sender<Bytes>,
}

impl StreamSession {
    /// Starts a session for a source of the given container (`mp3`, `aac`, `ogg`, `wav`, `flac`),
    /// with its decoder thread and its transcoder actors (one per rung, each on an arbiter of its own).
    pub fn start(
        params: SessionParams,
        config: Arc<StreamConfig>,
        on_end: Recipient<BroadcastEnded>,
        notify: Recipient<NotifyRoom>,
        log: Logger,
    ) -> Started {
        let extension = params.extension;
        let mount = params.mount.clone();
        let dlog = log.new(slog::o!("mount" => mount.clone()));
        let (input, rx) = mpsc::channel::<Bytes>(64);
        let (session, mut feed) = Self::start_fed(params, config, on_end, notify, log);
        let thread_log = dlog.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("decode-{mount}"))
            .spawn(move || {
                let input = decode::ChannelReader::new(rx).counting_into(feed.input_counter());
                match decode::each_block(input, extension, |rate, pcm| feed.send(rate, pcm)) {
                    Ok(summary) => info!(thread_log, "source ended"; "seconds" => summary.frames as f64 / summary.rate.max(1) as f64),
                    Err(e) => warn!(thread_log, "source rejected"; "error" => e.to_string()),
                }
                // Letting go of the rungs' addresses ends the transcoders, which end the session.
                feed.finish();
            });
        if spawned.is_err() {
            warn!(dlog, "could not start the decoder thread");
        }
        Started { session, input }
    }

    /// Starts a session whose audio comes from the caller (the AutoDJ's mixer) rather than from a
    /// source's bytes: the rungs are started, and every block given to the returned [`PcmFeed`]
    /// goes through the effects chain to all of them. Dropping or finishing the feed ends the
    /// broadcast. `params.extension` is not used.
    pub fn start_fed(
        params: SessionParams,
        config: Arc<StreamConfig>,
        on_end: Recipient<BroadcastEnded>,
        notify: Recipient<NotifyRoom>,
        log: Logger,
    ) -> (Addr<StreamSession>, PcmFeed) {
        let SessionParams {
            stream_id,
            room,
            mount,
            title,
            extension: _,
            effects,
        } = params;
        let log = log.new(slog::o!("mount" => mount.clone()));
        let variants: Vec<Variant> = config
            .ladder
            .iter()
            .copied()
            .filter(Variant::supported)
            .collect();
        let hubs = variants
            .iter()
            .map(|v| Hub {
                variant: *v,
                header: None,
                burst: VecDeque::new(),
                burst_bytes: 0,
                burst_limit: (v.kbps as u64 * 1000 / 8 * config.burst_ms / 1000) as usize,
                tx: Some(broadcast::channel(config.listener_queue.max(16)).0),
                bytes_out: 0,
                edge: 0.0,
                hls: config
                    .hls
                    .as_ref()
                    .filter(|_| hls::playlist::in_hls(v))
                    .map(|h| HubHls {
                        dir: h.variant_dir(&mount, v),
                        playlist: Bytes::new(),
                        segments: VecDeque::new(),
                        last_segment_at: None,
                    }),
            })
            .collect();
        let started_wall_ms = now_ms() as i64;
        // The best MP3 variant is archived for the recording.
        let archive_hub = variants
            .iter()
            .enumerate()
            .filter(|(_, v)| v.codec == ladder::Codec::Mp3)
            .max_by_key(|(_, v)| v.kbps)
            .map(|(i, _)| i);
        let recording = config.recording.clone().filter(|r| {
            archive_hub.is_some()
                && recording::mark_pending(&r.root, stream_id.0, started_wall_ms)
                    .map_err(|e| warn!(log, "recording off for this broadcast"; "error" => e.to_string()))
                    .is_ok()
        });
        let rates = rates::Rates::default();
        let input_counter = rates.input_counter();
        let (title_tx, _) = watch::channel(title);
        let (effects_tx, effects_rx) = watch::channel(Arc::new(effects));
        let mut rung_addrs = Vec::new();
        let session = StreamSession::create(|ctx| {
            let session = ctx.address();
            let mut arbiters = Vec::new();
            let mut rungs = Vec::new();
            for (index, variant) in variants.iter().enumerate() {
                let arbiter = Arbiter::new();
                let started = transcoder::Transcoder::start(
                    transcoder::TranscoderParams {
                        hub: index,
                        variant: *variant,
                        session: session.clone(),
                        hls: config
                            .hls
                            .clone()
                            .filter(|_| hls::playlist::in_hls(variant)),
                        mount: mount.clone(),
                        started_wall_ms,
                        archive: recording
                            .as_ref()
                            .filter(|_| archive_hub == Some(index))
                            .map(|r| recording::source_path(&r.root, stream_id.0, started_wall_ms)),
                        log: log.clone(),
                    },
                    &arbiter.handle(),
                );
                arbiters.push(arbiter);
                match started {
                    Ok(addr) => {
                        rungs.push(Some(addr.downgrade()));
                        rung_addrs.push(addr);
                    }
                    Err(e) => {
                        rungs.push(None);
                        warn!(log, "transcoder could not start"; "variant" => variant.to_string(), "error" => e.to_string());
                        session.do_send(TranscoderDone);
                    }
                }
            }
            StreamSession {
                stream_id,
                mount: mount.clone(),
                room,
                notify,
                hubs,
                title: title_tx,
                effects: effects_tx,
                started_at: started_wall_ms,
                transcoders_running: variants.len(),
                rungs,
                _rung_threads: RungThreads(arbiters),
                dvr_seconds: config
                    .hls
                    .as_ref()
                    .map(|h| f64::from(h.dvr_seconds))
                    .unwrap_or(0.0),
                hls_clients: HashMap::new(),
                rates,
                edge: 0.0,
                recording: recording.clone(),
                pending_clips: Vec::new(),
                on_end: Some(on_end),
                span: crate::telemetry::span("stream.session", || {
                    vec![
                        opentelemetry::KeyValue::new("veza.stream_id", stream_id.0),
                        opentelemetry::KeyValue::new("veza.mount", mount.clone()),
                    ]
                }),
                log: log.clone(),
            }
        });

        let rungs = match transcoder::RungInputs::new(rung_addrs) {
            Ok(rungs) => Some(rungs),
            Err(e) => {
                warn!(log, "could not start the rungs' inputs"; "error" => e.to_string());
                None
            }
        };
        let feed = PcmFeed {
            rungs,
            chain: effects::Processor::new(effects_rx),
            input_counter,
            started_wall_ms,
        };
        (session, feed)
    }
}

/// Where a session's audio goes in: interleaved stereo blocks, through the effects chain, to every
/// rung (waiting for a rung that is full, so the producer is paced by the slowest rung).
pub struct PcmFeed {
    rungs: Option<transcoder::RungInputs>,
    chain: effects::Processor,
    input_counter: Arc<std::sync::atomic::AtomicU64>,
    started_wall_ms: i64,
}

impl PcmFeed {
    /// When the broadcast began (ms since the epoch): stream time 0, the HLS clock's origin.
    pub fn started_wall_ms(&self) -> i64 {
        self.started_wall_ms
    }

    /// Sends one block of interleaved stereo at `rate` to every rung.
    pub fn send(&mut self, rate: u32, mut samples: Vec<f32>) {
        self.chain.process(rate, &mut samples);
        if let Some(rungs) = &mut self.rungs {
            rungs.send(&Arc::new(decode::PcmBlock { rate, samples }));
        }
    }

    /// The session's ingest byte counter (for `GET /metrics`' ingest bitrate).
    pub fn input_counter(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.input_counter.clone()
    }

    /// Waits for the rungs to take every block sent, then lets go of them: the rungs flush and
    /// stop, and the session ends.
    pub fn finish(self) {
        if let Some(rungs) = self.rungs {
            rungs.finish();
        }
    }
}

impl Actor for StreamSession {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(rates::SAMPLE_EVERY, |act, _| {
            act.rates.sample(act.hubs.iter().map(|h| h.edge).collect());
        });
        self.tell_room(true);
        crate::telemetry::event("stream.started", || {
            vec![
                opentelemetry::KeyValue::new("veza.mount", self.mount.clone()),
                opentelemetry::KeyValue::new("veza.variants", self.hubs.len() as i64),
            ]
        });
        info!(self.log, "broadcast started"; "variants" => self.hubs.iter().map(|h| h.variant.to_string()).collect::<Vec<_>>().join(","));
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        crate::telemetry::event("stream.ended", || {
            vec![opentelemetry::KeyValue::new(
                "veza.mount",
                self.mount.clone(),
            )]
        });
        if let Some(span) = &mut self.span {
            span.set("veza.seconds", self.edge);
        }
        self.span = None;
        // Closing the channels ends every listener's response.
        for hub in &mut self.hubs {
            hub.tx = None;
        }
        self.cut_ready_clips(true);
        if let Some(config) = self.recording.take() {
            recording::spawn_processing(
                config,
                self.stream_id.0,
                self.started_at,
                now_ms() as i64,
                self.log.clone(),
            );
        }
        self.tell_room(false);
        if let Some(on_end) = self.on_end.take() {
            on_end.do_send(BroadcastEnded {
                mount: self.mount.clone(),
            });
        }
        info!(self.log, "broadcast ended"; "bytes_out" => self.hubs.iter().map(|h| h.bytes_out).sum::<u64>());
    }
}

impl StreamSession {
    fn tell_room(&self, live: bool) {
        if let Some(room) = self.room {
            let frame = event::stream_state(
                room,
                self.stream_id,
                &self.mount,
                &self.title.borrow(),
                live,
            );
            self.notify.do_send(NotifyRoom { room, frame });
        }
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Encoded {
    hub: usize,
    data: Bytes,
    header: bool,
    /// Seconds of input this variant has encoded so far.
    edge: f64,
}

impl Handler<Encoded> for StreamSession {
    type Result = ();
    fn handle(&mut self, msg: Encoded, _: &mut Context<Self>) {
        self.edge = self.edge.max(msg.edge);
        if let Some(hub) = self.hubs.get_mut(msg.hub) {
            hub.edge = hub.edge.max(msg.edge);
            if msg.header {
                if hub.header.is_some() {
                    // A restarted rung's fresh encoder: its listeners need the new headers too.
                    hub.push(msg.data.clone());
                }
                hub.header = Some(msg.data);
            } else {
                hub.push(msg.data);
            }
        }
    }
}

/// A variant's segmenter finished a segment; `playlist` is the live media playlist after it.
#[derive(Message)]
#[rtype(result = "()")]
struct Segmented {
    hub: usize,
    segment: hls::Segment,
    playlist: Bytes,
}

impl Handler<Segmented> for StreamSession {
    type Result = ();
    fn handle(&mut self, msg: Segmented, _: &mut Context<Self>) {
        let dvr = self.dvr_seconds;
        if let Some(hls) = self.hubs.get_mut(msg.hub).and_then(|h| h.hls.as_mut()) {
            let edge = msg.segment.end();
            hls.segments.push_back(msg.segment);
            hls.last_segment_at = Some(Instant::now());
            while hls.segments.front().is_some_and(|s| edge - s.end() > dvr) {
                hls.segments.pop_front();
            }
            hls.playlist = msg.playlist;
        }
        self.cut_ready_clips(false);
    }
}

impl StreamSession {
    /// Starts the cut of every pending clip whose end is segmented (all of them once `ended`).
    fn cut_ready_clips(&mut self, ended: bool) {
        let mut waiting = Vec::new();
        for pending in std::mem::take(&mut self.pending_clips) {
            let Some((hub, hls)) = self
                .hubs
                .get(pending.hub)
                .and_then(|h| h.hls.as_ref().map(|s| (h, s)))
            else {
                continue;
            };
            let segmented_to = hls.segments.back().map(|s| s.end()).unwrap_or(0.0);
            if !ended && segmented_to < pending.end {
                waiting.push(pending);
                continue;
            }
            let segments = hls
                .segments
                .iter()
                .filter(|s| s.end() > pending.start && s.start < pending.end)
                .cloned()
                .collect();
            let pool = pending.pool.clone();
            pool.submit(clip_pool::ClipJob {
                dir: hls.dir.clone(),
                codec: hub.variant.codec,
                segments,
                pending,
            });
        }
        self.pending_clips = waiting;
    }
}

/// Cut `[from, to]` seconds back from now into `dest` (an MP3 file), once that audio is segmented.
#[derive(Message)]
#[rtype(result = "Result<ClipPlanned, clip::ClipRefused>")]
pub struct CutClip {
    pub from: f64,
    pub to: f64,
    pub dest: std::path::PathBuf,
    /// The pool the cut runs on, and the clip's place in it (freed when the cut is done).
    pub pool: clip_pool::ClipPool,
    pub slot: clip_pool::ClipSlot,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClipPlanned {
    pub variant: Variant,
    /// Stream times (seconds since the broadcast began).
    pub start: f64,
    pub end: f64,
}

impl StreamSession {
    /// Where `[from, to]` lies in the best MP3 variant in HLS (its segments are the DVR buffer
    /// clips come from): that hub's index and the stream times.
    fn plan_clip(&self, from: f64, to: f64) -> Result<(usize, ClipPlanned), clip::ClipRefused> {
        let (index, hub) = self
            .hubs
            .iter()
            .enumerate()
            .filter(|(_, h)| h.hls.is_some() && h.variant.codec == ladder::Codec::Mp3)
            .max_by_key(|(_, h)| h.variant.kbps)
            .ok_or(clip::ClipRefused::NoSource)?;
        let oldest = hub
            .hls
            .as_ref()
            .and_then(|h| h.segments.front())
            .map(|s| s.start)
            .unwrap_or(0.0);
        let (start, end) = clip::plan(from, to, self.edge, oldest)?;
        let planned = ClipPlanned {
            variant: hub.variant,
            start,
            end,
        };
        Ok((index, planned))
    }
}

/// Whether `[from, to]` could be cut now (nothing is queued): lets the caller count only clips
/// that will be made.
#[derive(Message)]
#[rtype(result = "Result<ClipPlanned, clip::ClipRefused>")]
pub struct PlanClip {
    pub from: f64,
    pub to: f64,
}

impl Handler<PlanClip> for StreamSession {
    type Result = Result<ClipPlanned, clip::ClipRefused>;
    fn handle(&mut self, msg: PlanClip, _: &mut Context<Self>) -> Self::Result {
        self.plan_clip(msg.from, msg.to).map(|(_, planned)| planned)
    }
}

impl Handler<CutClip> for StreamSession {
    type Result = Result<ClipPlanned, clip::ClipRefused>;
    fn handle(&mut self, msg: CutClip, _: &mut Context<Self>) -> Self::Result {
        let (index, planned) = self.plan_clip(msg.from, msg.to)?;
        self.pending_clips.push(clip::Pending {
            hub: index,
            start: planned.start,
            end: planned.end,
            dest: msg.dest,
            slot: msg.slot,
            pool: msg.pool,
        });
        self.cut_ready_clips(false);
        Ok(planned)
    }
}

/// HLS clients count as listening while they poll at least this often.
const HLS_CLIENT_TTL: Duration = Duration::from_secs(10);

/// The variants in this session's HLS master playlist.
#[derive(Message)]
#[rtype(result = "Vec<Variant>")]
pub struct HlsVariants;

impl Handler<HlsVariants> for StreamSession {
    type Result = MessageResult<HlsVariants>;
    fn handle(&mut self, _: HlsVariants, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.hubs
                .iter()
                .filter(|h| h.hls.is_some())
                .map(|h| h.variant)
                .collect(),
        )
    }
}

/// A variant's live media playlist (`None`: not in HLS); `client` is the poller's `sid`.
#[derive(Message)]
#[rtype(result = "Option<Bytes>")]
pub struct HlsPlaylist {
    pub variant: Variant,
    pub client: Option<String>,
}

impl Handler<HlsPlaylist> for StreamSession {
    type Result = Option<Bytes>;
    fn handle(&mut self, msg: HlsPlaylist, _: &mut Context<Self>) -> Self::Result {
        let hub = self.hubs.iter().find(|h| h.variant == msg.variant)?;
        let hls = hub.hls.as_ref()?;
        if let Some(client) = msg.client {
            let now = Instant::now();
            if self.hls_clients.len() > 100_000 {
                self.hls_clients
                    .retain(|_, seen| now - *seen < HLS_CLIENT_TTL);
            }
            if self.hls_clients.len() <= 100_000 {
                self.hls_clients.insert(client, now);
            }
        }
        Some(hls.playlist.clone())
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct TranscoderDone;

/// A rung caught a panic in its encoder; its supervisor restarts it with a fresh encoder, unless
/// it `gave_up` (too many panics lately): then the variant ends for its listeners.
#[derive(Message)]
#[rtype(result = "()")]
struct RungFailed {
    hub: usize,
    variant: Variant,
    error: String,
    gave_up: bool,
}

impl Handler<RungFailed> for StreamSession {
    type Result = ();
    fn handle(&mut self, msg: RungFailed, _: &mut Context<Self>) {
        let variant = msg.variant.to_string();
        if msg.gave_up {
            warn!(self.log, "transcoder panicked too often; this variant ends for its listeners"; "variant" => &variant, "error" => msg.error, "panics" => transcoder::MAX_RESTARTS, "within_s" => transcoder::RESTART_WINDOW.as_secs());
            if let Some(hub) = self.hubs.get_mut(msg.hub) {
                // Closing the channel ends its listeners' responses; new ones get a 404.
                hub.tx = None;
            }
            return;
        }
        warn!(self.log, "transcoder panicked; restarting it with a fresh encoder"; "variant" => &variant, "error" => msg.error);
        crate::metrics::metrics()
            .transcoder_restarts
            .with(&[&variant])
            .inc();
    }
}

/// Makes one rung's encoder panic on its next block (tests of rung supervision only).
#[cfg(any(test, feature = "fault-injection"))]
#[derive(Message)]
#[rtype(result = "bool")]
pub struct PanicRung {
    pub variant: Variant,
    /// How many blocks in a row panic.
    pub blocks: u32,
}

#[cfg(any(test, feature = "fault-injection"))]
impl Handler<PanicRung> for StreamSession {
    type Result = bool;
    fn handle(&mut self, msg: PanicRung, _: &mut Context<Self>) -> bool {
        let Some(index) = self.hubs.iter().position(|h| h.variant == msg.variant) else {
            return false;
        };
        let rung = self.rungs.get(index).and_then(|r| r.as_ref()?.upgrade());
        rung.map(|r| r.do_send(transcoder::InjectEncoderPanic { blocks: msg.blocks }))
            .is_some()
    }
}

impl Handler<TranscoderDone> for StreamSession {
    type Result = ();
    fn handle(&mut self, _: TranscoderDone, ctx: &mut Context<Self>) {
        self.transcoders_running = self.transcoders_running.saturating_sub(1);
        if self.transcoders_running == 0 {
            ctx.stop();
        }
    }
}

/// A listener's start: the burst to send at once, then live chunks, and the now-playing title.
pub struct Listening {
    pub variant: Variant,
    pub burst: Vec<Bytes>,
    pub live: broadcast::Receiver<Bytes>,
    pub title: watch::Receiver<String>,
}

/// Subscribe to a variant; `None` if this session does not produce it.
#[derive(Message)]
#[rtype(result = "Option<Listening>")]
pub struct Listen(pub Variant);

impl Handler<Listen> for StreamSession {
    type Result = Option<Listening>;
    fn handle(&mut self, msg: Listen, _: &mut Context<Self>) -> Self::Result {
        let hub = self.hubs.iter().find(|h| h.variant == msg.0)?;
        Some(Listening {
            variant: hub.variant,
            burst: hub.header.iter().chain(hub.burst.iter()).cloned().collect(),
            live: hub.tx.as_ref()?.subscribe(),
            title: self.title.subscribe(),
        })
    }
}

/// Sets the now-playing title (ICY `StreamTitle`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetTitle(pub String);

impl Handler<SetTitle> for StreamSession {
    type Result = ();
    fn handle(&mut self, msg: SetTitle, _: &mut Context<Self>) {
        // Every path in (REST, Icecast's /admin/metadata, the WebSocket ingest) ends here: the
        // title goes into ICY blocks and `icy-name` headers, where a control character (a line
        // break) would break the response.
        let title: String = msg
            .0
            .chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect();
        // send_replace: `send` would drop the update while nobody is listening.
        self.title.send_replace(title.clone());
        if let Some(room) = self.room {
            let frame = event::now_playing(room, self.stream_id, &title);
            self.notify.do_send(NotifyRoom { room, frame });
        }
    }
}

/// Replaces the effects chain; the decoder thread crossfades to it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetEffects(pub effects::EffectsSpec);

impl Handler<SetEffects> for StreamSession {
    type Result = ();
    fn handle(&mut self, msg: SetEffects, _: &mut Context<Self>) {
        self.effects.send_replace(Arc::new(msg.0));
    }
}

/// Makes the session panic inside a handler. Only for tests of crash isolation; not reachable
/// from any request. (A panicking actor's task is dropped by its arbiter: its listeners' channels
/// close, its address disconnects, the ingest drops the source, and nothing else is touched.)
#[derive(Message)]
#[rtype(result = "()")]
pub struct Poison;

impl Handler<Poison> for StreamSession {
    type Result = ();
    fn handle(&mut self, _: Poison, _: &mut Context<Self>) {
        panic!("stream session poisoned on purpose");
    }
}

/// Live state for the REST API.
#[derive(Debug, Clone, Serialize)]
pub struct LiveInfo {
    /// Which stream (for `GET /metrics`; the REST views already name it).
    #[serde(skip)]
    pub stream_id: StreamId,
    pub started_at: i64,
    pub title: String,
    /// Progressive and HLS listeners together.
    pub listeners: u64,
    pub hls_listeners: u64,
    pub variants: Vec<VariantInfo>,
    /// Bits per second of source over the last few seconds (for `GET /metrics`).
    #[serde(skip)]
    pub ingest_bps: u64,
    /// Stream time (seconds since the start) of the newest encoded audio.
    #[serde(skip)]
    pub edge: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantInfo {
    pub name: String,
    pub listeners: u64,
    pub bytes_out: u64,
    /// Seconds of audio encoded per second over the last few seconds (for `GET /metrics`).
    #[serde(skip)]
    pub realtime_factor: Option<f64>,
    /// Seconds since this variant's newest HLS segment was written (for `GET /metrics`).
    #[serde(skip)]
    pub segment_age_s: Option<f64>,
}

#[derive(Message)]
#[rtype(result = "LiveInfo")]
pub struct Info;

impl Handler<Info> for StreamSession {
    type Result = MessageResult<Info>;
    fn handle(&mut self, _: Info, _: &mut Context<Self>) -> Self::Result {
        let variants: Vec<VariantInfo> = self
            .hubs
            .iter()
            .enumerate()
            .map(|(i, h)| VariantInfo {
                name: h.variant.to_string(),
                listeners: h.listeners() as u64,
                bytes_out: h.bytes_out,
                realtime_factor: self.rates.realtime.get(i).copied().flatten(),
                segment_age_s: h
                    .hls
                    .as_ref()
                    .and_then(|s| s.last_segment_at)
                    .map(|t| t.elapsed().as_secs_f64()),
            })
            .collect();
        let now = Instant::now();
        self.hls_clients
            .retain(|_, seen| now - *seen < HLS_CLIENT_TTL);
        let hls_listeners = self.hls_clients.len() as u64;
        MessageResult(LiveInfo {
            stream_id: self.stream_id,
            started_at: self.started_at,
            title: self.title.borrow().clone(),
            listeners: variants.iter().map(|v| v.listeners).sum::<u64>() + hls_listeners,
            hls_listeners,
            variants,
            ingest_bps: self.rates.ingest_bps,
            edge: self.edge,
        })
    }
}
