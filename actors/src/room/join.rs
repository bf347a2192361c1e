//! Joining and leaving a room, and paging back through its history.

use super::{ConnHandle, Room};
use crate::model::{MemberState, MessageView, RoomRole};
use crate::protocol::{event, ProtoError};
use crate::store::Write;
use actix::prelude::*;
use serde_json::Value;
use slog::{error, warn};

/// Join the room. The room answers the connection itself: `joined`, or an `error`.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Join {
    pub conn: ConnHandle,
    pub since: Option<i64>,
    pub reference: Option<Value>,
}

impl Handler<Join> for Room {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        let _span = self.span("room.join", msg.conn.user.id);
        self.when_loaded(ctx, |act, ctx| act.join(ctx, msg));
    }
}

impl Room {
    fn join(&mut self, ctx: &mut Context<Self>, msg: Join) {
        let r = msg.reference.as_ref();
        if self.unavailable(&msg.conn, r) {
            return;
        }
        let now = crate::ids::now_ms() as i64;
        let user = &msg.conn.user;
        let role = self.role_of(user);
        let member = self.members.get(&user.id);
        if member.is_some_and(|m| m.is_banned(now)) && role < RoomRole::Moderator {
            return msg
                .conn
                .error(&ProtoError::forbidden("you are banned from this room"), r);
        }
        // Answered like an unknown room, so private room ids cannot be probed. Bots (no
        // `rooms.join_public`) join only rooms they were invited to, public ones too.
        let invited_only = self.info.private
            || !user
                .grants
                .allows(crate::permission::Permission::RoomsJoinPublic);
        // Nobody joins a conversation they are not in, staff included (it would make them a
        // member: in its notifications, its name and its blocks).
        let outsider =
            member.is_none() && (role < RoomRole::Moderator || self.info.kind.is_conversation());
        if invited_only && outsider {
            return msg.conn.error(&ProtoError::not_found("no such room"), r);
        }
        // Joining a public room makes you a member (so roles, bans and mutes have a row to live in).
        if member.is_none() {
            self.members.insert(
                user.id,
                MemberState {
                    username: user.username.clone(),
                    role: RoomRole::Member,
                    banned_until: None,
                    muted_until: None,
                    kicked_at: None,
                },
            );
            let write = Write::Member {
                room: self.id,
                user: user.id,
                role: None,
                banned_until: None,
                muted_until: None,
            };
            self.persist(ctx, vec![write], |act, _, result| {
                if let Err(e) = result {
                    warn!(act.log, "membership row not written"; "error" => e.to_string());
                }
            });
        }
        let last = self.info.last_seq;
        let ring_first = self.ring.front().map(|m| m.seq).unwrap_or(last + 1);
        let wanted_from = match msg.since {
            Some(since) => since + 1,
            None => (last + 1 - self.config().join_page as i64).max(1),
        };
        let missed = (last + 1 - wanted_from).max(0) as usize;
        if wanted_from >= ring_first || missed == 0 {
            let messages: Vec<MessageView> = self
                .ring
                .iter()
                .filter(|m| m.seq >= wanted_from)
                .skip(missed.saturating_sub(self.config().join_max))
                .cloned()
                .collect();
            return self.finish_join(ctx, &msg, messages);
        }
        // Too far back for the ring: the newest `join_max` from the store; the client pages further
        // back with `history`.
        let id = self.id;
        let limit = self.config().join_max;
        self.env
            .readers
            .query(move |store| store.messages_before(id, last + 1, limit))
            .into_actor(self)
            .map(move |result, act, ctx| {
                act.guarded(ctx, |act, ctx| match result {
                    Ok(mut messages) => {
                        messages.reverse();
                        messages.retain(|m| m.seq >= wanted_from);
                        // Anything committed while we read is in the ring.
                        let newest = messages.last().map(|m| m.seq).unwrap_or(wanted_from - 1);
                        messages.extend(act.ring.iter().filter(|m| m.seq > newest).cloned());
                        act.finish_join(ctx, &msg, messages);
                    }
                    Err(e) => {
                        error!(act.log, "join history read failed"; "error" => e.0);
                        msg.conn
                            .error(&ProtoError::internal(), msg.reference.as_ref());
                    }
                })
            })
            .wait(ctx);
    }

