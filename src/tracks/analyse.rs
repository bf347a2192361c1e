//! What is measured and read once, when a track is uploaded: its format from the first bytes,
//! every sample decoded (rodio's symphonia decoder; Ogg Opus, which symphonia cannot decode,
//! with libopus through the actors' Ogg Opus reader) for the duration and the EBU R128
//! integrated loudness, and its tags and front cover (lofty). Blocking: run it off the async
//! workers.

use super::TrackError;
use ebur128::{EbuR128, Mode};
use lofty::picture::{MimeType, PictureType};
use lofty::prelude::*;
use lofty::probe::Probe;
use rodio::{Decoder, Source};
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::time::Duration;
use veza_actors::stream::ogg_opus_in;

/// The audio formats a track may be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    Mp3,
    Flac,
    OggVorbis,
    OggOpus,
    Wav,
}

impl AudioFormat {
    /// The format of a file from its first bytes (never from its name or declared type).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"fLaC") {
            return Some(AudioFormat::Flac);
        }
        if head.starts_with(b"OggS") {
            if ogg_opus_in::is_ogg_opus(head) {
                return Some(AudioFormat::OggOpus);
            }
            let first_packet = head.get(26).map(|n| 27 + *n as usize);
            let vorbis = first_packet
                .and_then(|at| head.get(at..at + 7))
                .is_some_and(|p| p == b"\x01vorbis");
            return vorbis.then_some(AudioFormat::OggVorbis);
        }
        match crate::uploads::sniff::sniff(head, false).content_type {
            "audio/mpeg" => Some(AudioFormat::Mp3),
            "audio/wav" => Some(AudioFormat::Wav),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "audio/mpeg",
            AudioFormat::Flac => "audio/flac",
            AudioFormat::OggVorbis => "audio/ogg; codecs=vorbis",
            AudioFormat::OggOpus => "audio/ogg; codecs=opus",
            AudioFormat::Wav => "audio/wav",
        }
    }

    /// The extension symphonia's probe is hinted with.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            AudioFormat::Mp3 => "mp3",
            AudioFormat::Flac => "flac",
            AudioFormat::OggVorbis | AudioFormat::OggOpus => "ogg",
            AudioFormat::Wav => "wav",
        }
    }
}

/// Tags read from the file (any may be missing).
#[derive(Debug, Default, Clone)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub year: Option<i64>,
    pub track_no: Option<i64>,
}

/// An embedded cover picture (PNG or JPEG only: the two types it is served as).
#[derive(Debug, Clone)]
pub struct Artwork {
    pub png: bool,
    pub bytes: Vec<u8>,
}

/// A cover larger than this is not kept (a track is still accepted without it).
const MAX_ARTWORK: usize = 8 << 20;

/// Everything measured and read from one file.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub duration_ms: i64,
    /// Integrated loudness in LUFS; `None` for digital silence (no gated block).
    pub loudness_lufs: Option<f64>,
    pub tags: Tags,
    pub artwork: Option<Artwork>,
}

/// Decodes `file` to its end and reads its tags. A file that does not decode, decodes to no
/// audio, or stops well before the length its header declares (cut off) is refused.
pub fn analyse(
    open: impl Fn() -> std::io::Result<File>,
    format: AudioFormat,
) -> Result<Analysis, TrackError> {
    let io = |e: std::io::Error| TrackError::Undecodable(e.to_string());
    let (tags, artwork, declared) = read_tags(open().map_err(io)?);
    let pcm = decode(open().map_err(io)?, format)?;
    if pcm.frames == 0 {
        return Err(TrackError::Undecodable("the file holds no audio".into()));
    }
    let duration = Duration::from_secs_f64(pcm.frames as f64 / f64::from(pcm.rate));
    if let Some(declared) = declared.filter(|d| !d.is_zero()) {
        // Decoders stop quietly at a cut: a file much shorter than its header says is refused.
        let slack = Duration::from_millis(200) + declared / 50;
        if duration + slack < declared {
            return Err(TrackError::Undecodable(format!(
                "the file is cut off: {} ms of audio decode, its header declares {} ms",
                duration.as_millis(),
                declared.as_millis()
            )));
        }
    }
    Ok(Analysis {
        duration_ms: duration.as_millis() as i64,
        loudness_lufs: pcm.loudness,
        tags,
        artwork,
    })
}

/// What decoding produced.
struct Decoded {
    frames: u64,
    rate: u32,
    loudness: Option<f64>,
}

/// Loudness over interleaved blocks.
struct Meter {
    meter: EbuR128,
    channels: usize,
    frames: u64,
}

impl Meter {
    fn new(channels: u16, rate: u32) -> Result<Self, TrackError> {
        if channels == 0 || rate == 0 {
            return Err(TrackError::Undecodable(
                "no channels or no sample rate".into(),
            ));
        }
        let meter = EbuR128::new(u32::from(channels), rate, Mode::I)
            .map_err(|e| TrackError::Undecodable(format!("loudness meter: {e:?}")))?;
        Ok(Meter {
            meter,
            channels: usize::from(channels),
            frames: 0,
        })
    }

