//! The room actor: one replica per room on every node where the room has members online. It owns
//! the room's members, presence, typing, moderation state, a ring buffer of recent messages and
//! the fan-out to this node's connections. Writes go through the persistence actors; a message is
//! acked and delivered only after it committed, and replicas on other nodes hear of it over the bus
//! (`sync.rs`), so every member on every node sees it once, in `seq` order.
//!
//! Supervised in place: a panic inside a handler is caught, the room forgets everything but who is
//! online and reloads its state from the store (a restart without a new actor, so no connection's
//! address goes stale and nobody is disconnected). The registry stops a room that has had nobody
//! online for a while (`TryRetire`).

pub mod bot_commands;
mod changes;
pub mod command_replies;
pub mod commands;
mod conversation;
pub mod fanout;
mod join;
mod moderation;
mod posts;
mod presence;
mod reads;
mod send;
pub mod sequencer;
mod spans;
mod sync;

pub use bot_commands::RegisterCommands;
pub use changes::{Change, ChangeMessage};
pub use command_replies::ReplyToCommand;
pub use join::{History, Join, Leave, PageFromRing, RingPage};
pub use posts::Post;
pub use presence::Typing;
pub use reads::MarkRead;
pub use send::SendMessage;
pub use sync::{NodeGone, NodeSeen, RoomBusEvent};

use crate::bus::{SharedBus, Topic};
use crate::ids::{RoomId, UserId};
use crate::model::{
    MemberState, MessageKind, MessageView, RoomInfo, RoomRole, RoomSnapshot, UserRef,
};
use crate::outbox::{ConnId, Outbox};
use crate::persistence::Persistence;
use crate::protocol::{event, ErrorCode, ProtoError};
use crate::reader::Readers;
use crate::store::{Applied, Write, WriteError};
use actix::prelude::*;
use bytestring::ByteString;
use fanout::{Envelope, RoomEvent};
use sequencer::Sequencer;
use serde_json::Value;
use slog::{error, warn, Logger};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A large room's presence goes out this many times less often than a small one's.
pub const LARGE_ROOM_FLUSH_FACTOR: u32 = 8;

/// Tunables shared by every room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Recent messages kept in memory for joins and reconnects.
    pub ring_size: usize,
    /// Most messages a `joined` carries; older ones are fetched with `history`.
    pub join_max: usize,
    /// Messages in a `joined` without `since`.
    pub join_page: usize,
    /// How often batched presence and typing updates go out.
    pub presence_flush: Duration,
    /// A room with more users online than this is large: `joined` lists only this many of them
    /// and `presence` carries the count alone, every [`LARGE_ROOM_FLUSH_FACTOR`] flush periods, so
    /// a crowd joining at once costs O(members) per flush, not O(members^2) in all.
    pub presence_list_max: usize,
    /// A room with nobody online this long stops (started again on the next join).
    pub idle_after: Duration,
    /// How long a message that arrived ahead of a missing seq is held before the room fills the
    /// gap from the store.
    pub gap_wait: Duration,
    /// How often a room with members online polls the store while the bus is down.
    pub poll_while_down: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            ring_size: 256,
            join_max: 500,
            join_page: 50,
            presence_flush: Duration::from_millis(250),
            presence_list_max: 500,
            idle_after: Duration::from_secs(300),
            gap_wait: Duration::from_millis(200),
            poll_while_down: Duration::from_secs(1),
        }
    }
}

/// The authenticated user behind a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub id: UserId,
    pub username: String,
    /// The login (refresh-token family) the socket was opened with, for revocation.
    pub session: i64,
    /// Power from a global role (admin acts as an owner everywhere, a global moderator as a
    /// moderator); `None` for ordinary users.
    pub global_power: Option<RoomRole>,
    /// What the session's global role allows (checked per command by the connection).
    pub grants: crate::permission::Grants,
    /// That global role's name as the store has it: the registry's session check closes the
    /// socket once the user's role is another (a role change it did not hear of).
    pub role: String,
}

impl SessionUser {
    /// A bot account's socket (global role `bot`).
    pub fn is_bot(&self) -> bool {
        self.role == "bot"
    }

    pub fn user_ref(&self) -> UserRef {
        UserRef {
            id: self.id,
            username: self.username.clone(),
        }
    }
}

/// A connection as a room sees it: where to push frames.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    pub user: SessionUser,
    pub outbox: Outbox,
}

impl ConnHandle {
    pub fn id(&self) -> ConnId {
        self.outbox.id
    }

    fn error(&self, e: &ProtoError, reference: Option<&Value>) {
        self.outbox.push(event::error(e, reference));
    }
}

