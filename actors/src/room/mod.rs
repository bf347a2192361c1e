//! The room actor: one per active room. It owns the room's members, presence, typing, moderation
//! state, a ring buffer of recent messages and the fan-out to connections. Writes go through the
//! persistence actors; a message is broadcast and acked only after it committed.
//!
//! Supervised: a panic inside a handler is caught, the actor stops, the supervisor restarts it, and
//! it reloads its state from the store. The online members (their outboxes) survive the restart, so
//! users stay connected.

pub mod commands;
mod moderation;

use crate::ids::{now_ms, MessageId, RoomId, UserId};
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
use serde_json::Value;
use slog::{error, warn, Logger};
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    /// A room with nobody online this long drops its ring buffer (reloaded on the next join).
    pub idle_after: Duration,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            ring_size: 256,
            join_max: 500,
            join_page: 50,
            presence_flush: Duration::from_millis(250),
            idle_after: Duration::from_secs(300),
        }
    }
}

/// The authenticated user behind a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub id: UserId,
    pub username: String,
    /// Power from a global role (admin acts as an owner everywhere, a global moderator as a
    /// moderator); `None` for ordinary users.
    pub global_power: Option<RoomRole>,
    /// What the session's global role allows (checked per command by the connection).
    pub grants: crate::permission::Grants,
}

impl SessionUser {
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

struct Online {
    user: UserRef,
    conns: HashMap<ConnId, Outbox>,
}

pub struct Room {
    id: RoomId,
    info: RoomInfo,
    members: HashMap<UserId, MemberState>,
    online: HashMap<UserId, Online>,
    ring: VecDeque<MessageView>,
    /// False after a restart or hibernation: the next message reloads from the store first.
    loaded: bool,
    persistence: Persistence,
    readers: Readers,
    config: Arc<RoomConfig>,
    log: Logger,
    presence_joined: Vec<UserRef>,
    presence_left: Vec<UserRef>,
    typing: HashMap<UserId, UserRef>,
    flush_scheduled: bool,
    /// Slow mode: when each user last sent.
    last_send: HashMap<UserId, i64>,
    idle_since: Option<Instant>,
}

impl Room {
    pub fn new(
        snapshot: RoomSnapshot,
        persistence: Persistence,
        readers: Readers,
        config: Arc<RoomConfig>,
        log: Logger,
    ) -> Self {
        let mut room = Room {
            id: snapshot.info.id,
            info: snapshot.info.clone(),
            members: HashMap::new(),
            online: HashMap::new(),
            ring: VecDeque::new(),
            loaded: false,
            persistence,
            readers,
            log: log.new(slog::o!("room" => snapshot.info.id.0)),
            config,
            presence_joined: Vec::new(),
            presence_left: Vec::new(),
            typing: HashMap::new(),
            flush_scheduled: false,
            last_send: HashMap::new(),
            idle_since: Some(Instant::now()),
        };
        room.apply_snapshot(snapshot);
        room
    }

    fn apply_snapshot(&mut self, snapshot: RoomSnapshot) {
        self.info = snapshot.info;
        self.members = snapshot.members;
        self.ring = snapshot.recent.into_iter().collect();
        while self.ring.len() > self.config.ring_size {
            self.ring.pop_front();
        }
        self.loaded = true;
    }

    /// Reloads the room from the store, holding every other message until done.
    fn reload(&mut self, ctx: &mut Context<Self>) {
        let id = self.id;
        let recent = self.config.ring_size;
        self.readers
            .query(move |store| store.load_room(id, recent))
            .into_actor(self)
            .map(|result, act, ctx| match result {
                Ok(Some(snapshot)) => act.apply_snapshot(snapshot),
                Ok(None) => {
                    warn!(act.log, "room vanished from the store");
                    act.evict_all();
                    ctx.stop();
                }
                Err(e) => {
                    // Stay unloaded: the next message tries again; this one gets `internal`.
                    error!(act.log, "room reload failed"; "error" => e.0);
                }
            })
            .wait(ctx);
    }

