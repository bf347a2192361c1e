//! HLS with a DVR window on disk: each MP3/AAC variant's frames are cut into ~2 s packed-audio
//! segments (an ID3 timestamp tag, then whole frames) under `DATA_DIR/hls/MOUNT/VARIANT/`. The
//! segmenter runs in the variant's transcoder actor (on its own thread); the session keeps the
//! rendered live playlist in memory, and the final one (with EXT-X-ENDLIST) is written next to the
//! segments.

pub mod frames;
pub mod id3;
pub mod playlist;

use crate::stream::ladder::Variant;
use frames::{FrameInfo, FrameSplitter};
pub use playlist::Segment;
use std::collections::VecDeque;
use std::io;
use std::path::{Path, PathBuf};

/// Where and how segments are cut.
#[derive(Debug, Clone)]
pub struct HlsConfig {
    /// `DATA_DIR/hls`.
    pub root: PathBuf,
    pub segment_seconds: u32,
    pub dvr_seconds: u32,
}

impl HlsConfig {
    pub fn variant_dir(&self, mount: &str, variant: &Variant) -> PathBuf {
        self.root.join(mount).join(variant.to_string())
    }
}

/// The name of the playlist written when a broadcast ends.
pub const FINAL_PLAYLIST: &str = "index.m3u8";

/// Removes the leading ID3 tag of a segment file, leaving its frames.
pub fn strip_id3(data: &[u8]) -> &[u8] {
    if data.len() >= 10 && &data[..3] == b"ID3" {
        let size = data[6..10]
            .iter()
            .fold(0usize, |acc, b| (acc << 7) | (*b as usize & 0x7F));
        return data.get(10 + size..).unwrap_or(&[]);
    }
    data
}

struct Writer {
    variant: Variant,
    dir: PathBuf,
    target: f64,
    dvr: f64,
    started_wall_ms: i64,
    /// Frames of the segment being filled.
    current: Vec<u8>,
    current_samples: u64,
    rate: u32,
    /// Stream time where the current segment starts.
    start: f64,
    next_seq: u64,
    segments: VecDeque<Segment>,
}

impl Writer {
    fn add(&mut self, frame: &[u8], info: FrameInfo) -> io::Result<Option<Segment>> {
        if info.rate != self.rate && !self.current.is_empty() {
            // Never mix rates in one segment.
            let done = self.flush()?;
            self.rate = info.rate;
            self.current.extend_from_slice(frame);
            self.current_samples += u64::from(info.samples);
            return Ok(done);
        }
        self.rate = info.rate;
        self.current.extend_from_slice(frame);
        self.current_samples += u64::from(info.samples);
        if self.current_samples as f64 / f64::from(self.rate) >= self.target {
            return self.flush();
        }
        Ok(None)
    }

    fn flush(&mut self) -> io::Result<Option<Segment>> {
        if self.current.is_empty() || self.rate == 0 {
            return Ok(None);
        }
        let duration = self.current_samples as f64 / f64::from(self.rate);
        let segment = Segment {
            seq: self.next_seq,
            start: self.start,
            duration,
            wall_ms: self.started_wall_ms + (self.start * 1000.0) as i64,
        };
        let mut file = id3::timestamp_tag((self.start * 90_000.0) as u64);
        file.extend_from_slice(&self.current);
        let name = playlist::segment_name(segment.seq, self.variant.codec);
        write_atomically(&self.dir.join(name), &file)?;
        self.current.clear();
        self.current_samples = 0;
        self.start += duration;
        self.next_seq += 1;
        self.segments.push_back(segment.clone());
        // Keep the DVR window: drop segments that ended before it.
        while self
            .segments
            .front()
            .is_some_and(|s| self.start - s.end() > self.dvr)
        {
            if let Some(old) = self.segments.pop_front() {
                let name = playlist::segment_name(old.seq, self.variant.codec);
                let _already_gone_is_fine = std::fs::remove_file(self.dir.join(name));
            }
        }
        Ok(Some(segment))
    }
}

fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(tmp, path)
}

