//! Echo: a stereo delay line with feedback.

pub struct Echo {
    line: Vec<f32>,
    pos: usize,
    feedback: f32,
    mix: f32,
}

impl Echo {
    pub fn new(delay_ms: f32, feedback: f32, mix: f32, rate: u32) -> Self {
        let frames = ((delay_ms / 1000.0 * rate as f32).round() as usize).max(1);
        Self {
            line: vec![0.0; frames * 2],
            pos: 0,
            feedback,
            mix,
        }
    }

    pub fn process(&mut self, samples: &mut [f32]) {
        for sample in samples.iter_mut() {
            let delayed = self.line[self.pos];
            let dry = *sample;
            self.line[self.pos] = dry + delayed * self.feedback;
            self.pos += 1;
            if self.pos == self.line.len() {
                self.pos = 0;
            }
            *sample = dry * (1.0 - self.mix) + delayed * self.mix;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impulse_comes_back_after_the_delay() {
        let rate = 1000;
        let mut echo = Echo::new(100.0, 0.5, 0.5, rate);
        let mut samples = vec![0.0f32; 2 * 400];
        samples[0] = 1.0;
        samples[1] = 1.0;
        echo.process(&mut samples);
        assert_eq!(samples[0], 0.5);
        assert_eq!(samples[2 * 100], 0.5, "first echo at 100 ms");
        assert_eq!(samples[2 * 200], 0.25, "second echo, fed back at 0.5");
        assert_eq!(samples[2 * 50], 0.0);
    }
}
