//! Counters of the HTTP layer for `GET /metrics` (Prometheus text format): requests by status
//! class, latency overall and per route pattern, recorded by the access-log middleware. Atomics
//! on the request path; the per-route family takes a short lock to find its child.

use std::fmt::Write;
use veza_actors::metrics::family::{self, Counter, Histogram, Labeled, SECONDS};

/// Upper bounds of the overall latency buckets, in seconds.
const BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// The methods a label may name; anything else is `other` (a client may send any token).
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub struct HttpMetrics {
    /// 1xx .. 5xx.
    by_class: [Counter; 5],
    latency: Histogram,
    rate_limited: Counter,
    /// Latency per method and route pattern.
    routes: Labeled<Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            by_class: Default::default(),
            latency: Histogram::new(BUCKETS),
            rate_limited: Counter::default(),
            routes: Labeled::new(&["method", "route"], || Histogram::new(SECONDS)),
        }
    }
}

impl HttpMetrics {
    pub fn record(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].inc();
        if status == 429 {
            self.rate_limited.inc();
        }
        self.latency.observe(seconds);
    }

    /// One request's latency under its route pattern (`None`: no route matched). Both labels come
    /// from fixed sets: the known methods and the app's route patterns.
    pub fn record_route(&self, method: &str, route: Option<&str>, seconds: f64) {
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("other");
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
                n.get()
            );
        }
        family::family(
            out,
            "veza_http_rate_limited_total",
            "counter",
            "Requests refused with 429.",
            &self.rate_limited,
        );
        family::family(
            out,
            "veza_http_request_duration_seconds",
            "histogram",
            "Time to answer HTTP requests.",
            &self.latency,
        );
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

    #[test]
    fn route_labels_come_from_fixed_sets() {
        let m = HttpMetrics::default();
        m.record_route("GET", Some("/api/v2/rooms/{id}"), 0.01);
        m.record_route("FOO1", None, 0.01);
        m.record_route("FOO2", None, 0.01);
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains(
            "veza_http_route_duration_seconds_count{method=\"GET\",route=\"/api/v2/rooms/{id}\"} 1"
        ));
        assert!(out.contains(
            "veza_http_route_duration_seconds_count{method=\"other\",route=\"unmatched\"} 2"
        ));
        assert!(!out.contains("FOO"), "{out}");
    }
}
