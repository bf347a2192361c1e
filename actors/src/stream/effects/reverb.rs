//! Reverb: Jezar's Freeverb (eight damped combs into four allpasses per channel), tunings scaled
//! from 44.1 kHz to the stream's rate.

const COMBS: [usize; 8] = [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617];
const ALLPASSES: [usize; 4] = [556, 441, 341, 225];
const STEREO_SPREAD: usize = 23;
const INPUT_GAIN: f32 = 0.015;
/// Freeverb's wet scale: its tank is quiet.
const WET_SCALE: f32 = 3.0;

struct Comb {
    buf: Vec<f32>,
    pos: usize,
    store: f32,
}

impl Comb {
    fn process(&mut self, input: f32, feedback: f32, damp: f32) -> f32 {
        let out = self.buf[self.pos];
        self.store = out * (1.0 - damp) + self.store * damp;
        self.buf[self.pos] = input + self.store * feedback;
        self.pos = (self.pos + 1) % self.buf.len();
        out
    }
}

struct Allpass {
    buf: Vec<f32>,
    pos: usize,
}

impl Allpass {
    fn process(&mut self, input: f32) -> f32 {
        let delayed = self.buf[self.pos];
        self.buf[self.pos] = input + delayed * 0.5;
        self.pos = (self.pos + 1) % self.buf.len();
        delayed - input
    }
}

pub struct Reverb {
    combs: [Vec<Comb>; 2],
    allpasses: [Vec<Allpass>; 2],
    feedback: f32,
    damp: f32,
    mix: f32,
}

impl Reverb {
    pub fn new(room_size: f32, damping: f32, mix: f32, rate: u32) -> Self {
        let scale = |n: usize| ((n as f64 * rate as f64 / 44_100.0).round() as usize).max(1);
        let channel = |spread: usize| {
            (
                COMBS
                    .iter()
                    .map(|n| Comb {
                        buf: vec![0.0; scale(n + spread)],
                        pos: 0,
                        store: 0.0,
                    })
                    .collect(),
                ALLPASSES
                    .iter()
                    .map(|n| Allpass {
                        buf: vec![0.0; scale(n + spread)],
                        pos: 0,
                    })
                    .collect(),
            )
        };
        let (cl, al) = channel(0);
        let (cr, ar) = channel(STEREO_SPREAD);
        Self {
            combs: [cl, cr],
            allpasses: [al, ar],
            feedback: room_size * 0.28 + 0.7,
            damp: damping * 0.4,
            mix,
        }
    }

    pub fn process(&mut self, samples: &mut [f32]) {
        for frame in samples.chunks_exact_mut(2) {
            let input = (frame[0] + frame[1]) * INPUT_GAIN;
            for (ch, sample) in frame.iter_mut().enumerate() {
                let mut wet: f32 = self.combs[ch]
                    .iter_mut()
                    .map(|c| c.process(input, self.feedback, self.damp))
                    .sum();
                for allpass in &mut self.allpasses[ch] {
                    wet = allpass.process(wet);
                }
                *sample = *sample * (1.0 - self.mix) + wet * WET_SCALE * self.mix;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impulse_leaves_a_decaying_tail() {
        let rate = 44_100;
        let mut reverb = Reverb::new(0.8, 0.3, 1.0, rate);
        let mut samples = vec![0.0f32; 2 * rate as usize];
        samples[0] = 1.0;
        samples[1] = 1.0;
        reverb.process(&mut samples);
        let energy =
            |from: usize, to: usize| samples[from * 2..to * 2].iter().map(|s| s * s).sum::<f32>();
        let early = energy(2_000, 12_000);
        let late = energy(30_000, 40_000);
        assert!(early > 0.0, "the tail starts");
        assert!(late < early, "and decays: {late} vs {early}");
        assert!(samples.iter().all(|s| s.is_finite() && s.abs() < 1.0));
    }
}
