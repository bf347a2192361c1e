//! Opus in Ogg for progressive listeners (RFC 7845): libopus at 48 kHz stereo, 20 ms packets, pages
//! of 100 ms. The two header pages (OpusHead, OpusTags) are kept apart: every new listener needs
//! them before any audio page, wherever it joins.

use super::decode::PcmBlock;
use super::encoders::{EncodeError, Encoder};
use super::ladder::Variant;
use bytes::Bytes;
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

const RATE: u32 = 48_000;
/// Samples per channel in one 20 ms packet.
const FRAME: usize = 960;
/// Packets per Ogg page: 100 ms, a good trade between overhead and latency.
const PACKETS_PER_PAGE: u32 = 5;
const SERIAL: u32 = 0x7665_7a61;
/// libopus encoder complexity (0-10).
const COMPLEXITY: i32 = 10;

/// Linear-interpolation resampler for interleaved stereo, continuous across blocks. Opus band-limits
/// its input to 20 kHz, which hides the small imaging linear interpolation leaves above that.
struct Resampler {
    step: f64,
    pos: f64,
    frames: Vec<[f32; 2]>,
}

impl Resampler {
    fn new(from: u32, to: u32) -> Self {
        Self {
            step: from as f64 / to as f64,
            pos: 0.0,
            frames: Vec::new(),
        }
    }

    fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.frames
            .extend(input.chunks_exact(2).map(|c| [c[0], c[1]]));
        while self.pos + 1.0 < self.frames.len() as f64 {
            let i = self.pos as usize;
            let frac = (self.pos - i as f64) as f32;
            let (a, b) = (self.frames[i], self.frames[i + 1]);
            out.push(a[0] + (b[0] - a[0]) * frac);
            out.push(a[1] + (b[1] - a[1]) * frac);
            self.pos += self.step;
        }
        let consumed = (self.pos as usize).min(self.frames.len().saturating_sub(1));
        self.frames.drain(..consumed);
        self.pos -= consumed as f64;
    }
}

pub struct OpusOggEncoder {
    opus: opus::Encoder,
    writer: PacketWriter<'static, Vec<u8>>,
    header: Bytes,
    resampler: Option<(u32, Resampler)>,
    pending: Vec<f32>,
    packets: u64,
    packet_buf: Vec<u8>,
}

impl OpusOggEncoder {
    pub fn new(variant: Variant) -> Result<Self, EncodeError> {
        let setup = |e: opus::Error| EncodeError::Setup(e.to_string());
        let mut opus = opus::Encoder::new(RATE, opus::Channels::Stereo, opus::Application::Audio)
            .map_err(setup)?;
        opus.set_bitrate(opus::Bitrate::Bits(variant.kbps as i32 * 1000))
            .map_err(setup)?;
        // ffmpeg's libopus default (libopus alone defaults to 9): the benchmark compares like
        // with like, and 10 is what an operator comparing with ffmpeg would expect.
        opus.set_complexity(COMPLEXITY).map_err(setup)?;
        let pre_skip = opus.get_lookahead().map_err(setup)? as u16;
        let mut writer = PacketWriter::new(Vec::new());
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(2); // channels
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&RATE.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family
        let mut tags = b"OpusTags".to_vec();
        let vendor = b"veza";
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor);
        tags.extend_from_slice(&0u32.to_le_bytes());
        let io = |e: std::io::Error| EncodeError::Setup(e.to_string());
        writer
            .write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(io)?;
        writer
            .write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .map_err(io)?;
        let header = Bytes::from(std::mem::take(writer.inner_mut()));
        Ok(Self {
            opus,
            writer,
            header,
            resampler: None,
            pending: Vec::new(),
            packets: 0,
            packet_buf: vec![0; 4000],
        })
    }

    fn encode_pending(&mut self, out: &mut Vec<u8>, last: bool) -> Result<(), EncodeError> {
        while self.pending.len() >= FRAME * 2 || (last && !self.pending.is_empty()) {
            if self.pending.len() < FRAME * 2 {
                self.pending.resize(FRAME * 2, 0.0);
            }
            let n = self
                .opus
                .encode_float(&self.pending[..FRAME * 2], &mut self.packet_buf)
                .map_err(|e| EncodeError::Encode(e.to_string()))?;
            self.pending.drain(..FRAME * 2);
            self.packets += 1;
            let end = if last && self.pending.is_empty() {
                PacketWriteEndInfo::EndStream
            } else if self.packets % PACKETS_PER_PAGE as u64 == 0 {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            let granule = self.packets * FRAME as u64;
            self.writer
                .write_packet(self.packet_buf[..n].to_vec(), SERIAL, end, granule)
                .map_err(|e| EncodeError::Encode(e.to_string()))?;
        }
        out.append(self.writer.inner_mut());
        Ok(())
    }
}

impl Encoder for OpusOggEncoder {
    fn header(&self) -> Option<Bytes> {
        Some(self.header.clone())
    }

    fn encode(&mut self, block: &PcmBlock, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if block.rate == RATE {
            self.pending.extend_from_slice(&block.samples);
        } else {
            if self
                .resampler
                .as_ref()
                .is_none_or(|(r, _)| *r != block.rate)
            {
                self.resampler = Some((block.rate, Resampler::new(block.rate, RATE)));
            }
            if let Some((_, r)) = self.resampler.as_mut() {
                r.process(&block.samples, &mut self.pending);
            }
        }
        self.encode_pending(out, false)
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.encode_pending(out, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampling_keeps_the_duration() {
        let mut r = Resampler::new(44_100, 48_000);
        let mut out = Vec::new();
        for _ in 0..100 {
            r.process(&vec![0.5f32; 441 * 2], &mut out);
        }
        let frames = out.len() / 2;
        assert!((frames as i64 - 48_000).abs() <= 2, "{frames}");
        assert!(out.iter().all(|s| (s - 0.5).abs() < 1e-6));
    }

    #[test]
    fn pages_start_with_the_opus_headers() {
        let mut enc = OpusOggEncoder::new("opus-96".parse().unwrap()).unwrap();
        let header = enc.header().unwrap();
        assert_eq!(&header[..4], b"OggS");
        assert!(
            header.windows(8).any(|w| w == b"OpusHead")
                && header.windows(8).any(|w| w == b"OpusTags")
        );
        let mut out = Vec::new();
        let samples: Vec<f32> = (0..48_000 * 2)
            .map(|i| ((i / 2) as f32 * 0.05).sin() * 0.3)
            .collect();
        enc.encode(
            &PcmBlock {
                rate: 48_000,
                samples,
            },
            &mut out,
        )
        .unwrap();
        enc.finish(&mut out).unwrap();
        assert_eq!(&out[..4], b"OggS");
        // ~96 kbps for one second.
        assert!(out.len() > 8_000 && out.len() < 16_000, "{}", out.len());
    }
}