/// Cuts one variant's encoded stream into segments and keeps its playlist.
pub struct Segmenter {
    splitter: FrameSplitter,
    writer: Writer,
    target_seconds: u32,
}

impl Segmenter {
    /// Starts a fresh directory for this broadcast (what an earlier one left there is removed).
    pub fn new(
        config: &HlsConfig,
        mount: &str,
        variant: Variant,
        started_wall_ms: i64,
    ) -> io::Result<Self> {
        let dir = config.variant_dir(mount, &variant);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            splitter: FrameSplitter::new(variant.codec),
            writer: Writer {
                variant,
                dir,
                target: f64::from(config.segment_seconds.max(1)),
                dvr: f64::from(config.dvr_seconds),
                started_wall_ms,
                current: Vec::new(),
                current_samples: 0,
                rate: 0,
                start: 0.0,
                next_seq: 0,
                segments: VecDeque::new(),
            },
            target_seconds: config.segment_seconds.max(1),
        })
    }

    /// Takes encoded bytes; returns the segments they completed.
    pub fn push(&mut self, data: &[u8]) -> io::Result<Vec<Segment>> {
        let mut done = Vec::new();
        let mut failed = None;
        let writer = &mut self.writer;
        self.splitter.push(data, |frame, info| {
            if failed.is_none() {
                match writer.add(frame, info) {
                    Ok(Some(segment)) => done.push(segment),
                    Ok(None) => {}
                    Err(e) => failed = Some(e),
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// The media playlist as it stands.
    pub fn playlist(&self, ended: bool) -> String {
        let segments: Vec<Segment> = self.writer.segments.iter().cloned().collect();
        playlist::media(
            &segments,
            self.writer.variant.codec,
            self.target_seconds,
            ended,
        )
    }

    /// The broadcast is over: writes the last partial segment and the final playlist.
    pub fn finish(&mut self) -> io::Result<Option<Segment>> {
        let last = self.writer.flush()?;
        write_atomically(
            &self.writer.dir.join(FINAL_PLAYLIST),
            self.playlist(true).as_bytes(),
        )?;
        Ok(last)
    }

    pub fn dir(&self) -> &Path {
        &self.writer.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp3_frames(n: usize) -> Vec<u8> {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        frame.repeat(n)
    }

    #[test]
    fn segments_are_cut_on_frames_and_the_window_slides() {
        let root = std::env::temp_dir().join(format!("veza-hls-{}", std::process::id()));
        let config = HlsConfig {
            root: root.clone(),
            segment_seconds: 2,
            dvr_seconds: 5,
        };
        let variant: Variant = "mp3-128".parse().unwrap();
        let mut seg = Segmenter::new(&config, "m", variant, 1_000_000).unwrap();
        // 10 s of 1152-sample frames at 44.1 kHz, fed in odd-sized pieces.
        let data = mp3_frames(383);
        let mut done = Vec::new();
        for piece in data.chunks(1000) {
            done.extend(seg.push(piece).unwrap());
        }
        assert_eq!(done.len(), 4);
        // 77 frames = 2.0114 s: the first frame boundary at or after 2 s.
        assert!((done[0].duration - 77.0 * 1152.0 / 44100.0).abs() < 1e-9);
        assert!((done[1].start - done[0].duration).abs() < 1e-9);
        assert_eq!(done[1].wall_ms, 1_000_000 + (done[1].start * 1000.0) as i64);
        let file = std::fs::read(seg.dir().join("seg-1.mp3")).unwrap();
        assert_eq!(&file[..3], b"ID3");
        assert_eq!(strip_id3(&file).len(), 77 * 417);
        let last = seg.finish().unwrap().unwrap();
        assert_eq!(last.seq, 4);
        // The window (5 s) keeps the newest segments only; older files are gone.
        assert!(!seg.dir().join("seg-0.mp3").exists());
        assert!(seg.dir().join("seg-4.mp3").exists());
        let text = std::fs::read_to_string(seg.dir().join(FINAL_PLAYLIST)).unwrap();
        assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
        assert!(!text.contains("seg-0.mp3"));
        std::fs::remove_dir_all(root).unwrap();
    }
}
