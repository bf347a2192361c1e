//! A live source on a mount the AutoDJ is playing: its bytes are decoded on a thread of its own
//! (the actors' `decode::each_block`, as for any live source) and, when the source is not at the
//! mixer's rate, resampled by rodio's `UniformSourceIterator` on a second thread; the mixer takes
//! 44.1 kHz stereo blocks from a small bounded channel. When the mixer does not take (it buffers
//! only what it needs), the channel fills, the decoder waits, and so does the source's socket.

use super::track_source::{ChannelSource, CHANNELS, RATE};
use bytes::Bytes;
use rodio::source::UniformSourceIterator;
use slog::{info, warn, Logger};
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;
use tokio::sync::mpsc;
use veza_actors::stream::decode;

/// Blocks the decoder may be ahead of the mixer.
const QUEUE_BLOCKS: usize = 8;
/// Samples per block after resampling.
const RESAMPLED_BLOCK: usize = 4096;

/// The mixer's side of a live source.
pub struct LiveInput {
    blocks: Receiver<Vec<f32>>,
    buf: VecDeque<f32>,
    disconnected: bool,
    /// The mixer's clock (output frames) when it last wanted more of the source and none was
    /// ready, `None` once a block came since: how long a stalled source has sent nothing.
    dry_since: Option<u64>,
}

impl LiveInput {
    fn new(blocks: Receiver<Vec<f32>>) -> Self {
        LiveInput {
            blocks,
            buf: VecDeque::new(),
            disconnected: false,
            dry_since: None,
        }
    }

    /// A source whose decoded blocks (44.1 kHz stereo) come from `blocks` (for tests).
    #[cfg(test)]
    pub(super) fn from_blocks(blocks: Receiver<Vec<f32>>) -> Self {
        Self::new(blocks)
    }

    /// Takes blocks from the decoder until `frames` are buffered (or none is ready); `now` is the
    /// mixer's clock in output frames.
    pub fn fill_to(&mut self, frames: usize, now: u64) {
        while !self.disconnected && self.buf.len() < frames * 2 {
            match self.blocks.try_recv() {
                Ok(block) => {
                    self.buf.extend(block);
                    self.dry_since = None;
                }
                Err(TryRecvError::Empty) => {
                    self.dry_since.get_or_insert(now);
                    break;
                }
                Err(TryRecvError::Disconnected) => self.disconnected = true,
            }
        }
    }

    pub fn buffered_frames(&self) -> usize {
        self.buf.len() / 2
    }

    /// Output frames (up to `now`) since the source last delivered while more was wanted.
    pub fn dry_for(&self, now: u64) -> u64 {
        self.dry_since.map_or(0, |since| now.saturating_sub(since))
    }

    /// The source's connection is gone (what is buffered may still be played).
    pub fn ended(&self) -> bool {
        self.disconnected
    }

    /// Fills `out` from the buffer; silence past its end (a source that delivers late).
    pub fn take(&mut self, out: &mut [f32]) {
        let n = out.len().min(self.buf.len());
        for (o, s) in out[..n].iter_mut().zip(self.buf.drain(..n)) {
            *o = s;
        }
        out[n..].fill(0.0);
    }
}

/// Starts decoding a source of container `extension`; its bytes go into the returned sender.
/// Received bytes are counted into `received` (the session's ingest bitrate).
pub fn attach(
    extension: &'static str,
    received: Arc<AtomicU64>,
    log: Logger,
) -> std::io::Result<(mpsc::Sender<Bytes>, LiveInput)> {
    let (input, rx) = mpsc::channel::<Bytes>(64);
    let (out, blocks) = sync_channel::<Vec<f32>>(QUEUE_BLOCKS);
    std::thread::Builder::new()
        .name("autodj-live".into())
        .spawn(move || {
            let reader = decode::ChannelReader::new(rx).counting_into(received);
            let mut resampler: Option<SyncSender<Vec<f32>>> = None;
            let mut first_rate = None;
            let result = decode::each_block(reader, extension, |rate, block| {
                let source_rate = *first_rate.get_or_insert(rate);
                if source_rate == RATE {
                    let _mixer_gone = out.send(block);
                    return;
                }
                let to_resampler = resampler
                    .get_or_insert_with(|| spawn_resampler(source_rate, out.clone(), &log));
                let _resampler_gone = to_resampler.send(block);
            });
            match result {
                Ok(summary) => info!(log, "live source left the AutoDJ's mount"; "seconds" => summary.frames as f64 / f64::from(summary.rate.max(1))),
                Err(e) => warn!(log, "live source rejected"; "error" => e.to_string()),
            }
        })?;
    Ok((input, LiveInput::new(blocks)))
}

/// A thread that resamples blocks at `rate` to the mixer's rate.
fn spawn_resampler(rate: u32, out: SyncSender<Vec<f32>>, log: &Logger) -> SyncSender<Vec<f32>> {
    let (tx, rx) = sync_channel::<Vec<f32>>(QUEUE_BLOCKS);
    let spawned = std::thread::Builder::new()
        .name("autodj-resample".into())
        .spawn(move || {
            let mut resampled =
                UniformSourceIterator::new(ChannelSource::new(rx, rate), CHANNELS, RATE);
            loop {
                let block: Vec<f32> = resampled.by_ref().take(RESAMPLED_BLOCK).collect();
                if block.is_empty() || out.send(block).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        warn!(log, "could not start the live source's resampler"; "error" => e.to_string());
    }
    tx
}