/// What a room needs from its node.
#[derive(Clone)]
pub struct RoomEnv {
    pub persistence: Persistence,
    pub readers: Readers,
    pub config: Arc<RoomConfig>,
    pub bus: SharedBus,
    /// This node's id (on the bus, so replicas ignore their own publishes).
    pub node: u16,
    /// Told when the room has been idle long enough to stop.
    pub idle: Recipient<RoomIdle>,
    /// Frames for users' sockets on every node (mentions, unread counts).
    pub users: Recipient<crate::registry::ToUsers>,
    pub log: Logger,
}

pub struct Room {
    id: RoomId,
    info: RoomInfo,
    members: HashMap<UserId, MemberState>,
    presence: presence::Presence,
    ring: VecDeque<MessageView>,
    /// Delivery in seq order; `info.last_seq` follows it.
    seq: Sequencer,
    /// False after a restart, or while nobody is online on a clustered node (the replica then
    /// stops following the bus): the next request reloads from the store first.
    loaded: bool,
    sync: sync::SyncState,
    env: RoomEnv,
    log: Logger,
    /// Slow mode: when each user last sent (on this node).
    last_send: HashMap<UserId, i64>,
    /// After a restart with members online: the seq they had seen (the reload resumes there).
    resume_after: Option<i64>,
    idle_since: Option<Instant>,
    /// Commands bots registered here, sorted by name.
    bot_commands: Vec<crate::model::BotCommand>,
    /// Invocations their bots may still answer privately.
    replies: command_replies::PendingReplies,
    /// Read markers waiting for the next write.
    reads: reads::PendingReads,
}

impl Room {
    pub fn new(snapshot: RoomSnapshot, env: RoomEnv) -> Self {
        let mut room = Room {
            id: snapshot.info.id,
            info: snapshot.info.clone(),
            members: HashMap::new(),
            presence: presence::Presence::default(),
            ring: VecDeque::new(),
            seq: Sequencer::new(snapshot.info.last_seq),
            loaded: false,
            sync: sync::SyncState::default(),
            log: env.log.new(slog::o!("room" => snapshot.info.id.0)),
            env,
            last_send: HashMap::new(),
            resume_after: None,
            idle_since: Some(Instant::now()),
            bot_commands: Vec::new(),
            replies: command_replies::PendingReplies::default(),
            reads: reads::PendingReads::default(),
        };
        room.info = snapshot.info;
        room.members = snapshot.members;
        room.ring = snapshot.recent.into_iter().collect();
        room.bot_commands = snapshot.commands;
        room.loaded = true;
        room
    }

    fn config(&self) -> &RoomConfig {
        &self.env.config
    }

    fn apply_snapshot(&mut self, ctx: &mut Context<Self>, snapshot: RoomSnapshot) {
        self.info = snapshot.info;
        self.members = snapshot.members;
        self.bot_commands = snapshot.commands;
        self.ring = snapshot.recent.into_iter().collect();
        while self.ring.len() > self.config().ring_size {
            self.ring.pop_front();
        }
        self.loaded = true;
        match self.resume_after.take() {
            // Members stayed online through a restart: they have seen up to `delivered`; what
            // was committed meanwhile is delivered to them from the store, not skipped.
            Some(delivered) if delivered < self.info.last_seq => {
                self.ring.retain(|m| m.seq <= delivered);
                self.info.last_seq = delivered;
                self.seq = Sequencer::new(delivered);
                self.catch_up(ctx);
            }
            _ => self.seq = Sequencer::new(self.info.last_seq),
        }
    }

    /// Reloads the room from the store, holding every other message until done.
    fn reload(&mut self, ctx: &mut Context<Self>) {
        self.reload_then(ctx, |_, _| {});
    }

    /// Reloads, then runs `then` inside the same wait: no message of the mailbox (a frame the
    /// client sent right after its join, a retirement) is handled between the two.
    fn reload_then(
        &mut self,
        ctx: &mut Context<Self>,
        then: impl FnOnce(&mut Self, &mut Context<Self>) + 'static,
    ) {
        let id = self.id;
        let recent = self.config().ring_size;
        self.env
            .readers
            .query(move |store| store.load_room(id, recent))
            .into_actor(self)
            .map(|result, act, ctx| {
                match result {
                    Ok(Some(snapshot)) => act.apply_snapshot(ctx, snapshot),
                    Ok(None) => {
                        warn!(act.log, "room vanished from the store");
                        act.evict_all();
                        ctx.stop();
                        return;
                    }
                    Err(e) => {
                        // Stay unloaded: `then` sees it and answers `internal`; members online
                        // must not go deaf, so try again soon.
                        error!(act.log, "room reload failed"; "error" => e.0);
                        if !act.presence.local_is_empty() {
                            ctx.run_later(Duration::from_secs(1), |act, ctx| {
                                if !act.loaded {
                                    act.reload(ctx);
                                }
                            });
                        }
                    }
                }
                act.guarded(ctx, then);
            })
            .wait(ctx);
    }

