//! A live session's rates for `GET /metrics`, sampled every [`SAMPLE_EVERY`]: the source's bitrate
//! as it arrives, and each rung's real-time factor (seconds of audio encoded per second of wall
//! time: about 1 while a rung keeps up with a live source, under 1 when it falls behind).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the rates are taken (and over how long they are averaged).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Rates {
    /// Bytes of source received so far; the decoder thread counts them.
    bytes_in: Arc<AtomicU64>,
    last: Option<Sample>,
    /// Bits per second of source over the last interval.
    pub ingest_bps: u64,
    /// Per rung (in ladder order): the real-time factor over the last interval.
    pub realtime: Vec<Option<f64>>,
}

struct Sample {
    at: Instant,
    bytes_in: u64,
    edges: Vec<f64>,
}

impl Rates {
    /// The counter the decoder thread adds received bytes to.
    pub fn input_counter(&self) -> Arc<AtomicU64> {
        self.bytes_in.clone()
    }

    /// Takes a sample: `edges` is each rung's stream time encoded so far.
    pub fn sample(&mut self, edges: Vec<f64>) {
        let now = Sample {
            at: Instant::now(),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            edges,
        };
        if let Some(last) = &self.last {
            let secs = now.at.duration_since(last.at).as_secs_f64();
            if secs > 0.0 {
                let bytes = now.bytes_in.saturating_sub(last.bytes_in);
                self.ingest_bps = (bytes as f64 * 8.0 / secs) as u64;
                self.realtime = now
                    .edges
                    .iter()
                    .zip(&last.edges)
                    .map(|(n, l)| Some(((n - l) / secs).max(0.0)))
                    .collect();
            }
        }
        self.last = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_the_difference_between_samples() {
        let mut rates = Rates::default();
        rates.sample(vec![0.0, 0.0]);
        assert_eq!(rates.ingest_bps, 0);
        assert!(rates.realtime.is_empty(), "one sample gives no rate");
        rates.input_counter().fetch_add(16_000, Ordering::Relaxed);
        // Back-date the first sample one second.
        if let Some(last) = rates.last.as_mut() {
            last.at -= Duration::from_secs(1);
        }
        rates.sample(vec![1.0, 0.5]);
        let bps = rates.ingest_bps as f64;
        assert!((100_000.0..=128_000.0).contains(&bps), "{bps}");
        let rt: Vec<f64> = rates.realtime.iter().flatten().copied().collect();
        assert!(
            rt[0] > 0.8 && rt[0] <= 1.0 && rt[1] > 0.4 && rt[1] <= 0.5,
            "{rt:?}"
        );
    }
}