    /// Runs `f`; a panic stops the actor (and the supervisor restarts it from the store).
    /// Also schedules the presence/typing flush if `f` left changes pending.
    fn guarded(&mut self, ctx: &mut Context<Self>, f: impl FnOnce(&mut Self, &mut Context<Self>)) {
        if catch_unwind(AssertUnwindSafe(|| f(self, ctx))).is_err() {
            error!(self.log, "room actor panicked; restarting from the store");
            ctx.stop();
            return;
        }
        if !self.presence_joined.is_empty()
            || !self.presence_left.is_empty()
            || !self.typing.is_empty()
        {
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
        if self.loaded {
            self.guarded(ctx, f);
        } else {
            self.reload(ctx);
            // Spawned after the reload's `wait`, so it runs once the state is back.
            async {}
                .into_actor(self)
                .map(|_, act, ctx| act.guarded(ctx, f))
                .spawn(ctx);
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
        let room_role = if user.id == self.info.owner {
            RoomRole::Owner
        } else {
            self.members
                .get(&user.id)
                .map(|m| m.role)
                .unwrap_or(RoomRole::Member)
        };
        room_role.max(user.global_power.unwrap_or(RoomRole::Member))
    }

    fn is_online(&self, user: UserId, conn: ConnId) -> bool {
        self.online
            .get(&user)
            .is_some_and(|o| o.conns.contains_key(&conn))
    }

    fn broadcast(&mut self, frame: ByteString) {
        let mut dead = Vec::new();
        for (uid, online) in &self.online {
            for (cid, outbox) in &online.conns {
                if !outbox.push(frame.clone()) {
                    dead.push((*uid, *cid));
                }
            }
        }
        for (uid, cid) in dead {
            self.remove_conn(uid, cid);
        }
    }

    fn remove_conn(&mut self, user: UserId, conn: ConnId) {
        if let Some(online) = self.online.get_mut(&user) {
            online.conns.remove(&conn);
            if online.conns.is_empty() {
                if let Some(gone) = self.online.remove(&user) {
                    self.typing.remove(&user);
                    self.presence_left.push(gone.user);
                }
            }
        }
        if self.online.is_empty() {
            self.idle_since = Some(Instant::now());
        }
    }

    /// Tells every connection it is no longer in the room, and forgets them.
    fn evict_all(&mut self) {
        for online in self.online.values() {
            for outbox in online.conns.values() {
                outbox.push(event::left(self.id, None));
            }
        }
        self.online.clear();
    }

    fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            ctx.run_later(self.config.presence_flush, |act, _ctx| {
                act.flush_scheduled = false;
                act.flush_presence();
            });
        }
    }

    /// Sends the batched presence and typing changes: one frame each per flush, whatever the number
    /// of changes, so a busy room costs O(members) per flush, not O(members^2).
    fn flush_presence(&mut self) {
        if !self.presence_joined.is_empty() || !self.presence_left.is_empty() {
            let joined = std::mem::take(&mut self.presence_joined);
            let left = std::mem::take(&mut self.presence_left);
            // Someone who came and went within one flush need not be announced at all.
            let (joined, left): (Vec<_>, Vec<_>) = (
                joined
                    .into_iter()
                    .filter(|u| self.online.contains_key(&u.id))
                    .collect(),
                left.into_iter()
                    .filter(|u| !self.online.contains_key(&u.id))
                    .collect(),
            );
            if !joined.is_empty() || !left.is_empty() {
                self.broadcast(event::presence(self.id, &joined, &left));
            }
        }
        if !self.typing.is_empty() {
            let users: Vec<UserRef> = self.typing.drain().map(|(_, u)| u).collect();
            self.broadcast(event::typing(self.id, &users));
        }
    }

    /// A committed message: into the ring, out to every member.
    fn publish(&mut self, message: &MessageView) {
        if message.seq > self.info.last_seq {
            self.info.last_seq = message.seq;
        }
        self.ring.push_back(message.clone());
        while self.ring.len() > self.config.ring_size {
            self.ring.pop_front();
        }
        self.broadcast(event::message(message));
    }

    fn update_ring(&mut self, message: &MessageView) {
        if let Some(slot) = self.ring.iter_mut().find(|m| m.id == message.id) {
            *slot = message.clone();
        }
    }

