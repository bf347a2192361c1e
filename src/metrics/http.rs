//! Counters of the HTTP layer for `GET /metrics` (Prometheus text format): requests by status
//! class and a latency histogram, recorded by the access-log middleware. Plain atomics: no lock on
//! the request path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use veza_actors::metrics::family::{self, Histogram, Labeled, SECONDS};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

pub struct HttpMetrics {
    /// 1xx .. 5xx.
    by_class: [AtomicU64; 5],
    /// Cumulative counts per bucket (le), as Prometheus wants them.
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    rate_limited: AtomicU64,
    /// Latency per method and route pattern.
    routes: Labeled<Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            by_class: Default::default(),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            routes: Labeled::new(&["method", "route"], || Histogram::new(SECONDS)),
        }
    }
}

impl HttpMetrics {
    pub fn record(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Relaxed);
        if status == 429 {
            self.rate_limited.fetch_add(1, Relaxed);
        }
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                self.buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6).max(0.0) as u64, Relaxed);
    }

    /// One request's latency under its route pattern (`None`: no route matched).
    pub fn record_route(&self, method: &str, route: Option<&str>, seconds: f64) {
        let route = route.unwrap_or("unmatched");
        self.routes.with(&[method, route]).observe(seconds);
    }

    /// The HTTP families in the text exposition format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP veza_http_requests_total HTTP requests answered, by status class."
        );
        let _ = writeln!(out, "# TYPE veza_http_requests_total counter");
        for (i, n) in self.by_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "veza_http_requests_total{{code=\"{}xx\"}} {}",
                i + 1,
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP veza_http_rate_limited_total Requests refused with 429."
        );
        let _ = writeln!(out, "# TYPE veza_http_rate_limited_total counter");
        let _ = writeln!(
            out,
            "veza_http_rate_limited_total {}",
            self.rate_limited.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP veza_http_request_duration_seconds Time to answer HTTP requests."
        );
        let _ = writeln!(out, "# TYPE veza_http_request_duration_seconds histogram");
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "veza_http_request_duration_seconds_bucket{{le=\"{le}\"}} {}",
                self.buckets[i].load(Relaxed)
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(
            out,
            "veza_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "veza_http_request_duration_seconds_sum {}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "veza_http_request_duration_seconds_count {count}");
        family::family(
            out,
            "veza_http_route_duration_seconds",
            "histogram",
            "Time to answer HTTP requests, by method and route pattern.",
            &self.routes,
        );
    }
}

/// One counter family with a single sample.
pub fn counter(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

/// One gauge family with a single sample.
pub fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_classes_counted() {
        let m = HttpMetrics::default();
        m.record(200, 0.002);
        m.record(429, 0.0005);
        m.record(500, 2.0);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("veza_http_requests_total{code=\"2xx\"} 1"));
        assert!(out.contains("veza_http_requests_total{code=\"4xx\"} 1"));
        assert!(out.contains("veza_http_rate_limited_total 1"));
        assert!(out.contains("veza_http_request_duration_seconds_bucket{le=\"0.001\"} 1"));
        assert!(out.contains("veza_http_request_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(out.contains("veza_http_request_duration_seconds_bucket{le=\"5\"} 3"));
        assert!(out.contains("veza_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(out.contains("veza_http_request_duration_seconds_count 3"));
    }
}
