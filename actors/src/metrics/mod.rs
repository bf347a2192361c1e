//! Process-wide counters that every layer records into and `GET /metrics` renders: WebSocket
//! deliveries and cut-offs, the persistence batcher, the reader pool, the bus, rate limits and
//! stream buffers. Numbers only: no names, no content. State that an actor owns (listeners,
//! transcoder speed, segment age) is not mirrored here; the scrape asks the actors for it.

pub mod family;

use family::{family, Counter, Gauge, Histogram, Labeled, SECONDS, SIZES};
use std::sync::OnceLock;

pub struct Metrics {
    /// Frames queued to WebSocket connections (each member's copy of a message counts once).
    pub ws_deliveries: Counter,
    /// Frames not queued because their connection was already cut off or closing.
    pub ws_dropped: Counter,
    /// Connections cut off with 1013 because their queue overflowed.
    pub ws_slow_closes: Counter,
    /// Writes per committed persistence batch.
    pub persistence_batch: Histogram,
    /// From a batch's hand-over to the writer thread to its commit (what its acks wait for, beside
    /// the time queued before it).
    pub persistence_commit: Histogram,
    /// Writes waiting for a batch, by shard.
    pub persistence_queue: Labeled<Gauge>,
    /// Time a store read waited for a free reader thread.
    pub reader_wait: Histogram,
    /// From publish on one node to receipt on another (clocks assumed in sync).
    pub bus_lag: Histogram,
    /// Requests and frames refused by a rate limit, by class.
    pub rate_limited: Labeled<Counter>,
    /// Listeners that fell so far behind the live edge that their queue overran (their player's
    /// buffer is running dry): they are cut off.
    pub buffer_low: Counter,
    /// Rungs (transcoder actors) restarted by their stream session after a panic, by variant.
    pub transcoder_restarts: Labeled<Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            ws_deliveries: Counter::default(),
            ws_dropped: Counter::default(),
            ws_slow_closes: Counter::default(),
            persistence_batch: Histogram::new(SIZES),
            persistence_commit: Histogram::new(SECONDS),
            persistence_queue: Labeled::new(&["shard"], Gauge::default),
            reader_wait: Histogram::new(SECONDS),
            bus_lag: Histogram::new(SECONDS),
            rate_limited: Labeled::new(&["class"], Counter::default),
            buffer_low: Counter::default(),
            transcoder_restarts: Labeled::new(&["variant"], Counter::default),
        }
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

impl Metrics {
    /// The families in the text exposition format.
    pub fn render(&self, out: &mut String) {
        let families: [(&str, &str, &str, &dyn family::Render); 11] = [
            (
                "veza_ws_deliveries_total",
                "counter",
                "Frames queued to WebSocket connections (one per member and message).",
                &self.ws_deliveries,
            ),
            (
                "veza_ws_outbox_dropped_total",
                "counter",
                "Frames not queued because their connection was cut off or closing.",
                &self.ws_dropped,
            ),
            (
                "veza_ws_slow_closes_total",
                "counter",
                "Connections closed with 1013 because they could not keep up.",
                &self.ws_slow_closes,
            ),
            (
                "veza_persistence_batch_size",
                "histogram",
                "Writes committed per persistence batch.",
                &self.persistence_batch,
            ),
            (
                "veza_persistence_commit_seconds",
                "histogram",
                "Time from handing a persistence batch to its writer to its commit.",
                &self.persistence_commit,
            ),
            (
                "veza_persistence_queue_depth",
                "gauge",
                "Writes waiting for the next persistence batch.",
                &self.persistence_queue,
            ),
            (
                "veza_db_reader_wait_seconds",
                "histogram",
                "Time a store read waited for a free reader thread.",
                &self.reader_wait,
            ),
            (
                "veza_bus_lag_seconds",
                "histogram",
                "Time from publish on one node to receipt on this one.",
                &self.bus_lag,
            ),
            (
                "veza_rate_limited_total",
                "counter",
                "Requests and frames refused by a rate limit, by class.",
                &self.rate_limited,
            ),
            (
                "veza_stream_buffer_low_total",
                "counter",
                "Listeners cut off for falling behind the live edge (their player's buffer runs dry).",
                &self.buffer_low,
            ),
            (
                "veza_transcoder_restarts_total",
                "counter",
                "Transcoder rungs restarted with a fresh encoder after a panic, by variant.",
                &self.transcoder_restarts,
            ),
        ];
        for (name, kind, help, metric) in families {
            family(out, name, kind, help, metric);
        }
    }
}
