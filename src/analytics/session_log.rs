//! The node's session log: an actor on an arbiter of its own (a dedicated thread, so its blocking
//! store writes never hold up the HTTP arbiters or a listener). Listener connections and HLS polls
//! only `do_send` it a start or an end; it buffers them and writes them in one transaction every
//! `analytics_flush_ms` or every [`BATCH`] rows. The same thread sweeps HLS sessions whose polls
//! stopped, and periodically folds expired sessions into the per-minute aggregates.

use super::error::AnalyticsError;
use super::hls::HlsSessions;
use crate::config::analytics::Analytics as AnalyticsConfig;
use crate::db::analytics::{self as queries, NewSession};
use crate::db::write_txn::write_transaction;
use crate::db::{streams, DbError, DbPool};
use actix::prelude::*;
use slog::{info, warn, Logger};
use std::collections::HashMap;
use std::sync::Arc;
use veza_actors::ids::now_ms;
use veza_actors::StreamId;

/// Rows buffered before a write is made at once, without waiting for the next tick.
pub const BATCH: usize = 256;
/// Rows kept while the store is failing; beyond that the oldest are dropped (and logged).
pub const MAX_PENDING: usize = 100_000;
/// Mounts remembered (mount -> stream id) before the cache is cleared.
const MAX_MOUNTS: usize = 10_000;

/// What kind of listener a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// One connection to `/live/MOUNT/VARIANT` (main port or Icecast port).
    Progressive,
    /// One `sid` polling an HLS media playlist.
    Hls,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Progressive => "progressive",
            SessionKind::Hls => "hls",
        }
    }
}

/// A session opened (its row is written with the next batch).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct SessionOpened {
    pub id: i64,
    pub mount: String,
    pub variant: String,
    pub kind: SessionKind,
    pub at: i64,
}

/// A session ended at `at` (ms).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct SessionClosed {
    pub id: i64,
    pub at: i64,
}

pub struct SessionLog {
    pool: DbPool,
    node: i64,
    hls: Arc<HlsSessions>,
    config: AnalyticsConfig,
    opened: Vec<SessionOpened>,
    closed: Vec<SessionClosed>,
    mounts: HashMap<String, StreamId>,
    log: Logger,
}

impl SessionLog {
    pub fn new(
        pool: DbPool,
        node: u16,
        hls: Arc<HlsSessions>,
        config: AnalyticsConfig,
        log: Logger,
    ) -> Self {
        Self {
            pool,
            node: i64::from(node),
            hls,
            config,
            opened: Vec::new(),
            closed: Vec::new(),
            mounts: HashMap::new(),
            log,
        }
    }

    fn pending(&self) -> usize {
        self.opened.len() + self.closed.len()
    }

    /// Ends the HLS sessions whose polls stopped.
    fn sweep_hls(&mut self) {
        let now = now_ms() as i64;
        for ended in self.hls.sweep(now) {
            self.closed.push(SessionClosed {
                id: ended.id,
                at: ended.at,
            });
        }
    }

    /// Writes the buffered starts and ends in one transaction (starts first: a session opened and
    /// closed within one batch is inserted, then closed).
    fn flush(&mut self) {
        if self.pending() == 0 {
            return;
        }
        match self.write() {
            Ok(()) => {
                self.opened.clear();
                self.closed.clear();
            }
            Err(e) => {
                warn!(self.log, "could not write listener sessions; retrying with the next batch";
                    "error" => e.to_string(), "pending" => self.pending());
                if self.pending() > MAX_PENDING {
                    let dropped = self.pending();
                    self.opened.clear();
                    self.closed.clear();
                    warn!(self.log, "listener sessions dropped: the store failed for too long"; "dropped" => dropped);
                }
            }
        }
    }

    fn write(&mut self) -> Result<(), DbError> {
        let conn = &mut *self.pool.get()?;
        if self.mounts.len() > MAX_MOUNTS {
            self.mounts.clear();
        }
        let Self {
            opened,
            closed,
            mounts,
            node,
            ..
        } = self;
        write_transaction(conn, |conn| {
            for o in opened.iter() {
                let stream_id = match mounts.get(&o.mount) {
                    Some(id) => *id,
                    None => match streams::find_by_mount(conn, &o.mount)? {
                        Some(row) => {
                            mounts.insert(o.mount.clone(), row.id);
                            row.id
                        }
                        // The stream was deleted meanwhile: nothing to count it for.
                        None => continue,
                    },
                };
                queries::insert_session(
                    conn,
                    &NewSession {
                        id: o.id,
                        stream_id,
                        variant: o.variant.clone(),
                        kind: o.kind.as_str(),
                        node: *node,
                        started_at: o.at,
                    },
                )?;
            }
            for c in closed.iter() {
                queries::close_session(conn, c.id, c.at)?;
            }
            Ok(())
        })
    }

    /// Folds the sessions that ended before the retention into the aggregates.
    fn fold(&mut self) {
        let cutoff = now_ms() as i64 - self.config.retention().as_millis() as i64;
        let result = self
            .pool
            .get()
            .map_err(AnalyticsError::from)
            .and_then(|mut conn| super::expiry::fold_expired(&mut conn, cutoff));
        match result {
            Ok(0) => {}
            Ok(n) => info!(self.log, "listener sessions folded into minutes"; "sessions" => n),
            Err(AnalyticsError::Claimed) => {
                info!(self.log, "another node is folding listener sessions")
            }
            Err(e) => warn!(self.log, "could not fold listener sessions"; "error" => e.to_string()),
        }
    }

    fn close_orphans(&mut self) {
        let result = self
            .pool
            .get()
            .and_then(|mut conn| queries::close_orphans(&mut conn, self.node));
        match result {
            Ok(0) => {}
            Ok(n) => {
                info!(self.log, "closed listener sessions this node left open"; "sessions" => n)
            }
            Err(e) => {
                warn!(self.log, "could not close this node's stale listener sessions"; "error" => e.to_string())
            }
        }
    }
}

impl Actor for SessionLog {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Sessions this node left open when it last stopped (or crashed) ended then.
        self.close_orphans();
        ctx.run_interval(self.config.flush_every(), |act, _| {
            act.sweep_hls();
            act.flush();
        });
        ctx.run_interval(self.config.fold_every(), |act, _| act.fold());
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.flush();
    }
}

impl Handler<SessionOpened> for SessionLog {
    type Result = ();
    fn handle(&mut self, msg: SessionOpened, _: &mut Context<Self>) {
        self.opened.push(msg);
        if self.pending() >= BATCH {
            self.flush();
        }
    }
}

impl Handler<SessionClosed> for SessionLog {
    type Result = ();
    fn handle(&mut self, msg: SessionClosed, _: &mut Context<Self>) {
        self.closed.push(msg);
        if self.pending() >= BATCH {
            self.flush();
        }
    }
}
