//! Read markers: `{"type":"read","room","seq"}` moves the member's marker forward. Markers are
//! gathered per room and written every `READ_FLUSH` as one request through the persistence
//! batcher (a client reading as messages arrive costs one row update per flush, not one per
//! frame); after the commit each reader's counts are pushed as `unread` to all of their sockets,
//! on every node. A reader who read to the end of what this replica has delivered has nothing
//! unread up to that seq (their mentions up to it were read in the same commit): pushed without a
//! query, the common case of people watching a busy room. The others' counts are read back from
//! the store.

use super::{ConnHandle, Room};
use crate::ids::UserId;
use crate::protocol::conversation as frames;
use crate::protocol::ProtoError;
use crate::registry::ToUsers;
use crate::store::{Applied, Unread, Write};
use actix::prelude::*;
use serde_json::Value;
use slog::warn;
use std::collections::HashMap;
use std::time::Duration;

/// How long read markers are gathered before they are written: a reader's marker is written and
/// their counts pushed at most once per this, however often their client says `read`.
const READ_FLUSH: Duration = Duration::from_millis(500);

#[derive(Debug, Default)]
pub(super) struct PendingReads {
    markers: HashMap<UserId, i64>,
    armed: bool,
}

/// A `read` frame.
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarkRead {
    pub conn: ConnHandle,
    pub seq: i64,
    pub reference: Option<Value>,
}

impl Handler<MarkRead> for Room {
    type Result = ();

    fn handle(&mut self, msg: MarkRead, ctx: &mut Context<Self>) {
        self.when_loaded(ctx, |act, ctx| act.mark_read(ctx, msg));
    }
}

impl Room {
    fn mark_read(&mut self, ctx: &mut Context<Self>, msg: MarkRead) {
        let r = msg.reference.as_ref();
        if self.unavailable(&msg.conn, r) {
            return;
        }
        if !self.is_online(msg.conn.user.id, msg.conn.id()) {
            return msg
                .conn
                .error(&ProtoError::forbidden("join the room first"), r);
        }
        // Past what exists here is clamped by the store to what exists there (this replica may
        // trail another node's commits by the bus's travel time).
        let seq = msg.seq;
        let marker = self.reads.markers.entry(msg.conn.user.id).or_insert(seq);
        *marker = (*marker).max(seq);
        if !self.reads.armed {
            self.reads.armed = true;
            ctx.run_later(READ_FLUSH, |act, ctx| act.guarded(ctx, Self::flush_reads));
        }
    }

    fn flush_reads(&mut self, ctx: &mut Context<Self>) {
        self.reads.armed = false;
        let markers = std::mem::take(&mut self.reads.markers);
        if markers.is_empty() {
            return;
        }
        let room = self.id;
        let write = Write::Reads {
            room,
            markers: markers.into_iter().collect(),
        };
        self.persist(ctx, vec![write], move |act, ctx, result| {
            let (markers, last_seq) = match result.map(|mut a| a.pop()) {
                Ok(Some(Applied::Markers { markers, last_seq })) => (markers, last_seq),
                Ok(_) => return warn!(act.log, "read markers: unexpected answer from the store"),
                Err(e) => {
                    return warn!(act.log, "read markers not written"; "error" => e.to_string())
                }
            };
            // Read to the end of what the store holds: nothing unread, no query, and one frame
            // for all who stand at the same seq.
            let mut caught_up: HashMap<i64, Vec<UserId>> = HashMap::new();
            let mut behind: Vec<UserId> = Vec::new();
            for (user, read_seq) in markers {
                if read_seq >= last_seq {
                    caught_up.entry(read_seq).or_default().push(user);
                } else {
                    behind.push(user);
                }
            }
            for (read_seq, users) in caught_up {
                let counts = Unread {
                    user: users[0],
                    read_seq,
                    unread: 0,
                    mentions: 0,
                };
                act.env.users.do_send(ToUsers {
                    users,
                    frame: frames::unread(room, &counts),
                });
            }
            if !behind.is_empty() {
                act.push_unread(ctx, behind);
            }
        });
    }

    /// Reads `users`' counts here from the store and pushes them to all of their sockets.
    fn push_unread(&mut self, ctx: &mut Context<Self>, users: Vec<UserId>) {
        let room = self.id;
        let to_users = self.env.users.clone();
        self.env
            .readers
            .query(move |store| store.unread(room, &users))
            .into_actor(self)
            .map(move |result, act, _| match result {
                Ok(counts) => {
                    for c in counts {
                        to_users.do_send(ToUsers {
                            users: vec![c.user],
                            frame: frames::unread(room, &c),
                        });
                    }
                }
                Err(e) => warn!(act.log, "unread counts not read"; "error" => e.0),
            })
            .spawn(ctx);
    }
}