    fn members_online(&self) -> Vec<UserRef> {
        self.online.values().map(|o| o.user.clone()).collect()
    }

    fn add_online(&mut self, conn: &ConnHandle) {
        let entry = self.online.entry(conn.user.id).or_insert_with(|| Online {
            user: conn.user.user_ref(),
            conns: HashMap::new(),
        });
        let first = entry.conns.is_empty();
        entry.conns.insert(conn.id(), conn.outbox.clone());
        if first {
            self.presence_joined.push(conn.user.user_ref());
        }
        self.idle_since = None;
    }

    /// Submits writes on this room's persistence shard and hands the outcome to `then`.
    fn persist(
        &mut self,
        ctx: &mut Context<Self>,
        writes: Vec<Write>,
        then: impl FnOnce(&mut Self, &mut Context<Self>, Result<Vec<Applied>, WriteError>) + 'static,
    ) {
        self.persistence
            .submit(Some(self.id), writes)
            .into_actor(self)
            .map(move |result, act, ctx| act.guarded(ctx, |act, ctx| then(act, ctx, result)))
            .spawn(ctx);
    }

    fn check_idle(&mut self) {
        if let Some(since) = self.idle_since {
            if self.online.is_empty() && since.elapsed() >= self.config.idle_after && self.loaded {
                // Hibernate: keep the actor (cheap) but let go of the ring buffer.
                self.ring = VecDeque::new();
                self.last_send.clear();
                self.loaded = false;
            }
        }
    }
}

/// Maps a failed write to what the client is told.
pub(crate) fn write_error(e: WriteError) -> ProtoError {
    match e {
        WriteError::NotFound(m) => ProtoError::not_found(m),
        WriteError::Invalid(m) => ProtoError::bad_request(m),
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
        ctx.run_interval(Duration::from_secs(30), |act, _| act.check_idle());
        if !self.loaded {
            self.reload(ctx);
        }
    }
}

impl Supervised for Room {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        // The store is the truth; memory may be inconsistent after a panic.
        self.loaded = false;
        self.flush_scheduled = false;
    }
}

/// Join the room. The room answers the connection itself: `joined`, or an `error`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Join {
    pub conn: ConnHandle,
    pub since: Option<i64>,
    pub reference: Option<Value>,
}

impl Handler<Join> for Room {
    type Result = ();

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) {
        self.when_loaded(ctx, |act, ctx| act.join(ctx, msg));
    }
}

