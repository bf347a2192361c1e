//! Keeping a room replica in step with the others: events from the bus, catching up from the
//! store (after a subscription starts, when a gap outlives `gap_wait`, and every
//! `poll_while_down` while the bus is down), and reloading moderation state when another node
//! changed it. The store is the truth; the bus only makes it arrive sooner.

use super::fanout::{Effect, Envelope, RoomEvent};
use super::Room;
use crate::bus::{BusState, Subscribed};
use crate::ids::UserId;
use crate::model::{MemberState, MessageKind, MessageView};
use crate::protocol::event;
use actix::prelude::*;
use bytestring::ByteString;
use slog::warn;
use std::collections::HashMap;
use std::time::Instant;

/// Messages read from the store per catch-up query.
const CATCH_UP_PAGE: usize = 500;
/// With the bus up, a following replica still checks the store every this many polls.
const SAFETY_POLLS: u32 = 5;

#[derive(Debug, Default)]
pub(super) struct SyncState {
    /// Subscribed to the room's topic (while someone is online here, on a clustered node).
    pub following: bool,
    gap_timer: bool,
    catching_up: bool,
    again: bool,
    bus_down: bool,
    ticks: u32,
}

impl SyncState {
    /// After a restart in place: timers and queries of the old state are gone; the subscription
    /// and what is known of the bus stay.
    pub(super) fn after_restart(&self) -> Self {
        Self {
            following: self.following,
            bus_down: self.bus_down,
            ..Self::default()
        }
    }
}

/// An event another node published on this room's topic (routed by the registry).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomBusEvent(pub Envelope);

impl Handler<RoomBusEvent> for Room {
    type Result = ();

    fn handle(&mut self, msg: RoomBusEvent, ctx: &mut Context<Self>) {
        let Envelope { node, event, .. } = msg.0;
        // Our own publishes come back from the bus: they were delivered here already.
        if node == self.env.node || !self.sync.following || !self.loaded {
            return;
        }
        self.guarded(ctx, |act, ctx| act.on_remote(ctx, node, event));
    }
}

impl Room {
    fn on_remote(&mut self, ctx: &mut Context<Self>, node: u16, event: RoomEvent) {
        match event {
            RoomEvent::Message { message, effect } => match effect {
                Effect::None => self.deliver(ctx, message),
                Effect::StateChanged => self.resync_state(ctx, Some(message)),
                Effect::Kick(user) => {
                    let at = message.created_at;
                    self.deliver(ctx, message);
                    self.remove_user(user);
                    // As the store has it now: a later reload does not take them out again.
                    if let Some(member) = self.members.get_mut(&user) {
                        member.kicked_at = Some(at);
                    }
                }
            },
            RoomEvent::Updated { message, reaction } => {
                self.show_update(&message, reaction.as_ref())
            }
            RoomEvent::Deleted { message } => {
                if !self.mark_deleted(message) {
                    self.broadcast(event::message_deleted(self.id, message));
                }
            }
            RoomEvent::Presence { joined, left } => self.presence.heard(node, joined, left),
            RoomEvent::Hello => self.send_roster(),
            RoomEvent::Roster { users } => self.presence.roster(node, users),
            RoomEvent::Typing { users } => self.presence.heard_typing(users),
            RoomEvent::Notice { frame } => self.broadcast(ByteString::from(frame)),
            RoomEvent::CommandsChanged => self.resync_state(ctx, None),
            RoomEvent::Command {
                bot,
                frame,
                id,
                invoker,
            } => {
                if let Some(invoker) = invoker {
                    self.replies.expect(id, bot, invoker, Instant::now());
                }
                self.deliver_to_bot(bot, &ByteString::from(frame))
            }
            RoomEvent::ThreadUpdated {
                message,
                reply_count,
                last_reply_at,
            } => self.thread_grew(super::conversation::root_of(
                message,
                reply_count,
                last_reply_at,
            )),
            RoomEvent::Private { user, frame } => {
                self.deliver_to_user(user, &ByteString::from(frame))
            }
        }
    }

    /// Reads messages after the last delivered seq from the store and delivers them.
    pub(super) fn catch_up(&mut self, ctx: &mut Context<Self>) {
        if !self.loaded {
            return;
        }
        if self.sync.catching_up {
            self.sync.again = true;
            return;
        }
        self.sync.catching_up = true;
        let (id, after) = (self.id, self.seq.delivered());
        self.env
            .readers
            .query(move |store| store.messages_after(id, after, CATCH_UP_PAGE))
            .into_actor(self)
            .map(move |result, act, ctx| {
                act.sync.catching_up = false;
                match result {
                    Ok(messages) => {
                        let more = messages.len() == CATCH_UP_PAGE;
                        // A command's system message found here came without its effect: the
                        // state it changed is read again (a kick with it, from `kicked_at`).
                        let commands = messages.iter().any(|m| m.kind == MessageKind::System);
                        act.guarded(ctx, |act, ctx| {
                            for message in messages {
                                act.deliver(ctx, message);
                            }
                        });
                        if commands {
                            act.resync_state(ctx, None);
                        }
                        if more || std::mem::take(&mut act.sync.again) {
                            act.catch_up(ctx);
                        }
                    }
                    Err(e) => {
                        warn!(act.log, "catching up from the store failed"; "error" => e.0);
                        if act.seq.has_gap() {
                            act.arm_gap_timer(ctx);
                        }
                    }
                }
            })
            .spawn(ctx);
    }

