//! The encoders behind the ladder's rungs: LAME (MP3), fdk-aac (`aac.rs`) and libopus in Ogg
//! (`opus_ogg.rs`), all behind the [`Encoder`] trait. They are plain blocking code: the rung actor
//! that drives one (`transcoder.rs`) runs on a thread of its own, never on an async arbiter.

use super::decode::PcmBlock;
use super::ladder::{Codec, Variant};
use bytes::Bytes;
use mp3lame_encoder::{Bitrate, Builder, FlushNoGap, InterleavedPcm};
use std::num::NonZeroU32;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EncodeError {
    #[error("{0} is not supported by this build")]
    Unsupported(Variant),
    #[error("encoder set-up failed: {0}")]
    Setup(String),
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// Something that turns PCM into one variant's bytes.
pub trait Encoder: Send {
    /// Bytes every listener needs before any audio (Ogg's header pages); none for MP3.
    fn header(&self) -> Option<Bytes> {
        None
    }
    fn encode(&mut self, block: &PcmBlock, out: &mut Vec<u8>) -> Result<(), EncodeError>;
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

fn mp3_bitrate(kbps: u32) -> Option<Bitrate> {
    Some(match kbps {
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        _ => return None,
    })
}

/// LAME, CBR, stereo, 44.1 kHz out (LAME resamples other input rates itself).
pub struct Mp3Encoder {
    variant: Variant,
    lame: Option<(u32, mp3lame_encoder::Encoder)>,
}

impl Mp3Encoder {
    pub fn new(variant: Variant) -> Self {
        Self {
            variant,
            lame: None,
        }
    }

    fn lame(&mut self, rate: u32) -> Result<&mut mp3lame_encoder::Encoder, EncodeError> {
        if self.lame.as_ref().is_some_and(|(r, _)| *r != rate) {
            // The input rate changed mid-stream (a new source format): start a fresh encoder.
            self.lame = None;
        }
        if self.lame.is_none() {
            let setup = |e: mp3lame_encoder::BuildError| EncodeError::Setup(format!("{e:?}"));
            let mut b = Builder::new()
                .ok_or_else(|| EncodeError::Setup("LAME allocation failed".into()))?;
            b.set_num_channels(2).map_err(setup)?;
            b.set_sample_rate(rate).map_err(setup)?;
            b.set_output_sample_rate(NonZeroU32::new(self.variant.sample_rate()))
                .map_err(setup)?;
            b.set_brate(
                mp3_bitrate(self.variant.kbps).ok_or(EncodeError::Unsupported(self.variant))?,
            )
            .map_err(setup)?;
            self.lame = Some((rate, b.build().map_err(setup)?));
        }
        self.lame
            .as_mut()
            .map(|(_, l)| l)
            .ok_or_else(|| EncodeError::Setup("no encoder".into()))
    }
}

impl Encoder for Mp3Encoder {
    fn encode(&mut self, block: &PcmBlock, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let lame = self.lame(block.rate)?;
        out.reserve(mp3lame_encoder::max_required_buffer_size(
            block.samples.len() / 2,
        ));
        lame.encode_to_vec(InterleavedPcm(&block.samples), out)
            .map(|_| ())
            .map_err(|e| EncodeError::Encode(format!("{e:?}")))
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if let Some((_, lame)) = self.lame.as_mut() {
            out.reserve(7200);
            lame.flush_to_vec::<FlushNoGap>(out)
                .map_err(|e| EncodeError::Encode(format!("{e:?}")))?;
        }
        Ok(())
    }
}

pub fn encoder_for(variant: Variant) -> Result<Box<dyn Encoder>, EncodeError> {
    match variant.codec {
        Codec::Mp3 => Ok(Box::new(Mp3Encoder::new(variant))),
        Codec::Opus => Ok(Box::new(super::opus_ogg::OpusOggEncoder::new(variant)?)),
        Codec::Aac => Ok(Box::new(super::aac::AacEncoder::new(variant))),
    }
}

/// A bare encode loop without the actor (the `veza-transcode` benchmark): encodes every block until the decoder hangs up, hands chunks to `emit` (the
/// stream header first, flagged `true`, if the format has one) with the seconds of input consumed
/// so far (the live edge of this variant).
pub fn run(
    mut encoder: Box<dyn Encoder>,
    input: Receiver<Arc<PcmBlock>>,
    mut emit: impl FnMut(Bytes, bool, f64),
) -> Result<(), EncodeError> {
    if let Some(header) = encoder.header() {
        emit(header, true, 0.0);
    }
    let mut out = Vec::with_capacity(16 * 1024);
    let mut consumed = 0.0;
    while let Ok(block) = input.recv() {
        encoder.encode(&block, &mut out)?;
        consumed += (block.samples.len() / 2) as f64 / f64::from(block.rate.max(1));
        if !out.is_empty() {
            emit(Bytes::from(std::mem::take(&mut out)), false, consumed);
        }
    }
    encoder.finish(&mut out)?;
    if !out.is_empty() {
        emit(Bytes::from(out), false, consumed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_encodes_to_mp3_frames_at_the_asked_bitrate() {
        let variant: Variant = "mp3-128".parse().unwrap();
        let mut enc = encoder_for(variant).unwrap();
        let rate = 48_000;
        let seconds = 2;
        let samples: Vec<f32> = (0..rate * seconds)
            .flat_map(|i| {
                let s = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
                [s, s]
            })
            .collect();
        let mut out = Vec::new();
        for chunk in samples.chunks(2304) {
            enc.encode(
                &PcmBlock {
                    rate,
                    samples: chunk.to_vec(),
                },
                &mut out,
            )
            .unwrap();
        }
        enc.finish(&mut out).unwrap();
        // MPEG-1 Layer III frame sync, 128 kbps, 44.1 kHz.
        let sync = out
            .windows(2)
            .position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0)
            .unwrap();
        let header = &out[sync..sync + 4];
        assert_eq!(header[2] >> 4, 0b1001, "bitrate index 9 = 128 kbps");
        assert_eq!((header[2] >> 2) & 0b11, 0, "sample rate index 0 = 44.1 kHz");
        let expected = 128_000 / 8 * seconds as usize;
        assert!(
            out.len().abs_diff(expected) < expected / 10,
            "{} bytes for {expected}",
            out.len()
        );
    }
}
