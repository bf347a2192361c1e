//! EQ bands as biquads (the RBJ Audio EQ Cookbook formulas), one filter state per channel.

use super::spec::{BandKind, EqBand};
use std::f32::consts::TAU;

#[derive(Debug, Clone, Copy)]
pub struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    /// Direct form I state per channel: x[n-1], x[n-2], y[n-1], y[n-2].
    state: [[f32; 4]; 2],
}

impl Biquad {
    pub fn new(band: &EqBand, rate: u32) -> Self {
        let (gain_db, freq, q) = (band.gain_db as f32, band.freq as f32, band.q as f32);
        let a = 10f32.powf(gain_db / 40.0);
        let w0 = TAU * freq.min(rate as f32 * 0.45) / rate as f32;
        let (sin, cos) = w0.sin_cos();
        let alpha = sin / (2.0 * q);
        let sq = 2.0 * a.sqrt() * alpha;
        let (b0, b1, b2, a0, a1, a2) = match band.kind {
            BandKind::Peak => (
                1.0 + alpha * a,
                -2.0 * cos,
                1.0 - alpha * a,
                1.0 + alpha / a,
                -2.0 * cos,
                1.0 - alpha / a,
            ),
            BandKind::LowShelf => (
                a * ((a + 1.0) - (a - 1.0) * cos + sq),
                2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                a * ((a + 1.0) - (a - 1.0) * cos - sq),
                (a + 1.0) + (a - 1.0) * cos + sq,
                -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                (a + 1.0) + (a - 1.0) * cos - sq,
            ),
            BandKind::HighShelf => (
                a * ((a + 1.0) + (a - 1.0) * cos + sq),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                a * ((a + 1.0) + (a - 1.0) * cos - sq),
                (a + 1.0) - (a - 1.0) * cos + sq,
                2.0 * ((a - 1.0) - (a + 1.0) * cos),
                (a + 1.0) - (a - 1.0) * cos - sq,
            ),
        };
        Self {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
            state: [[0.0; 4]; 2],
        }
    }

    /// Filters interleaved stereo in place.
    pub fn process(&mut self, samples: &mut [f32]) {
        for frame in samples.chunks_exact_mut(2) {
            for (ch, sample) in frame.iter_mut().enumerate() {
                let s = &mut self.state[ch];
                let x = *sample;
                let y =
                    self.b0 * x + self.b1 * s[0] + self.b2 * s[1] - self.a1 * s[2] - self.a2 * s[3];
                *s = [x, s[0], y, s[2]];
                *sample = y;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms_after(band: EqBand, freq: f32) -> f32 {
        let rate = 48_000;
        let mut filter = Biquad::new(&band, rate);
        let mut samples: Vec<f32> = (0..rate as usize)
            .flat_map(|i| {
                let s = (i as f32 * TAU * freq / rate as f32).sin() * 0.25;
                [s, s]
            })
            .collect();
        filter.process(&mut samples);
        let tail = &samples[samples.len() / 2..];
        (tail.iter().map(|s| s * s).sum::<f32>() / tail.len() as f32).sqrt()
    }

    #[test]
    fn a_peak_band_boosts_its_frequency_and_leaves_others() {
        let band = EqBand {
            kind: BandKind::Peak,
            freq: 1000.0,
            gain_db: 6.0,
            q: 1.0,
        };
        let dry = 0.25 / 2f32.sqrt();
        let at_centre = 20.0 * (rms_after(band, 1000.0) / dry).log10();
        let far = 20.0 * (rms_after(band, 50.0) / dry).log10();
        assert!(
            (at_centre - 6.0).abs() < 0.2,
            "{at_centre} dB at the centre"
        );
        assert!(far.abs() < 0.3, "{far} dB far away");
    }

    #[test]
    fn shelves_cut_their_side() {
        let low = EqBand {
            kind: BandKind::LowShelf,
            freq: 200.0,
            gain_db: -12.0,
            q: 0.707,
        };
        let high = EqBand {
            kind: BandKind::HighShelf,
            freq: 4000.0,
            gain_db: -12.0,
            q: 0.707,
        };
        let dry = 0.25 / 2f32.sqrt();
        let db = |r: f32| 20.0 * (r / dry).log10();
        assert!((db(rms_after(low, 40.0)) + 12.0).abs() < 1.0);
        assert!(db(rms_after(low, 5000.0)).abs() < 0.5);
        assert!((db(rms_after(high, 15000.0)) + 12.0).abs() < 1.0);
        assert!(db(rms_after(high, 100.0)).abs() < 0.5);
    }
}