    /// Runs `f`; a panic stops the actor (and the supervisor restarts it from the store).
    /// Also schedules the presence/typing flush if `f` left changes pending.
    fn guarded(&mut self, ctx: &mut Context<Self>, f: impl FnOnce(&mut Self, &mut Context<Self>)) {
        if catch_unwind(AssertUnwindSafe(|| f(self, ctx))).is_err() {
            error!(self.log, "room actor panicked; restarting from the store");
            self.restart_in_place(ctx);
            return;
        }
        if self.presence.has_pending() {
            self.schedule_flush(ctx);
        }
    }

    /// Runs `f` once the room's state is loaded (at once in the common case; after a reload from
    /// the store after a restart or hibernation). `f` must check `loaded` if the reload failed.
    fn when_loaded(
        &mut self,
        ctx: &mut Context<Self>,
        f: impl FnOnce(&mut Self, &mut Context<Self>) + 'static,
    ) {
        // On a cluster node a replica that does not follow the bus may be stale: reload it.
        let current = self.loaded && (self.sync.following || !self.env.bus.is_clustered());
        if current {
            self.guarded(ctx, f);
        } else {
            self.reload_then(ctx, f);
        }
    }

    /// Refuses work while the state could not be loaded.
    fn unavailable(&self, conn: &ConnHandle, reference: Option<&Value>) -> bool {
        if !self.loaded {
            conn.error(&ProtoError::internal(), reference);
        }
        !self.loaded
    }

    /// The caller's power here: the higher of the room role and any global role.
    fn role_of(&self, user: &SessionUser) -> RoomRole {
        // A conversation's members are equals (its opener does not own it).
        let room_role = if self.info.kind.is_conversation() {
            RoomRole::Member
        } else if user.id == self.info.owner {
            RoomRole::Owner
        } else {
            self.members
                .get(&user.id)
                .map(|m| m.role)
                .unwrap_or(RoomRole::Member)
        };
        room_role.max(user.global_power.unwrap_or(RoomRole::Member))
    }

    /// Pushes a frame to every connection of this node in the room.
    fn broadcast(&mut self, frame: ByteString) {
        let dead = self.presence.push_all(&frame);
        for (uid, cid) in dead {
            self.remove_conn(uid, cid);
        }
    }

    /// Tells the other nodes' replicas.
    fn tell_others(&self, event: RoomEvent) {
        if self.env.bus.is_clustered() {
            let envelope = Envelope::new(self.env.node, event);
            self.env
                .bus
                .publish(Topic::Room(self.id), envelope.encode());
        }
    }

    /// Tells every connection it is no longer in the room, and forgets them.
    fn evict_all(&mut self) {
        let frame = event::left(self.id, None);
        self.presence.push_all(&frame);
        self.presence.clear_local();
    }

    /// A committed message (ours, another node's, or from the store): delivered in seq order.
    fn deliver(&mut self, ctx: &mut Context<Self>, message: MessageView) {
        for message in self.seq.offer(message) {
            self.info.last_seq = message.seq;
            self.count_for_slow_mode(&message);
            self.broadcast(event::message(&message));
            self.ring.push_back(message);
            while self.ring.len() > self.config().ring_size {
                self.ring.pop_front();
            }
        }
        if self.seq.has_gap() {
            self.arm_gap_timer(ctx);
        }
    }

    /// Slow mode holds across nodes: a message its author sent through another node starts the
    /// author's interval here too (from the commit's time), so a second socket on another node
    /// cannot send again within it once the first message has arrived (the event's travel time).
    fn count_for_slow_mode(&mut self, message: &MessageView) {
        if self.info.slow_mode_s == 0 || message.kind != MessageKind::User {
            return;
        }
        let last = self.last_send.entry(message.author.id).or_insert(0);
        *last = (*last).max(message.created_at);
    }

    /// Puts an edited or reacted-to message in the ring, or in the sequencer if it is still held
    /// back: true then, and the change is not shown on its own (the message goes out with it).
    fn update_ring(&mut self, message: &MessageView) -> bool {
        if self
            .seq
            .patch_held(message.id, |held| *held = message.clone())
        {
            return true;
        }
        if let Some(slot) = self.ring.iter_mut().find(|m| m.id == message.id) {
            *slot = message.clone();
        }
        false
    }