    /// Holds a gap for `gap_wait`, then fills it from the store if it is still there.
    pub(super) fn arm_gap_timer(&mut self, ctx: &mut Context<Self>) {
        if self.sync.gap_timer {
            return;
        }
        self.sync.gap_timer = true;
        ctx.run_later(self.config().gap_wait, |act, ctx| {
            act.sync.gap_timer = false;
            if act.seq.has_gap() {
                act.catch_up(ctx);
            }
        });
    }

    /// Reloads roles, bans, mutes, kicks, topic and slow mode from the store (another node changed
    /// them), then delivers `message` (the command's system message) and takes out anyone online
    /// here who is now banned, or who joined before a kick this replica had not heard of. Nothing
    /// else is handled meanwhile, so no request is checked against the old state once the change
    /// was announced.
    pub(super) fn resync_state(&mut self, ctx: &mut Context<Self>, message: Option<MessageView>) {
        let id = self.id;
        self.env
            .readers
            .query(move |store| store.load_room(id, 0))
            .into_actor(self)
            .map(move |result, act, ctx| match result {
                Ok(Some(snapshot)) => act.guarded(ctx, |act, ctx| {
                    let delivered = act.info.last_seq;
                    let kicks = missed_kicks(&act.members, &snapshot.members);
                    act.info = snapshot.info;
                    act.info.last_seq = delivered;
                    act.members = snapshot.members;
                    act.bot_commands = snapshot.commands;
                    if let Some(message) = message {
                        act.deliver(ctx, message);
                    }
                    for (user, at) in kicks {
                        act.remove_joined_by(user, at);
                    }
                    let now = crate::ids::now_ms() as i64;
                    let banned: Vec<_> = act
                        .members
                        .iter()
                        .filter(|(_, m)| m.is_banned(now))
                        .map(|(id, _)| *id)
                        .collect();
                    for user in banned {
                        act.remove_user(user);
                    }
                }),
                Ok(None) => {}
                Err(e) => {
                    warn!(act.log, "reloading room state failed"; "error" => e.0);
                    // The message itself is durable: still delivered (a catch-up would find it).
                    if let Some(message) = message {
                        act.deliver(ctx, message);
                    }
                }
            })
            .wait(ctx);
    }

    /// Every `poll_while_down` while the bus is down, and every `SAFETY_POLLS` of them anyway: a
    /// publish lost without the bus noticing (a half-broken connection, a node that died between
    /// commit and publish before anyone saw it go) reaches members within seconds.
    pub(super) fn poll_store(&mut self, ctx: &mut Context<Self>) {
        if !self.sync.following {
            return;
        }
        self.sync.ticks = self.sync.ticks.wrapping_add(1);
        if self.sync.bus_down || self.sync.ticks % SAFETY_POLLS == 0 {
            self.catch_up(ctx);
        }
    }
}

/// Kicks in `now` (the store) newer than what `known` (this replica) had: (user, when).
fn missed_kicks(
    known: &HashMap<UserId, MemberState>,
    now: &HashMap<UserId, MemberState>,
) -> Vec<(UserId, i64)> {
    now.iter()
        .filter_map(|(user, member)| {
            let at = member.kicked_at?;
            let knew = known.get(user).and_then(|m| m.kicked_at);
            knew.is_none_or(|k| at > k).then_some((*user, at))
        })
        .collect()
}

impl Handler<Subscribed> for Room {
    type Result = ();

    /// Whatever was published before the subscription took effect was missed: ask who is online
    /// elsewhere, and catch up messages and state from the store.
    fn handle(&mut self, _: Subscribed, ctx: &mut Context<Self>) {
        if !self.sync.following {
            return;
        }
        self.sync.bus_down = false;
        self.tell_others(RoomEvent::Hello);
        if self.loaded {
            self.resync_state(ctx, None);
            self.catch_up(ctx);
        }
    }
}

impl Handler<BusState> for Room {
    type Result = ();
    fn handle(&mut self, msg: BusState, _: &mut Context<Self>) {
        self.sync.bus_down = !msg.up;
    }
}

/// A node was seen (again): it needs to hear who is online here, and, if this node had forgotten
/// it (its heartbeats stopped for a while), this node needs to hear who is online there.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct NodeSeen;

impl Handler<NodeSeen> for Room {
    type Result = ();
    fn handle(&mut self, _: NodeSeen, _: &mut Context<Self>) {
        if self.sync.following {
            self.send_roster();
            self.tell_others(RoomEvent::Hello);
        }
    }
}

/// A node stopped or went silent: its members are no longer online.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct NodeGone(pub u16);

impl Handler<NodeGone> for Room {
    type Result = ();
    fn handle(&mut self, msg: NodeGone, ctx: &mut Context<Self>) {
        self.guarded(ctx, |act, ctx| {
            act.presence.forget_node(msg.0);
            // It may have committed messages it never got to publish.
            act.catch_up(ctx);
        });
    }
}
