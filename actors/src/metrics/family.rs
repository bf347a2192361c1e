//! The metric kinds `GET /metrics` exposes (Prometheus text format 0.0.4): counters, gauges,
//! histograms, each optionally split by labels. Plain atomics on the hot path; a labelled family
//! takes a lock only to find its child, and callers on hot paths keep the child.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

/// Something that renders its samples under a family name.
pub trait Render {
    /// Writes this metric's sample lines; `labels` is `{a="x",b="y"}` or empty.
    fn samples(&self, out: &mut String, name: &str, labels: &str);
}

/// Counts up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

impl Render for Counter {
    fn samples(&self, out: &mut String, name: &str, labels: &str) {
        let _ = writeln!(out, "{name}{labels} {}", self.get());
    }
}

/// Goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Relaxed);
    }
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Relaxed)
    }
}

impl Render for Gauge {
    fn samples(&self, out: &mut String, name: &str, labels: &str) {
        let _ = writeln!(out, "{name}{labels} {}", self.get());
    }
}

/// Latency buckets in seconds, from a millisecond to ten seconds.
pub const SECONDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Sizes (a batch's writes, say), from one to a thousand.
pub const SIZES: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

/// Observations counted into fixed buckets, with their count and sum.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative (made cumulative when rendered); one more for +Inf.
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    /// The sum in millionths, so it stays an atomic integer.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|le| value <= *le)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6).max(0.0) as u64, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }
}

impl Render for Histogram {
    fn samples(&self, out: &mut String, name: &str, labels: &str) {
        // `le` joins the family's own labels.
        let inner = labels.trim_start_matches('{').trim_end_matches('}');
        let sep = if inner.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, le) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.buckets[self.bounds.len()].load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{labels} {sum}");
        let _ = writeln!(out, "{name}_count{labels} {cumulative}");
    }
}

/// A family split by labels: one child per distinct set of values, made on first use. Keep label
/// values few (a route pattern, a class), never user input.
pub struct Labeled<T> {
    names: &'static [&'static str],
    make: fn() -> T,
    children: Mutex<BTreeMap<Vec<String>, Arc<T>>>,
}

impl<T> Labeled<T> {
    pub fn new(names: &'static [&'static str], make: fn() -> T) -> Self {
        Self {
            names,
            make,
            children: Mutex::new(BTreeMap::new()),
        }
    }

    /// The child for these label values (in the order of the names).
    pub fn with(&self, values: &[&str]) -> Arc<T> {
        debug_assert_eq!(values.len(), self.names.len());
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        let mut children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        children
            .entry(key)
            .or_insert_with(|| Arc::new((self.make)()))
            .clone()
    }
}

impl<T: Render> Render for Labeled<T> {
    fn samples(&self, out: &mut String, name: &str, _labels: &str) {
        let children = self.children.lock().unwrap_or_else(PoisonError::into_inner);
        for (values, child) in children.iter() {
            child.samples(out, name, &label_set(self.names, values));
        }
    }
}

/// `{a="x",b="y"}` with the values escaped as the text format wants.
pub fn label_set(names: &[&str], values: &[impl AsRef<str>]) -> String {
    let pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v.as_ref())))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes a family's `# HELP` and `# TYPE` lines, then its samples.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str, metric: &dyn Render) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    metric.samples(out, name, "");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets_with_their_labels() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(3.0);
        let mut out = String::new();
        h.samples(&mut out, "x_seconds", "{route=\"/a\"}");
        assert!(
            out.contains("x_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_seconds_sum{route=\"/a\"} 3.55\n"), "{out}");
        assert!(out.contains("x_seconds_count{route=\"/a\"} 3\n"), "{out}");
    }

    #[test]
    fn labelled_children_are_made_once_and_values_escaped() {
        let family: Labeled<Counter> = Labeled::new(&["class"], Counter::default);
        family.with(&["login"]).inc();
        family.with(&["login"]).inc();
        family.with(&["a\"b"]).inc();
        let mut out = String::new();
        family.samples(&mut out, "veza_x_total", "");
        assert!(out.contains("veza_x_total{class=\"login\"} 2\n"), "{out}");
        assert!(out.contains("veza_x_total{class=\"a\\\"b\"} 1\n"), "{out}");
    }
}
