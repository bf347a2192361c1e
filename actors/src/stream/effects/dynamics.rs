//! Level effects: plain gain and a stereo-linked feed-forward compressor.

pub fn db_to_linear(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

pub struct Gain {
    factor: f32,
}

impl Gain {
    pub fn new(db: f32) -> Self {
        Self {
            factor: db_to_linear(db),
        }
    }

    pub fn process(&mut self, samples: &mut [f32]) {
        for s in samples {
            *s *= self.factor;
        }
    }
}

pub struct Compressor {
    threshold_db: f32,
    ratio: f32,
    attack: f32,
    release: f32,
    makeup: f32,
    /// Smoothed gain reduction in dB (<= 0).
    reduction_db: f32,
}

impl Compressor {
    pub fn new(
        threshold_db: f32,
        ratio: f32,
        attack_ms: f32,
        release_ms: f32,
        makeup_db: f32,
        rate: u32,
    ) -> Self {
        let coeff = |ms: f32| (-1.0 / (ms / 1000.0 * rate as f32)).exp();
        Self {
            threshold_db,
            ratio,
            attack: coeff(attack_ms),
            release: coeff(release_ms),
            makeup: db_to_linear(makeup_db),
            reduction_db: 0.0,
        }
    }

    pub fn process(&mut self, samples: &mut [f32]) {
        for frame in samples.chunks_exact_mut(2) {
            let peak = frame[0].abs().max(frame[1].abs()).max(1e-9);
            let level_db = 20.0 * peak.log10();
            let over = level_db - self.threshold_db;
            let target = if over > 0.0 {
                -over * (1.0 - 1.0 / self.ratio)
            } else {
                0.0
            };
            // Attack when more reduction is needed, release when less.
            let coeff = if target < self.reduction_db {
                self.attack
            } else {
                self.release
            };
            self.reduction_db = target + (self.reduction_db - target) * coeff;
            let gain = db_to_linear(self.reduction_db) * self.makeup;
            frame[0] *= gain;
            frame[1] *= gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loud_tone_is_brought_down_by_the_ratio() {
        let rate = 48_000;
        // A 0 dBFS square-ish level, 20 dB over a -20 dB threshold, ratio 4: 15 dB of reduction.
        let mut c = Compressor::new(-20.0, 4.0, 1.0, 50.0, 0.0, rate);
        let mut samples = vec![1.0f32; 2 * rate as usize];
        c.process(&mut samples);
        let out_db = 20.0 * samples.last().unwrap().log10();
        assert!((out_db + 15.0).abs() < 0.1, "{out_db}");
        let mut quiet = vec![0.01f32; 2000];
        let mut c = Compressor::new(-20.0, 4.0, 1.0, 50.0, 0.0, rate);
        c.process(&mut quiet);
        assert_eq!(quiet[1999], 0.01, "below the threshold nothing changes");
    }

    #[test]
    fn gain_scales() {
        let mut g = Gain::new(-6.0206);
        let mut s = [1.0f32, -0.5];
        g.process(&mut s);
        assert!((s[0] - 0.5).abs() < 1e-4 && (s[1] + 0.25).abs() < 1e-4);
    }
}
