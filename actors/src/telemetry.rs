//! Spans for the actors (WebSocket frames, room messages, persistence batches, stream sessions),
//! through OpenTelemetry's global tracer. The server installs an exporter when `otlp_endpoint` is
//! set and calls [`enable`]; until then [`span`] returns `None` without touching the global tracer,
//! so the hot paths pay one relaxed load when tracing is off.

use opentelemetry::trace::{Span as _, Status, Tracer};
use opentelemetry::{global, KeyValue};
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The instrumentation scope of every Veza span.
pub const SCOPE: &str = "veza";

/// Turns spans on (after the server installed its tracer provider).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// A span that ends when dropped.
pub struct Span(global::BoxedSpan);

impl Span {
    pub fn set(&mut self, key: &'static str, value: impl Into<opentelemetry::Value>) {
        self.0.set_attribute(KeyValue::new(key, value));
    }

    /// Marks the span failed with `message`.
    pub fn fail(&mut self, message: impl Into<String>) {
        self.0.set_status(Status::error(message.into()));
    }
}

/// A new root span named `name` with `attributes` (only built when tracing is on), or `None`.
pub fn span(name: &'static str, attributes: impl FnOnce() -> Vec<KeyValue>) -> Option<Span> {
    if !enabled() {
        return None;
    }
    let tracer = global::tracer(SCOPE);
    let mut span = tracer.start(name);
    span.set_attributes(attributes());
    Some(Span(span))
}

/// A span of one instant (an event without duration of its own: a source connecting).
pub fn event(name: &'static str, attributes: impl FnOnce() -> Vec<KeyValue>) {
    drop(span(name, attributes));
}
