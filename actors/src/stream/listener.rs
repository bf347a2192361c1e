//! The listener core: what a progressive listener (`/live/MOUNT/VARIANT`) hears, shared by both
//! front-ends, the main port (an actix-web streaming body, `src/http/routes/live.rs`) and the
//! Icecast port (raw TCP writes, `src/ingest/listeners.rs`). It owns the policy; the front-ends
//! only write the head and the chunks it hands them:
//! - the response headers (`Content-Type`, no caching, `icy-name`/`icy-br`/`icy-sr`/`icy-pub`, and
//!   `icy-metaint` when the listener sent `Icy-MetaData: 1`);
//! - the burst first (the Ogg header pages, if any, then the last ~2 s), so playback starts at
//!   once, then the live chunks;
//! - ICY interleaving of the now-playing title every `METAINT` bytes, on request;
//! - the lag policy: a listener that falls further behind than the variant's broadcast channel
//!   holds is cut off (counted in `veza_stream_buffer_low_total`), never buffered for;
//! - counting: the feed holds the listener's receiver of the variant's broadcast channel, which
//!   is what the session counts as that variant's listeners, until it is dropped.

use super::icy::{IcyInterleaver, METAINT};
use super::ladder::Variant;
use super::Listening;
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::watch;

/// The most the main port hands actix-web at a time: actix copies a response body's pieces into
/// its connection's write buffer, which keeps its largest size for the life of the connection (a
/// listener's piece is ~0.56 s, 9 KB at 128 kbit/s; slices keep that buffer at a few KiB).
pub const MAIN_PORT_SLICE: usize = 4096;

/// One listener's audio, from its subscription to the end of the broadcast (or its cut-off).
pub struct ListenerFeed {
    variant: Variant,
    /// The burst still to send; `None` once sent (its list freed: a listener lives for hours).
    burst: Option<std::vec::IntoIter<Bytes>>,
    live: broadcast::Receiver<Bytes>,
    title: watch::Receiver<String>,
    icy: Option<IcyInterleaver>,
}

impl ListenerFeed {
    /// `wants_icy`: the request's `Icy-MetaData` header was `1`.
    pub fn new(listening: Listening, wants_icy: bool) -> Self {
        let Listening {
            variant,
            burst,
            live,
            title,
        } = listening;
        Self {
            variant,
            burst: Some(burst.into_iter()),
            live,
            title,
            icy: wants_icy.then(|| IcyInterleaver::new(METAINT)),
        }
    }

    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// The response's headers, `Content-Type` first.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let name: String = self
            .title
            .borrow()
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        let mut headers = vec![
            ("Content-Type", self.variant.content_type().to_owned()),
            ("Cache-Control", "no-cache, no-store".to_owned()),
            ("icy-name", name),
            ("icy-br", self.variant.kbps.to_string()),
            ("icy-sr", self.variant.sample_rate().to_string()),
            ("icy-pub", "0".to_owned()),
        ];
        if self.icy.is_some() {
            headers.push(("icy-metaint", METAINT.to_string()));
        }
        headers
    }

    /// The next piece to write; `None` when the broadcast is over or the listener fell too far
    /// behind.
    pub async fn next(&mut self) -> Option<Bytes> {
        let burst = self.burst.as_mut().and_then(Iterator::next);
        if burst.is_none() {
            self.burst = None;
        }
        let chunk = match burst {
            Some(chunk) => {
                // One burst chunk per poll: the main port then flushes each to the socket instead
                // of copying the whole burst into its write buffer (which would keep that capacity
                // for the life of the connection).
                tokio::task::yield_now().await;
                chunk
            }
            None => match self.live.recv().await {
                Ok(chunk) => chunk,
                Err(RecvError::Lagged(_)) => {
                    crate::metrics::metrics().buffer_low.inc();
                    return None;
                }
                Err(RecvError::Closed) => return None,
            },
        };
        Some(match self.icy.as_mut() {
            Some(icy) => icy.process(chunk, &self.title.borrow()),
            None => chunk,
        })
    }

    /// The feed as a stream of pieces of at most [`MAIN_PORT_SLICE`] bytes, one per poll (the main
    /// port's response body).
    pub fn into_stream(self) -> impl Stream<Item = Bytes> {
        futures_util::stream::unfold((self, Bytes::new()), |(mut feed, mut rest)| async move {
            if rest.is_empty() {
                rest = feed.next().await?;
            } else {
                tokio::task::yield_now().await;
            }
            let slice = rest.split_to(rest.len().min(MAIN_PORT_SLICE));
            Some((slice, (feed, rest)))
        })
    }
}
