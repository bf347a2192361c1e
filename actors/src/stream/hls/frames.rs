//! Splitting an encoder's byte stream into whole MP3 or ADTS (AAC) frames, so segments and clips
//! start and end on frame boundaries and know their exact duration.

use crate::stream::ladder::Codec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    pub len: usize,
    /// PCM samples (per channel) this frame decodes to.
    pub samples: u32,
    pub rate: u32,
}

const MP3_KBPS_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const MP3_KBPS_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const ADTS_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// An MPEG audio Layer III frame header at the start of `h`.
pub fn mp3_frame(h: &[u8]) -> Option<FrameInfo> {
    if h.len() < 4 || h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 0b11; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
    let layer = (h[1] >> 1) & 0b11; // 1 = Layer III
    let bitrate_index = (h[2] >> 4) as usize;
    let rate_index = ((h[2] >> 2) & 0b11) as usize;
    if version == 1 || layer != 1 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    let padding = ((h[2] >> 1) & 1) as usize;
    let (kbps, rate, samples, factor) = match version {
        3 => (
            MP3_KBPS_V1[bitrate_index],
            [44100, 48000, 32000][rate_index],
            1152,
            144,
        ),
        2 => (
            MP3_KBPS_V2[bitrate_index],
            [22050, 24000, 16000][rate_index],
            576,
            72,
        ),
        _ => (
            MP3_KBPS_V2[bitrate_index],
            [11025, 12000, 8000][rate_index],
            576,
            72,
        ),
    };
    Some(FrameInfo {
        len: factor * kbps as usize * 1000 / rate as usize + padding,
        samples,
        rate,
    })
}

/// An ADTS header at the start of `h`.
pub fn adts_frame(h: &[u8]) -> Option<FrameInfo> {
    if h.len() < 7 || h[0] != 0xFF || h[1] & 0xF6 != 0xF0 {
        return None;
    }
    let rate = *ADTS_RATES.get(((h[2] >> 2) & 0x0F) as usize)?;
    let len = (((h[3] & 0b11) as usize) << 11) | ((h[4] as usize) << 3) | ((h[5] as usize) >> 5);
    if len < 7 {
        return None;
    }
    Some(FrameInfo {
        len,
        samples: 1024 * ((h[6] & 0b11) as u32 + 1),
        rate,
    })
}

/// Collects bytes and hands out whole frames; bytes between frames that are not a frame (LAME's
/// or a damaged stream's) are skipped.
pub struct FrameSplitter {
    codec: Codec,
    buf: Vec<u8>,
}

impl FrameSplitter {
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            buf: Vec::new(),
        }
    }

    fn header(&self, at: &[u8]) -> Option<FrameInfo> {
        match self.codec {
            Codec::Mp3 => mp3_frame(at),
            Codec::Aac => adts_frame(at),
            Codec::Opus => None,
        }
    }

    pub fn push(&mut self, data: &[u8], mut frame: impl FnMut(&[u8], FrameInfo)) {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        while self.buf.len() - pos >= 7 {
            match self.header(&self.buf[pos..]) {
                Some(info) if self.buf.len() - pos >= info.len => {
                    frame(&self.buf[pos..pos + info.len], info);
                    pos += info.len;
                }
                Some(_) => break,
                None => pos += 1,
            }
        }
        self.buf.drain(..pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_give_length_duration_and_rate() {
        // MPEG-1 Layer III, 128 kbps, 44.1 kHz, no padding: 417 bytes, 1152 samples.
        let mp3 = [0xFF, 0xFB, 0x90, 0x64];
        assert_eq!(
            mp3_frame(&mp3),
            Some(FrameInfo {
                len: 417,
                samples: 1152,
                rate: 44100
            })
        );
        // ADTS, AAC-LC, 44.1 kHz, 371-byte frame, one raw block.
        let len = 371usize;
        let adts = [
            0xFF,
            0xF1,
            0x50,
            0x80 | ((len >> 11) as u8 & 0b11),
            (len >> 3) as u8,
            ((len & 0b111) << 5) as u8 | 0x1F,
            0xFC,
        ];
        assert_eq!(
            adts_frame(&adts),
            Some(FrameInfo {
                len: 371,
                samples: 1024,
                rate: 44100
            })
        );
        assert_eq!(mp3_frame(&[0xFF, 0xFB, 0xF0, 0]), None, "bad bitrate index");
    }

    #[test]
    fn the_splitter_resyncs_and_waits_for_whole_frames() {
        let mut stream = vec![0x00, 0x12];
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        stream.extend_from_slice(&frame);
        stream.extend_from_slice(&frame);
        let mut s = FrameSplitter::new(Codec::Mp3);
        let mut seen = Vec::new();
        s.push(&stream[..300], |f, _| seen.push(f.len()));
        assert!(seen.is_empty());
        s.push(&stream[300..], |f, _| seen.push(f.len()));
        assert_eq!(
            seen,
            vec![417, 417],
            "junk before the first frame is skipped"
        );
        s.push(&frame[..10], |f, _| seen.push(f.len()));
        assert_eq!(seen.len(), 2, "a partial frame waits for the rest");
    }
}
