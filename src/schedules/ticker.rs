//! The schedule ticker: an actor on its own arbiter (a dedicated thread, so its blocking store
//! queries never hold up the HTTP arbiters) on every node. Every tick it looks for occurrences
//! that started since the last grace window, claims each with an INSERT into `schedule_firings`
//! (the unique key lets exactly one node win), writes the followers' `show_starting` feed entries
//! in the same transaction, and then sends the realtime event to the followers (on every node,
//! through `ToUsers`) and to the linked room (through the room fan-out).

use super::event;
use super::slot::SlotSpec;
use super::ScheduleError;
use crate::db::schedules::{self, SlotRow, StreamBrief};
use crate::db::write_txn::write_transaction;
use crate::db::DbPool;
use actix::prelude::*;
use slog::{info, warn, Logger};
use std::time::Duration;
use veza_actors::ids::now_ms;
use veza_actors::registry::ToUsers;
use veza_actors::stream::NotifyRoom;
use veza_actors::{Registry, UserId};

/// How the ticker runs (`schedule_tick_ms`, `schedule_grace_s`).
#[derive(Debug, Clone, Copy)]
pub struct TickerConfig {
    pub every: Duration,
    /// Occurrences that started longer ago than this are not announced (a node back from a long
    /// outage does not replay history).
    pub grace: Duration,
    pub node: u16,
}

pub struct Ticker {
    pool: DbPool,
    registry: Addr<Registry>,
    config: TickerConfig,
    log: Logger,
}

impl Actor for Ticker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.config.every, |act, _| act.tick());
    }
}

/// Starts the node's ticker on an arbiter of its own.
pub fn start(pool: DbPool, registry: Addr<Registry>, config: TickerConfig, log: Logger) {
    let arbiter = Arbiter::new();
    Ticker::start_in_arbiter(&arbiter.handle(), move |_| Ticker {
        pool,
        registry,
        config,
        log,
    });
}

/// One occurrence this node claimed.
struct Fired {
    stream: StreamBrief,
    slot: i64,
    start_ms: i64,
    end_ms: i64,
    followers: Vec<UserId>,
}

impl Ticker {
    fn tick(&mut self) {
        match self.claim_due(now_ms() as i64) {
            Ok(fired) => {
                for f in fired {
                    self.announce(f);
                }
            }
            Err(e) => warn!(self.log, "schedule tick failed"; "error" => e.to_string()),
        }
    }

    /// Claims every occurrence that started within the grace window and is not claimed yet.
    fn claim_due(&self, now: i64) -> Result<Vec<Fired>, ScheduleError> {
        let from = now - self.config.grace.as_millis() as i64;
        let conn = &mut *self.pool.get()?;
        let mut fired = Vec::new();
        for (row, stream) in schedules::candidates(conn, from, now + 1)? {
            let Some(spec) = spec_of(&row) else {
                warn!(self.log, "unreadable schedule slot"; "slot" => row.id);
                continue;
            };
            // Only occurrences after the slot was made: a new slot does not fire for its past.
            for o in spec.starting_in(from.max(row.created_at), now + 1) {
                let node = self.config.node;
                let claimed = write_transaction(conn, |conn| {
                    if !schedules::claim(conn, row.id, o.start_ms, node, now)? {
                        return Ok::<_, crate::db::DbError>(None);
                    }
                    schedules::notify_followers(conn, &stream, now).map(Some)
                })?;
                if let Some(followers) = claimed {
                    fired.push(Fired {
                        stream: stream.clone(),
                        slot: row.id,
                        start_ms: o.start_ms,
                        end_ms: o.end_ms,
                        followers,
                    });
                }
            }
        }
        Ok(fired)
    }

    fn announce(&self, f: Fired) {
        info!(self.log, "show starting"; "stream" => f.stream.id.0, "slot" => f.slot, "followers" => f.followers.len());
        let frame = event::show_starting(&f.stream, f.slot, f.start_ms, f.end_ms);
        if !f.followers.is_empty() {
            self.registry.do_send(ToUsers {
                users: f.followers,
                frame: frame.clone(),
            });
        }
        if let Some(room) = f.stream.room_id {
            self.registry.do_send(NotifyRoom { room, frame });
        }
    }
}

/// A stored slot as a [`SlotSpec`] (`None` if a row is malformed).
pub fn spec_of(row: &SlotRow) -> Option<SlotSpec> {
    use super::slot::{parse_date, parse_time, parse_zone, Recurrence};
    let time = parse_time(&row.local_time).ok()?;
    let recurrence = match row.kind.as_str() {
        "weekly" => Recurrence::Weekly {
            weekday: chrono::Weekday::try_from(u8::try_from(row.weekday?).ok()?).ok()?,
            time,
        },
        "once" => Recurrence::Once {
            at: parse_date(row.local_date.as_deref()?).ok()?.and_time(time),
        },
        _ => return None,
    };
    Some(SlotSpec {
        recurrence,
        zone: parse_zone(&row.time_zone).ok()?,
        duration_min: row.duration_min,
    })
}