    fn add(&mut self, interleaved: &[f32]) -> Result<(), TrackError> {
        let whole = interleaved.len() - interleaved.len() % self.channels;
        self.meter
            .add_frames_f32(&interleaved[..whole])
            .map_err(|e| TrackError::Undecodable(format!("loudness meter: {e:?}")))?;
        self.frames += (whole / self.channels) as u64;
        Ok(())
    }

    fn finish(self, rate: u32) -> Decoded {
        let loudness = self.meter.loudness_global().ok().filter(|l| l.is_finite());
        Decoded {
            frames: self.frames,
            rate,
            loudness,
        }
    }
}

/// Samples handed to the meter at once.
const BLOCK: usize = 16 * 1024;

fn decode(file: File, format: AudioFormat) -> Result<Decoded, TrackError> {
    if format == AudioFormat::OggOpus {
        return decode_opus(BufReader::new(file));
    }
    let len = file
        .metadata()
        .map_err(|e| TrackError::Undecodable(e.to_string()))?
        .len();
    let decoder = Decoder::builder()
        .with_data(BufReader::new(file))
        .with_byte_len(len)
        .with_hint(format.hint())
        .with_gapless(true)
        .build()
        .map_err(|e| TrackError::Undecodable(e.to_string()))?;
    let (channels, rate) = (decoder.channels(), decoder.sample_rate());
    let mut meter = Meter::new(channels, rate)?;
    let mut block = Vec::with_capacity(BLOCK);
    for sample in decoder {
        block.push(sample);
        if block.len() >= BLOCK {
            meter.add(&block)?;
            block.clear();
        }
    }
    meter.add(&block)?;
    Ok(meter.finish(rate))
}

fn decode_opus(input: impl Read) -> Result<Decoded, TrackError> {
    let mut meter = Meter::new(2, 48_000)?;
    let mut failed = None;
    let summary = ogg_opus_in::each_block(input, |_, block| {
        if failed.is_none() {
            failed = meter.add(&block).err();
        }
    })
    .map_err(|e| TrackError::Undecodable(e.to_string()))?;
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(meter.finish(summary.rate))
}

/// Tags, the front cover and the duration the file's header declares; a file lofty cannot read
/// simply has none (decoding decides whether it is audio).
fn read_tags(file: impl Read + Seek) -> (Tags, Option<Artwork>, Option<Duration>) {
    let Ok(tagged) = Probe::new(BufReader::new(file))
        .guess_file_type()
        .map_err(lofty::error::LoftyError::from)
        .and_then(|p| p.read())
    else {
        return (Tags::default(), None, None);
    };
    let declared = Some(tagged.properties().duration());
    let Some(tag) = tagged.primary_tag().or_else(|| tagged.first_tag()) else {
        return (Tags::default(), None, declared);
    };
    let text = |v: Option<std::borrow::Cow<'_, str>>| {
        v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
    };
    let tags = Tags {
        title: text(tag.title()),
        artist: text(tag.artist()),
        album: text(tag.album()),
        year: tag.date().map(|d| i64::from(d.year)),
        track_no: tag.track().map(i64::from),
    };
    let pictures = tag.pictures();
    let cover = pictures
        .iter()
        .find(|p| p.pic_type() == PictureType::CoverFront)
        .or_else(|| pictures.first());
    let artwork = cover.and_then(|p| {
        let png = match p.mime_type() {
            Some(MimeType::Png) => true,
            Some(MimeType::Jpeg) => false,
            _ => return None,
        };
        (p.data().len() <= MAX_ARTWORK).then(|| Artwork {
            png,
            bytes: p.data().to_vec(),
        })
    });
    (tags, artwork, declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_read_from_the_first_bytes() {
        assert_eq!(
            AudioFormat::sniff(b"fLaC\0\0\0\x22"),
            Some(AudioFormat::Flac)
        );
        assert_eq!(AudioFormat::sniff(b"ID3\x04\0\0"), Some(AudioFormat::Mp3));
        assert_eq!(
            AudioFormat::sniff(b"RIFF\x10\0\0\0WAVEfmt "),
            Some(AudioFormat::Wav)
        );
        let mut vorbis = b"OggS\0\x02".to_vec();
        vorbis.extend_from_slice(&[0; 20]);
        vorbis.push(1);
        vorbis.push(30);
        vorbis.extend_from_slice(b"\x01vorbis");
        assert_eq!(AudioFormat::sniff(&vorbis), Some(AudioFormat::OggVorbis));
        let mut opus = vorbis[..28].to_vec();
        opus.extend_from_slice(b"OpusHead");
        assert_eq!(AudioFormat::sniff(&opus), Some(AudioFormat::OggOpus));
        for other in [
            &b""[..],
            b"hello, this is text",
            b"OggS\0\x02",
            b"%PDF-1.4",
            b"\x89PNG\r\n\x1a\n",
        ] {
            assert_eq!(AudioFormat::sniff(other), None, "{other:?}");
        }
    }
}
