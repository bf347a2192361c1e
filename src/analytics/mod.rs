//! Stream analytics: who listened to a stream, on which variant, for how long, and how busy its
//! chat was. Listener sessions (progressive connections on either port, HLS players by the `sid`
//! in their playlist URLs) are reported by the listener front-ends to the node's [`SessionLog`],
//! which writes them in batches; a listener never waits on the store. Raw sessions are folded
//! into per-minute aggregates after the retention (`expiry`); the endpoint
//! (`GET /api/v2/streams/{id}/analytics`, `http::routes::analytics`) adds both up (`report`).

pub mod error;
pub mod expiry;
pub mod hls;
pub mod minutes;
pub mod report;
pub mod session_log;

use crate::config::analytics::Analytics as AnalyticsConfig;
use crate::db::DbPool;
use actix::{Actor, Addr, Arbiter};
use hls::HlsSessions;
use session_log::{SessionClosed, SessionKind, SessionLog, SessionOpened};
use std::sync::Arc;
use veza_actors::ids::now_ms;
use veza_actors::stream::ladder::Variant;
use veza_actors::IdGenerator;

/// The node's analytics front: what the listener front-ends call.
#[derive(Clone)]
pub struct Analytics {
    log: Addr<SessionLog>,
    ids: Arc<IdGenerator>,
    hls: Arc<HlsSessions>,
}

impl Analytics {
    /// Starts the node's session log on an arbiter of its own. Must run inside an actix system.
    pub fn start(
        pool: DbPool,
        ids: Arc<IdGenerator>,
        config: &AnalyticsConfig,
        node: u16,
        log: slog::Logger,
    ) -> Self {
        let hls = Arc::new(HlsSessions::new(config.hls_timeout().as_millis() as i64));
        let arbiter = Arbiter::new();
        let (sessions, config) = (hls.clone(), config.clone());
        let log = SessionLog::start_in_arbiter(&arbiter.handle(), move |_| {
            SessionLog::new(pool, node, sessions, config, log)
        });
        Self { log, ids, hls }
    }

    /// A progressive listener of `variant` of the stream live at `mount` starts now; it ends when
    /// the returned guard is dropped (with the connection).
    pub fn listening(&self, mount: &str, variant: Variant) -> ListenerSession {
        let id = self.ids.next_id();
        self.log.do_send(SessionOpened {
            id,
            mount: mount.to_owned(),
            variant: variant.to_string(),
            kind: SessionKind::Progressive,
            at: now_ms() as i64,
        });
        ListenerSession {
            id,
            log: self.log.clone(),
        }
    }

    /// An HLS player `sid` polled `variant`'s live media playlist of `mount`: opens its session
    /// if it has none (it ends after `analytics_hls_timeout_s` without polls).
    pub fn hls_poll(&self, mount: &str, variant: Variant, sid: &str) {
        let now = now_ms() as i64;
        let variant = variant.to_string();
        if let Some(opened) = self
            .hls
            .poll(mount, &variant, sid, now, || self.ids.next_id())
        {
            self.log.do_send(SessionOpened {
                id: opened.id,
                mount: mount.to_owned(),
                variant,
                kind: SessionKind::Hls,
                at: now,
            });
        }
    }
}

/// A progressive listener's session: its end is reported when this is dropped.
pub struct ListenerSession {
    id: i64,
    log: Addr<SessionLog>,
}

impl Drop for ListenerSession {
    fn drop(&mut self) {
        self.log.do_send(SessionClosed {
            id: self.id,
            at: now_ms() as i64,
        });
    }
}
