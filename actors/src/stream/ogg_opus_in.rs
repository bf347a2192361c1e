//! Ogg Opus *input*: symphonia has no Opus decoder, so Ogg pages are split into packets here and
//! decoded with libopus (already linked for the opus-96 variant). Output is stereo at 48 kHz.

use super::decode::{DecodeError, DecodeSummary};
use std::collections::VecDeque;
use std::io::{self, Read};

/// Whether `head` (the first bytes of an Ogg stream) starts an Opus stream.
pub fn is_ogg_opus(head: &[u8]) -> bool {
    if head.len() < 28 || &head[..4] != b"OggS" {
        return false;
    }
    let data = 27 + head[26] as usize;
    head.get(data..data + 8) == Some(b"OpusHead")
}

/// The largest packet accepted: an Opus packet is at most a few KiB (120 ms at 510 kbit/s is
/// 7.6 KiB); without a cap, pages of endless 255 lacing values grow one packet without bound.
pub const MAX_PACKET: usize = 64 * 1024;

/// Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial 0) continued over `data`; a page's
/// checksum is computed with its checksum field zeroed.
pub fn page_crc(mut crc: u32, data: &[u8]) -> u32 {
    for &byte in data {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Packets from a stream of Ogg pages (one logical stream; continued packets joined).
struct OggPackets<R> {
    input: R,
    partial: Vec<u8>,
    ready: VecDeque<Vec<u8>>,
}

impl<R: Read> OggPackets<R> {
    fn new(input: R) -> Self {
        Self {
            input,
            partial: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    /// Reads one page; `false` at the end of the input. A page that does not parse (sync, version,
    /// flags, checksum) or a packet past [`MAX_PACKET`] is `InvalidData`.
    fn read_page(&mut self) -> io::Result<bool> {
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_owned());
        let mut header = [0u8; 27];
        match self.input.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        }
        if &header[..4] != b"OggS" {
            return Err(invalid("lost Ogg page sync"));
        }
        if header[4] != 0 || header[5] & !0x07 != 0 {
            return Err(invalid("not an Ogg page (version or flags)"));
        }
        let mut lacing = vec![0u8; header[26] as usize];
        self.input.read_exact(&mut lacing)?;
        // At most 255 x 255 bytes: a page is small, whatever its header says.
        let mut body = vec![0u8; lacing.iter().map(|l| *l as usize).sum()];
        self.input.read_exact(&mut body)?;
        let mut crc = page_crc(0, &header[..22]);
        crc = page_crc(crc, &[0; 4]);
        crc = page_crc(crc, &header[26..]);
        crc = page_crc(crc, &lacing);
        crc = page_crc(crc, &body);
        if crc.to_le_bytes() != header[22..26] {
            return Err(invalid("Ogg page checksum mismatch"));
        }
        let mut at = 0;
        for l in lacing {
            let l = l as usize;
            if self.partial.len() + l > MAX_PACKET {
                return Err(invalid("Ogg packet over 64 KiB"));
            }
            self.partial.extend_from_slice(&body[at..at + l]);
            at += l;
            if l < 255 {
                self.ready.push_back(std::mem::take(&mut self.partial));
            }
        }
        Ok(true)
    }

    fn next_packet(&mut self) -> io::Result<Option<Vec<u8>>> {
        while self.ready.is_empty() {
            if !self.read_page()? {
                return Ok(None);
            }
        }
        Ok(self.ready.pop_front())
    }
}

/// Largest Opus frame: 120 ms at 48 kHz.
const MAX_FRAME: usize = 5760;

/// Decodes an Ogg Opus stream to the end, handing every block to `block` (48 kHz stereo).
pub fn each_block(
    input: impl Read,
    mut block: impl FnMut(u32, Vec<f32>),
) -> Result<DecodeSummary, DecodeError> {
    let unreadable = |e: String| DecodeError::Unreadable("ogg opus".into(), e);
    let mut packets = OggPackets::new(input);
    let head = packets
        .next_packet()
        .map_err(|e| unreadable(e.to_string()))?
        .filter(|p| p.len() >= 19 && p.starts_with(b"OpusHead"))
        .ok_or(DecodeError::NoAudio)?;
    let mut pre_skip = u16::from_le_bytes([head[10], head[11]]) as usize;
    // OpusTags: not needed.
    let _tags = packets
        .next_packet()
        .map_err(|e| unreadable(e.to_string()))?;
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Stereo)
        .map_err(|e| unreadable(e.to_string()))?;
    let mut pcm = vec![0f32; MAX_FRAME * 2];
    let mut summary = DecodeSummary {
        frames: 0,
        rate: 48_000,
    };
    let mut corrupt_in_a_row = 0;
    loop {
        let packet = match packets.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A connection that drops mid-page ends the input like a clean close.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(unreadable(e.to_string())),
        };
        if packet.is_empty() {
            continue;
        }
        let frames = match decoder.decode_float(&packet, &mut pcm, false) {
            Ok(n) => n,
            Err(_) => {
                corrupt_in_a_row += 1;
                if corrupt_in_a_row > 50 {
                    return Err(DecodeError::Corrupt);
                }
                continue;
            }
        };
        corrupt_in_a_row = 0;
        let skip = pre_skip.min(frames);
        pre_skip -= skip;
        if frames > skip {
            summary.frames += (frames - skip) as u64;
            block(48_000, pcm[skip * 2..frames * 2].to_vec());
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_heads_are_recognised() {
        let mut page = b"OggS\0\x02".to_vec();
        page.extend_from_slice(&[0; 20]);
        page.push(1); // one segment
        page.push(19);
        page.extend_from_slice(b"OpusHead\x01\x02\x38\x01\x80\xbb\0\0\0\0\0");
        assert!(is_ogg_opus(&page));
        page[28..36].copy_from_slice(b"\x01vorbis\0");
        assert!(!is_ogg_opus(&page));
        assert!(!is_ogg_opus(b"ID3"));
    }

    #[test]
    fn our_own_ogg_opus_output_decodes_back() {
        // The opus-96 encoder's pages, fed back in: the round trip keeps the duration.
        use crate::stream::decode::PcmBlock;
        use crate::stream::encoders::encoder_for;
        let mut enc = encoder_for("opus-96".parse().unwrap()).unwrap();
        let mut bytes = enc.header().map(|h| h.to_vec()).unwrap_or_default();
        let samples: Vec<f32> = (0..48_000)
            .flat_map(|i| {
                let s = (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 0.5;
                [s, s]
            })
            .collect();
        enc.encode(
            &PcmBlock {
                rate: 48_000,
                samples,
            },
            &mut bytes,
        )
        .unwrap();
        enc.finish(&mut bytes).unwrap();
        assert!(is_ogg_opus(&bytes));
        let mut frames = 0;
        let summary = each_block(&bytes[..], |rate, pcm| {
            assert_eq!(rate, 48_000);
            frames += pcm.len() / 2;
        })
        .unwrap();
        assert_eq!(summary.frames as usize, frames);
        assert!((frames as i64 - 48_000).abs() <= 960 * 2, "{frames} frames");
    }
}
