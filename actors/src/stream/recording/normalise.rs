//! Post-processing of a broadcast's archive: measure its loudness (EBU R128 integrated, with the
//! `ebur128` crate) and where the sound starts and stops, then write it again with the gain that
//! brings it to the target loudness and without the leading and trailing silence.
//!
//! Two passes over the file (decoded with symphonia each time), so memory stays flat however long
//! the broadcast was.

use crate::stream::decode::{each_block, DecodeError, PcmBlock};
use crate::stream::effects::dynamics::{db_to_linear, Compressor};
use crate::stream::encoders::{EncodeError, Encoder, Mp3Encoder};
use crate::stream::ladder::{Codec, Variant};
use ebur128::{EbuR128, Mode};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProcessError {
    #[error("reading the archive: {0}")]
    Io(#[from] std::io::Error),
    #[error("decoding the archive: {0}")]
    Decode(#[from] DecodeError),
    #[error("encoding the recording: {0}")]
    Encode(#[from] EncodeError),
    #[error("measuring loudness: {0}")]
    Loudness(String),
    #[error("the archive holds no sound above the silence threshold")]
    Silent,
}

/// What the first pass found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analysis {
    pub rate: u32,
    /// Integrated loudness of the sound between `first` and `last`, in LUFS.
    pub loudness: f64,
    /// The highest sample magnitude (0..=1).
    pub peak: f32,
    /// Frame (sample per channel) index of the first and one past the last non-silent frame.
    pub first: u64,
    pub last: u64,
    pub frames: u64,
}

/// Pass one: loudness, peak, and the span of non-silence (frames louder than `silence_dbfs`).
pub fn analyse(path: &Path, silence_dbfs: f64) -> Result<Analysis, ProcessError> {
    let threshold = db_to_linear(silence_dbfs as f32);
    let mut meter: Option<EbuR128> = None;
    let mut failed = None;
    let mut a = Analysis {
        rate: 0,
        loudness: f64::NEG_INFINITY,
        peak: 0.0,
        first: u64::MAX,
        last: 0,
        frames: 0,
    };
    each_block(File::open(path)?, "mp3", |rate, samples| {
        if a.rate == 0 {
            a.rate = rate;
        }
        let meter = match &mut meter {
            Some(m) => m,
            None => match EbuR128::new(2, rate, Mode::I | Mode::HISTOGRAM) {
                Ok(m) => meter.insert(m),
                Err(e) => {
                    failed = Some(format!("{e:?}"));
                    return;
                }
            },
        };
        if let Err(e) = meter.add_frames_f32(&samples) {
            failed = Some(format!("{e:?}"));
        }
        for (i, frame) in samples.chunks_exact(2).enumerate() {
            let level = frame[0].abs().max(frame[1].abs());
            a.peak = a.peak.max(level);
            if level > threshold {
                let index = a.frames + i as u64;
                a.first = a.first.min(index);
                a.last = index + 1;
            }
        }
        a.frames += (samples.len() / 2) as u64;
    })?;
    if let Some(e) = failed {
        return Err(ProcessError::Loudness(e));
    }
    if a.first >= a.last {
        return Err(ProcessError::Silent);
    }
    a.loudness = meter
        .ok_or(ProcessError::Silent)?
        .loudness_global()
        .map_err(|e| ProcessError::Loudness(format!("{e:?}")))?;
    if !a.loudness.is_finite() {
        return Err(ProcessError::Silent);
    }
    Ok(a)
}

/// Pass two: writes frames `first..last` with `gain_db` applied as MP3 at `kbps`; a limiter at
/// -1 dBFS catches the peaks the gain would push over. Returns the seconds written.
pub fn render(
    source: &Path,
    analysis: &Analysis,
    gain_db: f64,
    kbps: u32,
    out: &Path,
) -> Result<f64, ProcessError> {
    let gain = db_to_linear(gain_db as f32);
    let ceiling = db_to_linear(-1.0);
    let mut limiter = (analysis.peak * gain > ceiling)
        .then(|| Compressor::new(-1.0, 20.0, 0.5, 80.0, 0.0, analysis.rate));
    let mut encoder = Mp3Encoder::new(Variant {
        codec: Codec::Mp3,
        kbps,
    });
    let mut writer = BufWriter::new(File::create(out)?);
    let mut bytes = Vec::new();
    let mut failed: Option<ProcessError> = None;
    let mut position = 0u64;
    let mut written = 0u64;
    each_block(File::open(source)?, "mp3", |rate, samples| {
        let frames = (samples.len() / 2) as u64;
        let from = analysis.first.saturating_sub(position).min(frames) as usize;
        let to = analysis.last.saturating_sub(position).min(frames) as usize;
        position += frames;
        if from >= to || failed.is_some() {
            return;
        }
        let mut kept: Vec<f32> = samples[from * 2..to * 2].iter().map(|s| s * gain).collect();
        if let Some(l) = limiter.as_mut() {
            l.process(&mut kept);
        }
        for s in &mut kept {
            *s = s.clamp(-1.0, 1.0);
        }
        written += (to - from) as u64;
        let block = PcmBlock {
            rate,
            samples: kept,
        };
        let result = encoder
            .encode(&block, &mut bytes)
            .map_err(ProcessError::from)
            .and_then(|()| writer.write_all(&bytes).map_err(ProcessError::from));
        bytes.clear();
        if let Err(e) = result {
            failed = Some(e);
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    encoder.finish(&mut bytes)?;
    writer.write_all(&bytes)?;
    writer.flush()?;
    Ok(written as f64 / f64::from(analysis.rate.max(1)))
}