    /// As [`Room::update_ring`], for a deletion.
    fn mark_deleted(&mut self, message: crate::ids::MessageId) -> bool {
        let erase = |m: &mut MessageView| {
            m.deleted = true;
            m.body.clear();
            // Its files are on their way out (the grace period): nobody is shown them again.
            m.attachments.clear();
        };
        if self.seq.patch_held(message, erase) {
            return true;
        }
        if let Some(slot) = self.ring.iter_mut().find(|m| m.id == message) {
            erase(slot);
        }
        false
    }

    /// Submits writes on this room's persistence shard and hands the outcome to `then`.
    fn persist(
        &mut self,
        ctx: &mut Context<Self>,
        writes: Vec<Write>,
        then: impl FnOnce(&mut Self, &mut Context<Self>, Result<Vec<Applied>, WriteError>) + 'static,
    ) {
        self.env
            .persistence
            .submit(Some(self.id), writes)
            .into_actor(self)
            .map(move |result, act, ctx| act.guarded(ctx, |act, ctx| then(act, ctx, result)))
            .spawn(ctx);
    }

    /// What a supervisor restart would do, without a new actor: the store is the truth, memory may
    /// be inconsistent after a panic.
    fn restart_in_place(&mut self, ctx: &mut Context<Self>) {
        if !self.presence.local_is_empty() && self.loaded {
            self.resume_after = Some(self.seq.delivered());
        }
        self.loaded = false;
        self.presence.restart();
        self.last_send.clear();
        self.sync = self.sync.after_restart();
        self.reload(ctx);
    }

    fn check_idle(&mut self, ctx: &mut Context<Self>) {
        if let Some(since) = self.idle_since {
            if self.presence.local_is_empty() && since.elapsed() >= self.config().idle_after {
                self.env.idle.do_send(RoomIdle(self.id, ctx.address()));
            }
        }
    }
}

/// Maps a failed write to what the client is told.
pub(crate) fn write_error(e: WriteError) -> ProtoError {
    match e {
        WriteError::NotFound(m) => ProtoError::not_found(m),
        WriteError::Invalid(m) => ProtoError::bad_request(m),
        WriteError::Forbidden(m) => ProtoError::forbidden(m),
        WriteError::Unavailable(_) => ProtoError::new(
            ErrorCode::Internal,
            "the store is unavailable; retry with the same client_id",
        ),
    }
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
        let idle_check = (self.config().idle_after / 4)
            .clamp(Duration::from_millis(100), Duration::from_secs(30));
        ctx.run_interval(idle_check, |act, ctx| act.check_idle(ctx));
        let poll = self.config().poll_while_down;
        ctx.run_interval(poll, |act, ctx| act.poll_store(ctx));
        if !self.loaded {
            self.reload(ctx);
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if self.sync.following {
            self.env.bus.unsubscribe(Topic::Room(self.id));
        }
    }
}

/// The room has had nobody online for `idle_after`: the registry may stop it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomIdle(pub RoomId, pub Addr<Room>);

/// Stops the room if nobody is online (answers whether it stopped). The registry goes on routing
/// meanwhile: a join either reached the room before (and keeps it alive) or finds its mailbox
/// closed and asks the registry again, which then starts a fresh actor.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct TryRetire;

impl Handler<TryRetire> for Room {
    type Result = bool;
    fn handle(&mut self, _: TryRetire, ctx: &mut Context<Self>) -> bool {
        let idle = self.presence.local_is_empty() && self.idle_since.is_some();
        if idle {
            ctx.stop();
        }
        idle
    }
}

/// Room stats for the registry.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct OnlineCount;

impl Handler<OnlineCount> for Room {
    type Result = usize;
    fn handle(&mut self, _: OnlineCount, _: &mut Context<Self>) -> usize {
        self.presence.local_conn_count()
    }
}

/// Makes the room panic inside a handler. Only for tests of supervision; not reachable from any
/// client frame.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Poison;

impl Handler<Poison> for Room {
    type Result = ();
    fn handle(&mut self, _: Poison, ctx: &mut Context<Self>) {
        self.guarded(ctx, |_, _| panic!("poisoned on purpose"));
    }
}

/// Everyone in the room gets `left` (the server is shutting down or the room is gone).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Evict;

impl Handler<Evict> for Room {
    type Result = ();
    fn handle(&mut self, _: Evict, _: &mut Context<Self>) {
        self.evict_all();
    }
}

/// An event from a stream linked to this room (`stream_state`, `now_playing`), for every member
/// on every node.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StreamNotice(pub ByteString);

impl Handler<StreamNotice> for Room {
    type Result = ();
    fn handle(&mut self, msg: StreamNotice, _: &mut Context<Self>) {
        self.tell_others(RoomEvent::Notice {
            frame: msg.0.to_string(),
        });
        self.broadcast(msg.0);
    }
}
