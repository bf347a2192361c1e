//! The switcher on a real track (made by ffmpeg, decoded by rodio) and a synthetic live source:
//! the crossfade curve, the stall decision, and a stalled source falling back to the programme
//! without a gap and taking over again when it delivers.

use super::*;
use crate::autodj::picker::{PlayMode, PlaylistPicker};
use crate::autodj::playout::TrackToPlay;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::{sync_channel, SyncSender};
use veza_actors::ids::TrackId;

#[test]
fn equal_power_gains_keep_the_power() {
    for step in 0..=10 {
        let (a, b) = gains(step as f32 / 10.0);
        assert!((a * a + b * b - 1.0).abs() < 1e-5);
    }
    assert_eq!(gains(0.0), (1.0, 0.0));
}

#[test]
fn a_crossfade_ends_on_the_incoming_signal() {
    let mut out = vec![1.0f32; 200];
    let incoming = vec![0.5f32; 200];
    let done = crossfade(&mut out, &incoming, 0, 50);
    assert_eq!(done, 100);
    assert!((out[0] - 1.0).abs() < 1e-6);
    assert!((out[199] - 0.5).abs() < 1e-6);
    // Half-way: both at cos/sin of 45 degrees.
    let mid = out[50];
    assert!((mid - (std::f32::consts::FRAC_1_SQRT_2 * 1.5)).abs() < 0.02);
}

#[test]
fn a_source_stalls_when_it_is_quiet_and_nearly_used_up() {
    let block = BLOCK_FRAMES as u64;
    let fade = frames(Duration::from_millis(500));
    let grace = frames(STALL_GRACE);
    // Plenty left: a quiet source is not a stall yet, whatever how long it has been quiet.
    assert!(!stalled(fade, fade, grace * 10));
    // Down to the fade's length: a stall once it has been quiet for the grace, not before (a late
    // packet is not a stall).
    assert!(!stalled(fade - 1, fade, grace - 1));
    assert!(stalled(fade - 1, fade, grace));
    // A short fade still keeps two blocks to fade out.
    assert!(stalled(2 * block - 1, 10, grace));
    assert!(!stalled(2 * block, 10, grace));
    // Less than a block left: the next block would have a hole; fall back even if it trickles in.
    assert!(stalled(block - 1, fade, 0));
}

const HANDOVER: Duration = Duration::from_millis(500);

/// A switcher playing a 440 Hz WAV (30 s) and its events.
fn switcher(dir: &Path) -> Switcher {
    let path = dir.join("programme.wav");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg("sine=frequency=440:sample_rate=44100:duration=30")
        .args(["-ac", "2"])
        .arg(&path)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    let track = TrackToPlay {
        id: TrackId(1),
        title: "programme".into(),
        artist: None,
        path,
        duration_ms: 30_000,
        gain_db: 0.0,
        lyrics: None,
    };
    let picker = PlaylistPicker::new(Box::new(move || vec![track.clone()]), PlayMode::Loop);
    Switcher::new(Playout::new(Box::new(picker), Duration::ZERO), HANDOVER)
}

/// A live source sending 1 kHz in blocks of [`BLOCK_FRAMES`], as a decoder would.
struct Source {
    tx: Option<SyncSender<Vec<f32>>>,
    phase: f64,
}

impl Source {
    fn send_block(&mut self) {
        let step = 2.0 * std::f64::consts::PI * 1000.0 / f64::from(RATE);
        let mut block = Vec::with_capacity(BLOCK_FRAMES * 2);
        for _ in 0..BLOCK_FRAMES {
            self.phase += step;
            let s = (0.1 * self.phase.sin()) as f32;
            block.extend([s, s]);
        }
        if let Some(tx) = &self.tx {
            tx.send(block).expect("the switcher holds the receiver");
        }
    }
}

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
    (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (n * n / 4.0)
}

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

#[derive(Default)]
struct Run {
    out: Vec<f32>,
    /// (block index, event)
    events: Vec<(usize, MixerEvent)>,
}

impl Run {
    /// Renders `blocks` blocks, the source sending one block before each when `sending`.
    fn render(&mut self, s: &mut Switcher, source: &mut Source, blocks: usize, sending: bool) {
        for _ in 0..blocks {
            if sending {
                source.send_block();
            }
            let index = self.out.len() / (BLOCK_FRAMES * 2);
            let events = &mut self.events;
            let block = s.render(&mut |e| events.push((index, e)));
            self.out.extend(block);
        }
    }