    fn finish_join(&mut self, ctx: &mut Context<Self>, msg: &Join, messages: Vec<MessageView>) {
        self.add_online(ctx, &msg.conn);
        if self.is_large() {
            // This joiner hears a count the others have not: the next flush sends it.
            self.presence.resend_count();
        }
        let members = self
            .presence
            .everyone_up_to(self.config().presence_list_max);
        msg.conn.outbox.push(event::joined(
            self.id,
            self.info.last_seq,
            &members,
            self.presence.online_count(),
            &messages,
            msg.reference.as_ref(),
        ));
    }
}

/// Leave the room (or the connection closed: `reply` false).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub conn: ConnHandle,
    pub reply: bool,
    pub reference: Option<Value>,
}

impl Handler<Leave> for Room {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        self.guarded(ctx, |act, ctx| {
            act.remove_conn(msg.conn.user.id, msg.conn.id());
            if msg.reply {
                msg.conn
                    .outbox
                    .push(event::left(act.id, msg.reference.as_ref()));
            }
            act.schedule_flush(ctx);
        });
    }
}

/// `history` from a connection: older messages, ascending.
#[derive(Message)]
#[rtype(result = "()")]
pub struct History {
    pub conn: ConnHandle,
    pub before: Option<i64>,
    pub limit: usize,
    pub reference: Option<Value>,
}

impl Handler<History> for Room {
    type Result = ();

    fn handle(&mut self, msg: History, ctx: &mut Context<Self>) {
        let r = msg.reference.clone();
        if !self.is_online(msg.conn.user.id, msg.conn.id()) {
            return msg
                .conn
                .error(&ProtoError::forbidden("join the room first"), r.as_ref());
        }
        let id = self.id;
        let before = msg.before.unwrap_or(self.info.last_seq + 1);
        let limit = msg.limit;
        self.env
            .readers
            .query(move |store| store.messages_before(id, before, limit))
            .into_actor(self)
            .map(move |result, act, _| match result {
                Ok(mut messages) => {
                    messages.reverse();
                    msg.conn
                        .outbox
                        .push(event::history(act.id, &messages, r.as_ref()));
                }
                Err(e) => {
                    error!(act.log, "history read failed"; "error" => e.0);
                    msg.conn.error(&ProtoError::internal(), r.as_ref());
                }
            })
            .spawn(ctx);
    }
}

/// A page of history for REST, answered from the ring when this replica is current and the ring
/// holds the whole page; `None` sends the caller to the store.
#[derive(Message)]
#[rtype(result = "Option<RingPage>")]
pub struct PageFromRing {
    pub user: crate::ids::UserId,
    /// A global admin or moderator (sees every room).
    pub staff: bool,
    /// Sees public rooms only when a member too (bots: they were invited).
    pub invited_only: bool,
    /// Messages with seq < `before`, newest first.
    pub before: i64,
    pub limit: usize,
}

/// What the ring says.
#[derive(Debug)]
pub enum RingPage {
    Messages(Vec<MessageView>),
    /// A private room the caller is not in (answered like an unknown room).
    Hidden,
    Banned,
}

impl Handler<PageFromRing> for Room {
    type Result = Option<RingPage>;

    fn handle(&mut self, msg: PageFromRing, _: &mut Context<Self>) -> Option<RingPage> {
        // Only a replica that follows every commit (or the only node) and has no gap is current.
        let current = self.loaded
            && (self.sync.following || !self.env.bus.is_clustered())
            && !self.seq.has_gap();
        if !current {
            return None;
        }
        let member = self.members.get(&msg.user);
        if !msg.staff && msg.user != self.info.owner {
            if (self.info.private || msg.invited_only) && member.is_none() {
                return Some(RingPage::Hidden);
            }
            if member.is_some_and(|m| m.is_banned(crate::ids::now_ms() as i64)) {
                return Some(RingPage::Banned);
            }
        }
        let top = (msg.before - 1).min(self.info.last_seq);
        if top < 1 {
            return Some(RingPage::Messages(Vec::new()));
        }
        let from = (top - msg.limit as i64 + 1).max(1);
        let ring_first = self.ring.front().map(|m| m.seq)?;
        if ring_first > from {
            return None;
        }
        Some(RingPage::Messages(
            self.ring
                .iter()
                .rev()
                .filter(|m| m.seq <= top)
                .take(msg.limit)
                .cloned()
                .collect(),
        ))
    }
}
