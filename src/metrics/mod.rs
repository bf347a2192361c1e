//! Counters for `GET /metrics`, kept outside the HTTP layer so every layer can count.

pub mod http;

pub use http::{gauge, HttpMetrics};
