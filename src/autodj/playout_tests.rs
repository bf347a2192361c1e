//! The playout on real files (made by ffmpeg, decoded by rodio): crossfades measured in the
//! rendered samples, gapless joins, skips, loudness gain.

use super::picker::{PlayMode, PlaylistPicker};
use super::playout::{Playout, PlayoutEvent, TrackToPlay};
use super::track_source::RATE;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use veza_actors::ids::TrackId;

fn tone(dir: &Path, name: &str, hz: u32, seconds: f64, codec: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency={hz}:sample_rate=44100:duration={seconds}"
        ))
        .args(["-ac", "2"])
        .args(codec)
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    path
}

fn track(id: i64, path: PathBuf, ms: i64) -> TrackToPlay {
    TrackToPlay {
        id: TrackId(id),
        title: format!("track {id}"),
        artist: None,
        path,
        duration_ms: ms,
        gain_db: 0.0,
        lyrics: None,
    }
}

/// The power of `hz` in a window of the left channel (Goertzel), normalised to a full-scale sine's
/// (ffmpeg's `sine` is at 1/8 of full scale, and -3 dB per channel when made stereo: 0.0073).
fn power_at(samples: &[f32], hz: f64) -> f64 {
    let left: Vec<f64> = samples.iter().step_by(2).map(|s| f64::from(*s)).collect();
    let n = left.len() as f64;
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(RATE);
    let (mut s1, mut s2) = (0.0, 0.0);
    for x in &left {
        let s = x + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    power / (n * n / 4.0)
}

fn render(playout: &mut Playout, seconds: f64) -> Vec<f32> {
    let mut out = vec![0.0f32; (seconds * f64::from(RATE)) as usize * 2];
    for block in out.chunks_mut(4096) {
        playout.fill(block);
    }
    out
}

/// Longest run of frames whose samples are all exactly zero.
fn longest_silence(samples: &[f32]) -> usize {
    let (mut best, mut run) = (0, 0);
    for frame in samples.chunks_exact(2) {
        if frame[0] == 0.0 && frame[1] == 0.0 {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

fn window(samples: &[f32], from: f64, to: f64) -> &[f32] {
    let a = (from * f64::from(RATE)) as usize * 2;
    let b = (to * f64::from(RATE)) as usize * 2;
    &samples[a..b.min(samples.len())]
}

fn picker(tracks: Vec<TrackToPlay>) -> Box<PlaylistPicker> {
    Box::new(PlaylistPicker::new(
        Box::new(move || tracks.clone()),
        PlayMode::Loop,
    ))
}

#[test]
fn tracks_crossfade_for_the_configured_time() {
    let dir = tempfile::tempdir().unwrap();
    let a = tone(
        dir.path(),
        "a.mp3",
        440,
        4.0,
        &["-c:a", "libmp3lame", "-b:a", "192k"],
    );
    let b = tone(dir.path(), "b.flac", 1000, 4.0, &["-c:a", "flac"]);
    let mut playout = Playout::new(
        picker(vec![track(1, a, 4000), track(2, b, 4000)]),
        Duration::from_millis(1500),
    );
    let out = render(&mut playout, 7.0);
    // Track 1 alone until 2.5 s, both from 2.5 to 4.0, track 2 alone after.
    let before = window(&out, 1.0, 2.3);
    assert!(power_at(before, 440.0) > 0.003 && power_at(before, 1000.0) < 0.0001);
    let during = window(&out, 3.0, 3.5);
    assert!(power_at(during, 440.0) > 0.001, "440 Hz fading out");
    assert!(power_at(during, 1000.0) > 0.001, "1 kHz fading in");
    let after = window(&out, 4.3, 5.5);
    assert!(power_at(after, 1000.0) > 0.003 && power_at(after, 440.0) < 0.0001);
    assert!(longest_silence(&out) < 441, "no 10 ms of digital silence");
    let started: Vec<(i64, u64)> = playout
        .take_events()
        .filter_map(|e| match e {
            PlayoutEvent::TrackStarted { track, frame } => Some((track.id.0, frame)),
            _ => None,
        })
        .collect();
    assert_eq!(started[0], (1, 0));
    // Track 2 begins where the crossfade begins: 4.0 - 1.5 s.
    assert_eq!(started[1].0, 2);
    assert!((started[1].1 as i64 - 110_250).abs() < 2048, "{started:?}");
}

#[test]
fn without_a_crossfade_tracks_join_gaplessly() {
    let dir = tempfile::tempdir().unwrap();
    let a = tone(dir.path(), "a.wav", 440, 2.0, &[]);
    let b = tone(dir.path(), "b.ogg", 660, 2.0, &["-c:a", "libvorbis"]);
    let mut playout = Playout::new(
        picker(vec![track(1, a, 2000), track(2, b, 2000)]),
        Duration::ZERO,
    );
    let out = render(&mut playout, 5.0);
    // A sine starts at zero: allow a couple of zero samples at each join, never a run.
    assert!(longest_silence(&out) <= 2, "{}", longest_silence(&out));
    assert!(power_at(window(&out, 2.1, 3.9), 660.0) > 0.003);
    assert!(power_at(window(&out, 4.1, 4.9), 440.0) > 0.003, "loops");
}

#[test]
fn a_skip_crossfades_into_the_next_track_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = tone(dir.path(), "a.wav", 440, 10.0, &[]);
    let b = tone(
        dir.path(),
        "b.opus",
        1000,
        10.0,
        &["-c:a", "libopus", "-b:a", "96k"],
    );
    let mut playout = Playout::new(
        picker(vec![track(1, a, 10_000), track(2, b, 10_000)]),
        Duration::from_secs(3),
    );
    let first = render(&mut playout, 1.0);
    assert!(power_at(window(&first, 0.2, 0.9), 440.0) > 0.003);
    playout.skip(Duration::from_millis(500));
    let next = render(&mut playout, 2.0);
    assert!(
        power_at(window(&next, 0.7, 1.9), 1000.0) > 0.003,
        "Opus track on air"
    );
    assert!(power_at(window(&next, 0.7, 1.9), 440.0) < 0.0001);
    assert!(longest_silence(&next) < 441);
    assert_eq!(playout.now_playing().map(|t| t.id.0), Some(2));
}

#[test]
fn the_loudness_gain_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let a = tone(dir.path(), "a.wav", 440, 2.0, &[]);
    let mut quiet = track(1, a.clone(), 2000);
    quiet.gain_db = -12.0;
    let mut playout = Playout::new(picker(vec![quiet]), Duration::ZERO);
    let out = render(&mut playout, 1.0);
    let mut plain = Playout::new(picker(vec![track(1, a, 2000)]), Duration::ZERO);
    let reference = render(&mut plain, 1.0);
    let ratio =
        power_at(window(&out, 0.2, 0.8), 440.0) / power_at(window(&reference, 0.2, 0.8), 440.0);
    // -12 dB in power is 10^(-1.2) = 0.063.
    assert!((ratio - 0.063).abs() < 0.01, "{ratio}");
}
