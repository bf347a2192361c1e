//! Decoding the live input: bytes from the ingest connection in, stereo f32 PCM blocks out.
//!
//! Runs on its own thread. The input is not seekable (it is a socket), which symphonia handles
//! through `ReadOnlySource`; the container is chosen from the source's Content-Type.

use bytes::Bytes;
use std::io::Read;
use std::sync::Arc;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use thiserror::Error;

/// Interleaved stereo samples at `rate`.
#[derive(Debug)]
pub struct PcmBlock {
    pub rate: u32,
    pub samples: Vec<f32>,
}

#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("the input is not a {0} stream this server can read: {1}")]
    Unreadable(String, String),
    #[error("the input has no audio track")]
    NoAudio,
    #[error("too many corrupt packets in a row")]
    Corrupt,
}

/// The file extension symphonia should assume for a source Content-Type, or `None` if unsupported.
pub fn extension_for(content_type: &str) -> Option<&'static str> {
    let base = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(match base.as_str() {
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" => "mp3",
        "audio/aac" | "audio/aacp" | "audio/x-aac" => "aac",
        "audio/ogg" | "application/ogg" | "audio/vorbis" => "ogg",
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/flac" | "audio/x-flac" => "flac",
        _ => return None,
    })
}

/// A blocking `Read` over the chunks the ingest task receives.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    buf: Bytes,
    /// Received bytes are added here, if set (the session's ingest bitrate).
    received: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

impl ChannelReader {
    pub fn new(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Self {
        Self {
            rx,
            buf: Bytes::new(),
            received: None,
        }
    }

    /// Counts every received byte into `counter`.
    pub fn counting_into(mut self, counter: std::sync::Arc<std::sync::atomic::AtomicU64>) -> Self {
        self.received = Some(counter);
        self
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    if let Some(counter) = &self.received {
                        counter.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    }
                    self.buf = chunk;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

/// What a finished decode saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct DecodeSummary {
    pub frames: u64,
    pub rate: u32,
}

/// Decodes until the input ends, passing every block through `process` (the effects chain) and
/// then to `deliver` (the session hands it to every rung, waiting for a rung that is full: the
/// transcoders set the pace, and the ingest is throttled).
pub fn run(
    input: impl Read + Send + Sync + 'static,
    extension: &str,
    mut deliver: impl FnMut(Arc<PcmBlock>),
    mut process: impl FnMut(u32, &mut [f32]),
) -> Result<DecodeSummary, DecodeError> {
    each_block(input, extension, |rate, mut stereo| {
        process(rate, &mut stereo);
        deliver(Arc::new(PcmBlock {
            rate,
            samples: stereo,
        }));
    })
}

/// Decodes `input` to the end, handing every block to `block` as interleaved stereo at its rate.
pub fn each_block(
    mut input: impl Read + Send + Sync + 'static,
    extension: &str,
    block: impl FnMut(u32, Vec<f32>),
) -> Result<DecodeSummary, DecodeError> {
    if extension != "ogg" {
        return with_symphonia(input, extension, block);
    }
    // Ogg carries Vorbis (symphonia) or Opus (libopus): look at the first page to tell.
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    while head.len() < 64 {
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DecodeError::Unreadable("ogg".into(), e.to_string())),
        }
    }
    let is_opus = super::ogg_opus_in::is_ogg_opus(&head);
    let input = std::io::Cursor::new(head).chain(input);
    if is_opus {
        super::ogg_opus_in::each_block(input, block)
    } else {
        with_symphonia(input, extension, block)
    }
}

fn with_symphonia(
    input: impl Read + Send + Sync + 'static,
    extension: &str,
    mut block: impl FnMut(u32, Vec<f32>),
) -> Result<DecodeSummary, DecodeError> {
    let mut hint = Hint::new();
    hint.with_extension(extension);
    let source = MediaSourceStream::new(
        Box::new(ReadOnlySource::new(input)),
        MediaSourceStreamOptions::default(),
    );
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| DecodeError::Unreadable(extension.to_owned(), e.to_string()))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or(DecodeError::NoAudio)?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| DecodeError::Unreadable(extension.to_owned(), e.to_string()))?;
    let mut summary = DecodeSummary::default();
    let mut corrupt_in_a_row = 0;
    let mut buffer: Option<SampleBuffer<f32>> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(_)) => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(SymphoniaError::DecodeError(_)) => {
                corrupt_in_a_row += 1;
                if corrupt_in_a_row > 50 {
                    return Err(DecodeError::Corrupt);
                }
                continue;
            }
            Err(e) => return Err(DecodeError::Unreadable(extension.to_owned(), e.to_string())),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let audio = match decoder.decode(&packet) {
            Ok(audio) => audio,
            Err(SymphoniaError::DecodeError(_)) => {
                corrupt_in_a_row += 1;
                if corrupt_in_a_row > 50 {
                    return Err(DecodeError::Corrupt);
                }
                continue;
            }
            Err(SymphoniaError::IoError(_)) => break,
            Err(e) => return Err(DecodeError::Unreadable(extension.to_owned(), e.to_string())),
        };
        corrupt_in_a_row = 0;
        let spec = *audio.spec();
        let channels = spec.channels.count().max(1);
        let frames = audio.frames();
        if frames == 0 {
            continue;
        }
        let buf = match &mut buffer {
            Some(b) if b.capacity() >= audio.capacity() * channels => b,
            _ => buffer.insert(SampleBuffer::<f32>::new(audio.capacity() as u64, spec)),
        };
        buf.copy_interleaved_ref(audio);
        let samples = buf.samples();
        let stereo: Vec<f32> = match channels {
            2 => samples[..frames * 2].to_vec(),
            1 => samples[..frames].iter().flat_map(|s| [*s, *s]).collect(),
            n => samples[..frames * n]
                .chunks(n)
                .flat_map(|c| [c[0], c[1]])
                .collect(),
        };
        summary.frames += frames as u64;
        summary.rate = spec.rate;
        block(spec.rate, stereo);
    }
    Ok(summary)
}
