//! Counters for `GET /metrics`, kept outside the HTTP layer so every layer can count. The actors
//! crate's process-wide families (`veza_actors::metrics`) are rendered beside these.

pub mod http;
pub mod process;
pub mod streams;

pub use http::{counter, gauge, HttpMetrics};
pub use veza_actors::metrics::family;