impl Room {
    fn join(&mut self, ctx: &mut Context<Self>, msg: Join) {
        let r = msg.reference.as_ref();
        if self.unavailable(&msg.conn, r) {
            return;
        }
        let now = now_ms() as i64;
        let user = &msg.conn.user;
        let role = self.role_of(user);
        let member = self.members.get(&user.id);
        if member.is_some_and(|m| m.is_banned(now)) && role < RoomRole::Moderator {
            return msg
                .conn
                .error(&ProtoError::forbidden("you are banned from this room"), r);
        }
        if self.info.private && member.is_none() && role < RoomRole::Moderator {
            return msg.conn.error(
                &ProtoError::forbidden("this room is private: ask a moderator to /invite you"),
                r,
            );
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
            None => (last + 1 - self.config.join_page as i64).max(1),
        };
        let missed = (last + 1 - wanted_from).max(0) as usize;
        if wanted_from >= ring_first || missed == 0 {
            let messages: Vec<MessageView> = self
                .ring
                .iter()
                .filter(|m| m.seq >= wanted_from)
                .skip(missed.saturating_sub(self.config.join_max))
                .cloned()
                .collect();
            return self.finish_join(&msg, messages);
        }
        // Too far back for the ring: the newest `join_max` from the store; the client pages further
        // back with `history`.
        let id = self.id;
        let limit = self.config.join_max;
        self.readers
            .query(move |store| store.messages_before(id, last + 1, limit))
            .into_actor(self)
            .map(move |result, act, ctx| {
                act.guarded(ctx, |act, _| match result {
                    Ok(mut messages) => {
                        messages.reverse();
                        messages.retain(|m| m.seq >= wanted_from);
                        // Anything committed while we read is in the ring.
                        let newest = messages.last().map(|m| m.seq).unwrap_or(wanted_from - 1);
                        messages.extend(act.ring.iter().filter(|m| m.seq > newest).cloned());
                        act.finish_join(&msg, messages);
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

    fn finish_join(&mut self, msg: &Join, messages: Vec<MessageView>) {
        self.add_online(&msg.conn);
        let members = self.members_online();
        msg.conn.outbox.push(event::joined(
            self.id,
            self.info.last_seq,
            &members,
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

/// A `send` frame (a message or a slash command).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendMessage {
    pub conn: ConnHandle,
    pub body: String,
    pub client_id: String,
    pub thread: Option<MessageId>,
    pub reference: Option<Value>,
}

impl Handler<SendMessage> for Room {
    type Result = ();

    fn handle(&mut self, msg: SendMessage, ctx: &mut Context<Self>) {
        self.when_loaded(ctx, |act, ctx| act.send_message(ctx, msg));
    }
}

impl Room {
    fn send_message(&mut self, ctx: &mut Context<Self>, msg: SendMessage) {
        let conn = &msg.conn;
        let r = msg.reference.as_ref();
        if self.unavailable(conn, r) {
            return;
        }
        if !self.is_online(conn.user.id, conn.id()) {
            return conn.error(&ProtoError::forbidden("join the room first"), r);
        }
        let now = now_ms() as i64;
        let role = self.role_of(&conn.user);
        if let Some(member) = self.members.get(&conn.user.id) {
            if member.is_banned(now) && role < RoomRole::Moderator {
                return conn.error(&ProtoError::forbidden("you are banned from this room"), r);
            }
        }
        if msg.body.starts_with('/') {
            return moderation::run(self, ctx, msg);
        }
        if let Some(member) = self.members.get(&conn.user.id) {
            if member.is_muted(now) && role < RoomRole::Moderator {
                return conn.error(&ProtoError::forbidden("you are muted in this room"), r);
            }
        }
        if self.info.slow_mode_s > 0 && role < RoomRole::Moderator {
            if let Some(last) = self.last_send.get(&conn.user.id) {
                let wait_ms = last + self.info.slow_mode_s * 1000 - now;
                if wait_ms > 0 {
                    let secs = (wait_ms + 999) / 1000;
                    return conn.error(
                        &ProtoError::new(
                            ErrorCode::RateLimited,
                            format!("slow mode: wait {secs} s"),
                        ),
                        r,
                    );
                }
            }
            self.last_send.insert(conn.user.id, now);
        }
        let write = Write::Message {
            room: self.id,
            author: conn.user.user_ref(),
            kind: MessageKind::User,
            body: msg.body.clone(),
            client_id: Some(msg.client_id.clone()),
            thread: msg.thread,
        };
        self.commit_message(
            ctx,
            vec![write],
            msg.conn,
            msg.client_id,
            msg.reference,
            |_, _| {},
        );
    }

    /// Commits writes ending in a message, then publishes it, acks the author and runs `after`.
    pub(crate) fn commit_message(
        &mut self,
        ctx: &mut Context<Self>,
        writes: Vec<Write>,
        conn: ConnHandle,
        client_id: String,
        reference: Option<Value>,
        after: impl FnOnce(&mut Self, &MessageView) + 'static,
    ) {
        self.persist(ctx, writes, move |act, _ctx, result| {
            let r = reference.as_ref();
            match result {
                Ok(applied) => match applied.into_iter().last() {
                    Some(Applied::Message { message, duplicate }) => {
                        // The author hears "durable" first, then sees it arrive like everyone.
                        conn.outbox.push(event::ack(&client_id, &message, r));
                        if !duplicate {
                            act.publish(&message);
                            after(act, &message);
                        }
                    }
                    _ => conn.error(&ProtoError::internal(), r),
                },
                Err(e) => conn.error(&write_error(e), r),
            }
        });
    }
}

/// Edit, delete or react to a message in this room. `author` was looked up from the store.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChangeMessage {
    pub conn: ConnHandle,
    pub message: MessageId,
    pub author: UserId,
    pub change: Change,
    pub reference: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum Change {
    Edit(String),
    Delete,
    React(String),
}

impl Handler<ChangeMessage> for Room {
    type Result = ();

    fn handle(&mut self, msg: ChangeMessage, ctx: &mut Context<Self>) {
        self.when_loaded(ctx, |act, ctx| act.change_message(ctx, msg));
    }
}

impl Room {
    fn change_message(&mut self, ctx: &mut Context<Self>, msg: ChangeMessage) {
        let conn = msg.conn.clone();
        let r = msg.reference.clone();
        if self.unavailable(&conn, r.as_ref()) {
            return;
        }
        if !self.is_online(conn.user.id, conn.id()) {
            return conn.error(&ProtoError::forbidden("join the room first"), r.as_ref());
        }
        let now = now_ms() as i64;
        let role = self.role_of(&conn.user);
        let is_author = msg.author == conn.user.id;
        let member = self.members.get(&conn.user.id);
        if member.is_some_and(|m| m.is_banned(now) || m.is_muted(now)) && role < RoomRole::Moderator
        {
            return conn.error(
                &ProtoError::forbidden("you are muted or banned in this room"),
                r.as_ref(),
            );
        }
        let write = match &msg.change {
            Change::Edit(body) if is_author => Write::Edit {
                message: msg.message,
                body: body.clone(),
            },
            Change::Edit(_) => {
                return conn.error(
                    &ProtoError::forbidden("only the author may edit a message"),
                    r.as_ref(),
                )
            }
            Change::Delete if is_author || role >= RoomRole::Moderator => Write::Delete {
                message: msg.message,
            },
            Change::Delete => {
                return conn.error(
                    &ProtoError::forbidden("only the author or a moderator may delete a message"),
                    r.as_ref(),
                )
            }
            Change::React(emoji) => Write::React {
                message: msg.message,
                user: conn.user.id,
                emoji: emoji.clone(),
            },
        };
        let react = matches!(msg.change, Change::React(_));
        let mut writes = vec![write];
        if matches!(msg.change, Change::Delete) && !is_author {
            writes.push(Write::Audit(crate::store::AuditRecord {
                actor: Some(conn.user.id),
                action: "room.delete_message".into(),
                target_user: Some(msg.author),
                room: Some(self.id),
                details: Some(serde_json::json!({"message": msg.message.to_string()}).to_string()),
            }));
        }
        self.persist(ctx, writes, move |act, _ctx, result| match result {
            Ok(applied) => match applied.into_iter().next() {
                Some(Applied::Updated(view)) => {
                    act.update_ring(&view);
                    let frame = if react {
                        event::reaction(&view)
                    } else {
                        event::message_updated(&view)
                    };
                    act.broadcast(frame);
                }
                Some(Applied::Deleted { room, message }) => {
                    if let Some(slot) = act.ring.iter_mut().find(|m| m.id == message) {
                        slot.deleted = true;
                        slot.body.clear();
                    }
                    act.broadcast(event::message_deleted(room, message));
                }
                _ => conn.error(&ProtoError::internal(), r.as_ref()),
            },
            Err(e) => conn.error(&write_error(e), r.as_ref()),
        });
    }
}

/// `typing` from a connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Typing {
    pub conn: ConnHandle,
}

impl Handler<Typing> for Room {
    type Result = ();

    fn handle(&mut self, msg: Typing, ctx: &mut Context<Self>) {
        if self.is_online(msg.conn.user.id, msg.conn.id()) {
            self.typing
                .insert(msg.conn.user.id, msg.conn.user.user_ref());
            self.schedule_flush(ctx);
        }
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
        self.readers
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

/// Room stats for the registry.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct OnlineCount;

impl Handler<OnlineCount> for Room {
    type Result = usize;
    fn handle(&mut self, _: OnlineCount, _: &mut Context<Self>) -> usize {
        self.online.values().map(|o| o.conns.len()).sum()
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

/// An event from a stream linked to this room (`stream_state`, `now_playing`), for every member.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StreamNotice(pub ByteString);

impl Handler<StreamNotice> for Room {
    type Result = ();
    fn handle(&mut self, msg: StreamNotice, _: &mut Context<Self>) {
        self.broadcast(msg.0);
    }
}
