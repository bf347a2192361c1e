//! The live effects chain (EQ, echo, reverb, compressor, gain) between the decoder and the
//! transcoders. It runs on the decoder's thread; a new chain from the REST API arrives through a
//! `watch` channel and replaces the old one with a short crossfade (both run during the fade), so
//! switching never clicks and never leaves a gap.

mod biquad;
pub(crate) mod dynamics;
mod echo;
mod reverb;
pub mod spec;

pub use spec::{Effect, EffectsSpec, InvalidEffect};
use std::sync::Arc;
use tokio::sync::watch;

/// Crossfade length when the chain changes.
pub const FADE_MS: u32 = 20;

enum Stage {
    Eq(Vec<biquad::Biquad>),
    Echo(echo::Echo),
    Reverb(reverb::Reverb),
    Compressor(dynamics::Compressor),
    Gain(dynamics::Gain),
}

impl Stage {
    fn new(effect: &Effect, rate: u32) -> Self {
        // The spec is f64 (it is JSON); the DSP runs in f32.
        let f = |v: f64| v as f32;
        match *effect {
            Effect::Gain { db } => Stage::Gain(dynamics::Gain::new(f(db))),
            Effect::Eq { ref bands } => {
                Stage::Eq(bands.iter().map(|b| biquad::Biquad::new(b, rate)).collect())
            }
            Effect::Echo {
                delay_ms,
                feedback,
                mix,
            } => Stage::Echo(echo::Echo::new(f(delay_ms), f(feedback), f(mix), rate)),
            Effect::Reverb {
                room_size,
                damping,
                mix,
            } => Stage::Reverb(reverb::Reverb::new(f(room_size), f(damping), f(mix), rate)),
            Effect::Compressor {
                threshold_db,
                ratio,
                attack_ms,
                release_ms,
                makeup_db,
            } => Stage::Compressor(dynamics::Compressor::new(
                f(threshold_db),
                f(ratio),
                f(attack_ms),
                f(release_ms),
                f(makeup_db),
                rate,
            )),
        }
    }

    fn process(&mut self, samples: &mut [f32]) {
        match self {
            Stage::Eq(bands) => bands.iter_mut().for_each(|b| b.process(samples)),
            Stage::Echo(e) => e.process(samples),
            Stage::Reverb(r) => r.process(samples),
            Stage::Compressor(c) => c.process(samples),
            Stage::Gain(g) => g.process(samples),
        }
    }
}

/// A built chain for one sample rate.
pub struct Chain {
    stages: Vec<Stage>,
}

impl Chain {
    pub fn new(spec: &EffectsSpec, rate: u32) -> Self {
        Self {
            stages: spec.chain.iter().map(|e| Stage::new(e, rate)).collect(),
        }
    }

    pub fn process(&mut self, samples: &mut [f32]) {
        for stage in &mut self.stages {
            stage.process(samples);
        }
    }
}

struct Fade {
    from: Chain,
    /// Frames of the fade done so far.
    done: u32,
    length: u32,
}

/// The chain as the decoder thread sees it: follows `updates`, crossfades on every change.
pub struct Processor {
    updates: watch::Receiver<Arc<EffectsSpec>>,
    spec: Arc<EffectsSpec>,
    rate: u32,
    current: Chain,
    fade: Option<Fade>,
    scratch: Vec<f32>,
}

impl Processor {
    pub fn new(mut updates: watch::Receiver<Arc<EffectsSpec>>) -> Self {
        let spec = updates.borrow_and_update().clone();
        Self {
            updates,
            current: Chain::new(&spec, 44_100),
            spec,
            rate: 44_100,
            fade: None,
            scratch: Vec::new(),
        }
    }

    /// Applies the chain to interleaved stereo at `rate`, in place.
    pub fn process(&mut self, rate: u32, samples: &mut [f32]) {
        if rate != self.rate {
            // A new source format: delay lengths and filter coefficients depend on the rate.
            self.rate = rate;
            self.current = Chain::new(&self.spec, rate);
            self.fade = None;
        }
        if self.updates.has_changed().unwrap_or(false) {
            self.spec = self.updates.borrow_and_update().clone();
            let from = std::mem::replace(&mut self.current, Chain::new(&self.spec, rate));
            self.fade = Some(Fade {
                from,
                done: 0,
                length: (rate * FADE_MS / 1000).max(1),
            });
        }
        let Some(fade) = self.fade.as_mut() else {
            if !self.spec.chain.is_empty() {
                self.current.process(samples);
            }
            return;
        };
        self.scratch.clear();
        self.scratch.extend_from_slice(samples);
        fade.from.process(&mut self.scratch);
        self.current.process(samples);
        for (new, old) in samples
            .chunks_exact_mut(2)
            .zip(self.scratch.chunks_exact(2))
        {
            let t = (fade.done as f32 / fade.length as f32).min(1.0);
            new[0] = old[0] * (1.0 - t) + new[0] * t;
            new[1] = old[1] * (1.0 - t) + new[1] * t;
            fade.done = fade.done.saturating_add(1);
        }
        if fade.done >= fade.length {
            self.fade = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn sine(rate: u32, frames: usize, offset: usize) -> Vec<f32> {
        (offset..offset + frames)
            .flat_map(|i| {
                let s = (i as f32 * TAU * 440.0 / rate as f32).sin() * 0.5;
                [s, s]
            })
            .collect()
    }

    #[test]
    fn switching_the_chain_crossfades_without_a_click() {
        let rate = 48_000;
        let (tx, rx) = watch::channel(Arc::new(EffectsSpec::default()));
        let mut p = Processor::new(rx);
        let mut out = Vec::new();
        let block = 480;
        for n in 0..40 {
            if n == 10 {
                tx.send_replace(Arc::new(EffectsSpec {
                    chain: vec![Effect::Gain { db: -20.0 }],
                }));
            }
            if n == 25 {
                tx.send_replace(Arc::new(EffectsSpec::default()));
            }
            let mut s = sine(rate, block, n * block);
            p.process(rate, &mut s);
            out.extend(s.chunks_exact(2).map(|f| f[0]));
        }
        // A 440 Hz sine at 0.5 moves at most 0.5 * 2π * 440 / 48000 ≈ 0.029 per sample; a hard
        // switch to -20 dB would jump by up to 0.45.
        let max_step = out
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max);
        assert!(max_step < 0.035, "largest sample step {max_step}");
        let level =
            |from: usize, to: usize| out[from..to].iter().fold(0.0f32, |m, s| m.max(s.abs()));
        assert!(
            (level(20 * block, 24 * block) - 0.05).abs() < 0.005,
            "-20 dB applied"
        );
        assert!(
            (level(35 * block, 39 * block) - 0.5).abs() < 0.01,
            "and removed"
        );
    }

    #[test]
    fn an_empty_chain_leaves_the_audio_untouched() {
        let (_tx, rx) = watch::channel(Arc::new(EffectsSpec::default()));
        let mut p = Processor::new(rx);
        let before = sine(44_100, 1000, 0);
        let mut s = before.clone();
        p.process(44_100, &mut s);
        assert_eq!(s, before);
    }
}
