//! Clips: a `[from, to]` range counted back from the live edge, cut at frame accuracy from the DVR
//! segments of the best MP3 variant into one MP3 file. The cut runs on the clip pool
//! (`clip_pool.rs`) once the range's end has been segmented; a `.pending` file marks a clip being
//! made.

use super::clip_pool::{ClipPool, ClipSlot};
use super::hls::frames::FrameSplitter;
use super::hls::playlist::segment_name;
use super::hls::{strip_id3, Segment};
use super::ladder::Codec;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error, PartialEq)]
pub enum ClipRefused {
    #[error("from and to count seconds back from now: from must be greater than to, and to >= 0")]
    BadRange,
    #[error("the DVR window holds the last {available:.1} s of this broadcast")]
    OutOfWindow { available: f64 },
    #[error("this stream has no MP3 variant in HLS to cut clips from")]
    NoSource,
}

/// A clip waiting for its end to be segmented.
pub struct Pending {
    pub hub: usize,
    pub start: f64,
    pub end: f64,
    pub dest: PathBuf,
    /// Its place in the clip pool, held until the cut is done or the clip is abandoned.
    pub slot: ClipSlot,
    pub pool: ClipPool,
}

/// The marker that says a clip is being made.
pub fn pending_marker(dest: &Path) -> PathBuf {
    dest.with_extension("pending")
}

/// Turns `from`/`to` (seconds back from `edge`) into stream times, if the DVR window (which
/// starts at `oldest`) holds them.
pub fn plan(from: f64, to: f64, edge: f64, oldest: f64) -> Result<(f64, f64), ClipRefused> {
    if !(from.is_finite() && to.is_finite() && to >= 0.0 && from > to) {
        return Err(ClipRefused::BadRange);
    }
    let available = (edge - oldest).max(0.0);
    // A frame of slack: "the last 30 s" 30 s after the start is fine.
    if from > available + 0.05 {
        return Err(ClipRefused::OutOfWindow { available });
    }
    Ok(((edge - from).max(oldest), edge - to))
}

/// Writes the frames whose midpoint lies in `[start, end]` from `segments` (files in `dir`) to
/// `dest`; returns the seconds written.
pub fn cut(
    dir: &Path,
    codec: Codec,
    segments: &[Segment],
    start: f64,
    end: f64,
    dest: &Path,
) -> io::Result<f64> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = dest.with_extension("tmp");
    // Each segment's kept frames go to the file as they are cut: memory holds one segment.
    let mut out = io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut seconds = 0.0;
    let mut failed = None;
    for segment in segments.iter().filter(|s| s.end() > start && s.start < end) {
        let data = std::fs::read(dir.join(segment_name(segment.seq, codec)))?;
        let mut splitter = FrameSplitter::new(codec);
        let mut t = segment.start;
        splitter.push(strip_id3(&data), |frame, info| {
            let d = f64::from(info.samples) / f64::from(info.rate);
            let mid = t + d / 2.0;
            if mid >= start && mid <= end && failed.is_none() {
                match out.write_all(frame) {
                    Ok(()) => seconds += d,
                    Err(e) => failed = Some(e),
                }
            }
            t += d;
        });
        if let Some(e) = failed.take() {
            return Err(e);
        }
    }
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, dest)?;
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_count_back_from_the_edge_within_the_window() {
        assert_eq!(plan(30.0, 0.0, 100.0, 10.0), Ok((70.0, 100.0)));
        assert_eq!(plan(30.0, 10.0, 100.0, 10.0), Ok((70.0, 90.0)));
        assert_eq!(plan(10.0, 10.0, 100.0, 0.0), Err(ClipRefused::BadRange));
        assert_eq!(plan(5.0, -1.0, 100.0, 0.0), Err(ClipRefused::BadRange));
        assert_eq!(plan(f64::NAN, 0.0, 100.0, 0.0), Err(ClipRefused::BadRange));
        assert_eq!(
            plan(95.0, 0.0, 100.0, 10.0),
            Err(ClipRefused::OutOfWindow { available: 90.0 })
        );
    }

    #[test]
    fn a_cut_keeps_the_frames_inside_the_range() {
        let dir = std::env::temp_dir().join(format!("veza-clip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        let d = 1152.0 / 44100.0;
        let segments: Vec<Segment> = (0..3)
            .map(|i| Segment {
                seq: i,
                start: i as f64 * 77.0 * d,
                duration: 77.0 * d,
                wall_ms: 0,
            })
            .collect();
        for s in &segments {
            let mut data = super::super::hls::id3::timestamp_tag(0);
            data.extend(frame.repeat(77));
            std::fs::write(dir.join(segment_name(s.seq, Codec::Mp3)), data).unwrap();
        }
        let dest = dir.join("clips").join("1.mp3");
        let seconds = cut(&dir, Codec::Mp3, &segments, 1.0, 4.5, &dest).unwrap();
        assert!((seconds - 3.5).abs() < d, "{seconds}");
        let written = std::fs::read(&dest).unwrap();
        assert_eq!(written.len() % 417, 0);
        assert!((written.len() / 417) as f64 * d - 3.5 < d);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
