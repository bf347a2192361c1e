//! Structured logging with slog: JSON lines for machines, a readable format on a terminal.

use crate::config::{Config, LogFormat};
use slog::{o, Drain, Level, Logger};
use std::io::IsTerminal;

/// Keeps the async drain alive; dropping it flushes the queued lines, so `main` holds it to the end.
pub struct LogGuard(#[allow(dead_code)] slog_async::AsyncGuard);

pub fn level_of(name: &str) -> Level {
    match name {
        "trace" => Level::Trace,
        "debug" => Level::Debug,
        "warning" => Level::Warning,
        "error" => Level::Error,
        _ => Level::Info,
    }
}

/// The process logger for `config`: JSON unless asked for pretty, or unset and stdout is a terminal.
pub fn init(config: &Config) -> (Logger, LogGuard) {
    let pretty = match config.log_format {
        Some(LogFormat::Pretty) => true,
        Some(LogFormat::Json) => false,
        None => std::io::stdout().is_terminal(),
    };
    let level = level_of(&config.log_level);
    let (drain, guard) = if pretty {
        let decorator = slog_term::TermDecorator::new().stdout().build();
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        slog_async::Async::new(drain.filter_level(level).fuse())
            .chan_size(4096)
            .build_with_guard()
    } else {
        let drain = slog_json::Json::new(std::io::stdout())
            .add_default_keys()
            .build()
            .fuse();
        slog_async::Async::new(drain.filter_level(level).fuse())
            .chan_size(4096)
            .build_with_guard()
    };
    let log = Logger::root(drain.fuse(), o!("service" => "veza"));
    (log, LogGuard(guard))
}
