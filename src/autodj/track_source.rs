//! A library track opened for playout: a rodio [`Source`] of interleaved stereo at the mixer's
//! rate, gained to the station's target loudness.
//!
//! MP3, FLAC, Ogg Vorbis and WAV are decoded by rodio's `Decoder` (symphonia); Ogg Opus, which
//! symphonia cannot decode, by libopus (the actors' Ogg Opus reader) on a thread of its own that
//! hands blocks over a small bounded channel ([`OpusSource`]). Either way the graph after the
//! decoder is rodio's: `UniformSourceIterator` resamples and maps channels, `amplify` applies the
//! loudness gain and `limit` keeps a gained-up track from clipping.

use crate::tracks::analyse::AudioFormat;
use rodio::source::{LimitSettings, UniformSourceIterator};
use rodio::{Decoder, Source};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::time::Duration;
use veza_actors::stream::ogg_opus_in;

/// The mixer's format: every source is brought to it.
pub const RATE: u32 = 44_100;
pub const CHANNELS: u16 = 2;

/// A boxed source the mixer can move between threads.
pub type BoxedSource = Box<dyn Source + Send>;

/// The loudness gain is capped so a very quiet track is not pushed into the limiter for long.
const MAX_GAIN_DB: f32 = 12.0;
const MIN_GAIN_DB: f32 = -24.0;

/// The gain (in dB) that brings a track measured at `lufs` to `target` (none if unmeasured).
pub fn loudness_gain_db(lufs: Option<f64>, target: f64) -> f32 {
    match lufs {
        Some(l) if l.is_finite() => ((target - l) as f32).clamp(MIN_GAIN_DB, MAX_GAIN_DB),
        _ => 0.0,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("track could not be opened for playout: {0}")]
pub struct OpenError(pub String);

/// Opens the file at `path` (of the format its first bytes say) as a stereo source at [`RATE`],
/// `gain_db` louder.
pub fn open(path: &Path, gain_db: f32) -> Result<BoxedSource, OpenError> {
    let mut file = File::open(path).map_err(|e| OpenError(e.to_string()))?;
    let mut head = [0u8; 512];
    let n = read_head(&mut file, &mut head)?;
    let format =
        AudioFormat::sniff(&head[..n]).ok_or_else(|| OpenError("unknown format".into()))?;
    let file = File::open(path).map_err(|e| OpenError(e.to_string()))?;
    let decoded: BoxedSource = if format == AudioFormat::OggOpus {
        Box::new(OpusSource::spawn(BufReader::new(file))?)
    } else {
        let len = file.metadata().map_err(|e| OpenError(e.to_string()))?.len();
        Box::new(
            Decoder::builder()
                .with_data(BufReader::new(file))
                .with_byte_len(len)
                .with_hint(format.hint())
                .with_gapless(true)
                .build()
                .map_err(|e| OpenError(e.to_string()))?,
        )
    };
    Ok(shape(decoded, gain_db))
}

/// The graph after the decoder: resample and map channels, gain, limit.
pub fn shape(decoded: BoxedSource, gain_db: f32) -> BoxedSource {
    let uniform = UniformSourceIterator::new(OneSpan(decoded), CHANNELS, RATE);
    let gained = uniform.amplify_decibel(gain_db);
    if gain_db > 0.0 {
        Box::new(gained.limit(LimitSettings::default()))
    } else {
        Box::new(gained)
    }
}

/// A decoded track as one span. rodio's symphonia decoder can report a span of 0 samples before its
/// first packet (Ogg Vorbis does), which `UniformSourceIterator` takes for the end of the track; a
/// track keeps one rate and channel count throughout, so one span is what it is.
struct OneSpan(BoxedSource);

impl Iterator for OneSpan {
    type Item = f32;
    fn next(&mut self) -> Option<f32> {
        self.0.next()
    }
}

impl Source for OneSpan {
    fn current_span_len(&self) -> Option<usize> {
        None
    }
    fn channels(&self) -> u16 {
        self.0.channels()
    }
    fn sample_rate(&self) -> u32 {
        self.0.sample_rate()
    }
    fn total_duration(&self) -> Option<Duration> {
        self.0.total_duration()
    }
}

fn read_head(file: &mut File, head: &mut [u8]) -> Result<usize, OpenError> {
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(OpenError(e.to_string())),
        }
    }
    Ok(n)
}

/// Ogg Opus decoded by libopus on a thread of its own (48 kHz stereo), as a rodio source.
pub struct OpusSource;

impl OpusSource {
    fn spawn(input: impl Read + Send + 'static) -> Result<ChannelSource, OpenError> {
        let (tx, rx) = sync_channel::<Vec<f32>>(4);
        std::thread::Builder::new()
            .name("autodj-opus".into())
            .spawn(move || {
                let _ended_or_dropped = ogg_opus_in::each_block(input, |_, block| {
                    // A closed channel (the source was dropped, e.g. a skip): the rest is decoded
                    // for nothing, since each_block cannot stop early; it is one track at most.
                    let _dropped = tx.send(block);
                });
            })
            .map_err(|e| OpenError(e.to_string()))?;
        Ok(ChannelSource::new(rx, 48_000))
    }
}

/// Interleaved stereo blocks arriving on a channel (from a decoder thread), as a rodio source at a
/// fixed rate. `next` blocks until a block arrives; it ends when the sender is gone.
pub struct ChannelSource {
    blocks: Receiver<Vec<f32>>,
    block: std::vec::IntoIter<f32>,
    rate: u32,
}

impl ChannelSource {
    pub fn new(blocks: Receiver<Vec<f32>>, rate: u32) -> Self {
        ChannelSource {
            blocks,
            block: Vec::new().into_iter(),
            rate,
        }
    }
}

impl Iterator for ChannelSource {
    type Item = f32;
    fn next(&mut self) -> Option<f32> {
        loop {
            if let Some(s) = self.block.next() {
                return Some(s);
            }
            self.block = self.blocks.recv().ok()?.into_iter();
        }
    }
}

impl Source for ChannelSource {
    fn current_span_len(&self) -> Option<usize> {
        None
    }
    fn channels(&self) -> u16 {
        2
    }
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn total_duration(&self) -> Option<Duration> {
        None
    }
}