    fn blocks(&self, from: usize, to: usize) -> &[f32] {
        &self.out[from * BLOCK_FRAMES * 2..to * BLOCK_FRAMES * 2]
    }

    fn live_events(&self) -> Vec<(usize, String)> {
        self.events
            .iter()
            .filter_map(|(i, e)| match e {
                MixerEvent::LiveStarted { .. } => Some((*i, "started".to_owned())),
                MixerEvent::LiveEnded { stalled, .. } => {
                    Some((*i, format!("ended stalled={stalled}")))
                }
                _ => None,
            })
            .collect()
    }
}

#[test]
fn a_stalled_source_falls_back_to_the_programme_and_takes_over_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = switcher(dir.path());
    let (tx, rx) = sync_channel(1024);
    let mut source = Source {
        tx: Some(tx),
        phase: 0.0,
    };
    let mut run = Run::default();
    run.render(&mut s, &mut source, 20, false);
    s.attach(LiveInput::from_blocks(rx));
    // 5 s of live, then a stall of 5 s (the source connected, sending nothing).
    run.render(&mut s, &mut source, 108, true);
    let stall_from = run.out.len() / (BLOCK_FRAMES * 2);
    run.render(&mut s, &mut source, 108, false);
    assert!(s.has_live(), "a stalled source stays attached");
    let events = run.live_events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].1, "ended stalled=true", "{events:?}");
    // The fallback: once what is left is down to the handover and the source has been quiet for
    // the grace (here 650 ms of prebuffer: about 200 ms after the stall, 5 blocks).
    let fell_back = events[1].0;
    let after = fell_back - stall_from;
    eprintln!(
        "fallback {} ms after the stall",
        after * BLOCK_FRAMES * 1000 / RATE as usize
    );
    assert!((4..=8).contains(&after), "{after} blocks after the stall");
    // During the stall: the programme alone.
    let stalled = run.blocks(fell_back + 15, stall_from + 108);
    assert!(power_at(stalled, 440.0) > 0.003, "the programme is heard");
    assert!(power_at(stalled, 1000.0) < 0.0001);

    // The source delivers again: prebuffer, then the handover.
    let resumed_from = run.out.len() / (BLOCK_FRAMES * 2);
    run.render(&mut s, &mut source, 60, true);
    let events = run.live_events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[2].1, "started");
    let again = events[2].0 - resumed_from;
    assert!((12..=16).contains(&again), "took over {again} blocks after");
    let live = run.blocks(events[2].0 + 15, resumed_from + 60);
    assert!(power_at(live, 1000.0) > 0.003, "the source is heard again");
    assert!(power_at(live, 440.0) < 0.0001);

    // It leaves: the programme is back, the source is dropped.
    source.tx = None;
    run.render(&mut s, &mut source, 40, false);
    assert!(!s.has_live());
    let events = run.live_events();
    assert_eq!(events[3].1, "ended stalled=false", "{events:?}");
    let silence = longest_silence(&run.out);
    eprintln!("longest digital silence: {silence} frames");
    assert!(silence <= 2, "{silence} frames of digital silence");
}

#[test]
fn the_programme_is_paused_for_as_long_as_the_source_was_on_air() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = switcher(dir.path());
    let (tx, rx) = sync_channel(1024);
    let mut source = Source {
        tx: Some(tx),
        phase: 0.0,
    };
    let mut run = Run::default();
    s.attach(LiveInput::from_blocks(rx));
    run.render(&mut s, &mut source, 80, true);
    source.tx = None;
    run.render(&mut s, &mut source, 40, false);
    let (started, handover) = run
        .events
        .iter()
        .find_map(|(_, e)| match e {
            MixerEvent::LiveStarted { at, handover, .. } => Some((*at, *handover)),
            _ => None,
        })
        .expect("the source took over");
    let (ended, paused) = run
        .events
        .iter()
        .find_map(|(_, e)| match e {
            MixerEvent::LiveEnded { at, paused, .. } => Some((*at, *paused)),
            _ => None,
        })
        .expect("the source left");
    // Paused from the end of the handover (rounded up to a block) to the return.
    let block = BLOCK_FRAMES as f64 / f64::from(RATE);
    let expected = ended - started - (handover / block).ceil() * block;
    assert!(
        (paused - expected).abs() < 1e-9,
        "paused {paused}, expected {expected}"
    );
    // The programme's clock: its frames played are the output's minus the pause.
    let played = s.playout().frame() as f64 / f64::from(RATE);
    assert!((s.now() - paused - played).abs() < 1e-9);
}
