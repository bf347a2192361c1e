//! AAC-LC in ADTS frames with fdk-aac (its own bundled build: Debian ships libfdk-aac only in
//! non-free). Encodes at the input's sample rate (44.1 or 48 kHz), stereo, CBR.

use super::decode::PcmBlock;
use super::encoders::{EncodeError, Encoder};
use super::ladder::Variant;
use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, EncoderParams, Transport};

/// Interleaved samples fdk-aac takes per call: one 1024-sample stereo frame.
const FRAME_SAMPLES: usize = 2048;

pub struct AacEncoder {
    variant: Variant,
    fdk: Option<(u32, fdk_aac::enc::Encoder)>,
    pending: Vec<i16>,
    out: Vec<u8>,
}

impl AacEncoder {
    pub fn new(variant: Variant) -> Self {
        Self {
            variant,
            fdk: None,
            pending: Vec::new(),
            out: vec![0; 8192],
        }
    }
}

impl Encoder for AacEncoder {
    fn encode(&mut self, block: &PcmBlock, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if self
            .fdk
            .as_ref()
            .is_none_or(|(rate, _)| *rate != block.rate)
        {
            let params = EncoderParams {
                bit_rate: BitRate::Cbr(self.variant.kbps * 1000),
                sample_rate: block.rate,
                transport: Transport::Adts,
                channels: ChannelMode::Stereo,
                audio_object_type: AudioObjectType::Mpeg4LowComplexity,
            };
            let fdk = fdk_aac::enc::Encoder::new(params)
                .map_err(|e| EncodeError::Setup(format!("{e:?}")))?;
            self.fdk = Some((block.rate, fdk));
            self.pending.clear();
        }
        let Some((_, fdk)) = self.fdk.as_ref() else {
            return Err(EncodeError::Setup("no AAC encoder".into()));
        };
        self.pending.extend(
            block
                .samples
                .iter()
                .map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i16),
        );
        while self.pending.len() >= FRAME_SAMPLES {
            let info = fdk
                .encode(&self.pending[..FRAME_SAMPLES], &mut self.out)
                .map_err(|e| EncodeError::Encode(format!("{e:?}")))?;
            out.extend_from_slice(&self.out[..info.output_size]);
            let consumed = if info.input_consumed == 0 {
                FRAME_SAMPLES
            } else {
                info.input_consumed
            };
            self.pending.drain(..consumed.min(self.pending.len()));
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        // The binding cannot signal end of input, so flush by hand: pad the last partial frame with
        // silence, then push two silent frames through to drain the encoder's look-ahead.
        let Some((rate, _)) = self.fdk.as_ref() else {
            return Ok(());
        };
        let rate = *rate;
        let padding = (FRAME_SAMPLES - self.pending.len() % FRAME_SAMPLES) % FRAME_SAMPLES
            + 2 * FRAME_SAMPLES;
        let silence = PcmBlock {
            rate,
            samples: vec![0.0; padding],
        };
        self.encode(&silence, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_becomes_adts_frames_near_the_bitrate() {
        let mut enc = AacEncoder::new("aac-128".parse().unwrap());
        let rate = 44_100;
        let samples: Vec<f32> = (0..rate * 2)
            .flat_map(|i| {
                let s = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
                [s, s]
            })
            .collect();
        let mut out = Vec::new();
        for chunk in samples.chunks(2304) {
            enc.encode(
                &PcmBlock {
                    rate: rate as u32,
                    samples: chunk.to_vec(),
                },
                &mut out,
            )
            .unwrap();
        }
        assert_eq!((out[0], out[1] & 0xF0), (0xFF, 0xF0), "ADTS sync word");
        let expected = 128_000 / 8 * 2;
        assert!(
            out.len().abs_diff(expected) < expected / 5,
            "{} bytes for {expected}",
            out.len()
        );
    }

    #[test]
    fn finishing_flushes_every_sample_out() {
        let mut enc = AacEncoder::new("aac-128".parse().unwrap());
        let rate = 44_100u32;
        // 1.5 s: not a whole number of 1024-sample frames.
        let samples: Vec<f32> = (0..rate as usize * 3 / 2)
            .flat_map(|i| {
                let s = (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 0.5;
                [s, s]
            })
            .collect();
        let mut out = Vec::new();
        enc.encode(&PcmBlock { rate, samples }, &mut out).unwrap();
        enc.finish(&mut out).unwrap();
        let mut frames = 0u32;
        let mut splitter =
            crate::stream::hls::frames::FrameSplitter::new(crate::stream::ladder::Codec::Aac);
        splitter.push(&out, |_, info| frames += info.samples);
        assert!(
            frames >= rate * 3 / 2 + 1024,
            "{frames} samples out for {} in (plus the encoder delay)",
            rate * 3 / 2
        );
    }
}
