//! The connection actor: one per WebSocket. It owns the socket's read side (frames arrive through
//! `ctx.add_stream`), the outbox its rooms push into, the heartbeat, and the per-connection rate
//! limits. It parses frames and routes them; rooms answer the client directly through the outbox.
//!
//! Memory per idle connection is kept small on purpose (see docs/benchmarks.md, "Memory per idle
//! connection"): frames are decoded straight from the request payload ([`ClientFrames`], no
//! buffer kept between frames), the outbox is drained by the response body itself (no writer
//! task, no second channel), and the log context is added per line instead of building a child
//! logger per connection.

use crate::frames::{is_invalid_text, ClientFrames, ClientMessage, Inbound};
use crate::ids::RoomId;
use crate::outbox::{ConnId, Outbox, OutboxBody, WriterExit};
use crate::protocol::{event, parse_frame, ClientFrame, ErrorCode, ProtoError};
use crate::ratelimit::TokenBucket;
use crate::reader::Readers;
use crate::registry::{Connect, Disconnect, GetRoom, Registry};
use crate::room::{
    Change, ChangeMessage, ConnHandle, History, Join, Leave, MarkRead, RegisterCommands,
    ReplyToCommand, Room, SendMessage, SessionUser, Typing,
};
use actix::prelude::*;
use actix_http::ws::ProtocolError;
use actix_http::Payload;
use serde_json::Value;
use slog::{debug, Logger};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The one answer for an unknown message id and for a message in a room the user is not in, so
/// other rooms' message ids cannot be probed.
pub(crate) const NO_SUCH_MESSAGE: &str = "no such message in a room you have joined";

/// Per-connection limits and timers.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// How often the server pings.
    pub heartbeat: Duration,
    /// A client silent this long is dropped (and removed from every room).
    pub client_timeout: Duration,
    /// `send`/`edit`/`delete`/`react` per second, and the burst allowed.
    pub send_rate: f64,
    pub send_burst: f64,
    /// The same for bots (sockets of users with the `bot` role): a bot answers for a room.
    pub bot_send_rate: f64,
    pub bot_send_burst: f64,
    /// Frames of any kind per second (a flood guard), and its burst.
    pub frame_rate: f64,
    pub frame_burst: f64,
    /// Frames that may wait for a slow client before it is cut off with 1013.
    pub outbound_queue: usize,
    /// Largest text frame accepted; larger closes with 1009.
    pub max_frame_bytes: usize,
    /// Default page for `history` without `limit`.
    pub history_page: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            client_timeout: Duration::from_secs(45),
            send_rate: 20.0,
            send_burst: 40.0,
            bot_send_rate: 50.0,
            bot_send_burst: 100.0,
            frame_rate: 100.0,
            frame_burst: 200.0,
            outbound_queue: 1024,
            max_frame_bytes: 64 * 1024,
            history_page: 50,
        }
    }
}

/// `send`-class frames per second and burst for this socket's user (bots have their own).
fn send_limits(config: &ConnectionConfig, user: &SessionUser) -> (f64, f64) {
    if user.role == "bot" {
        (config.bot_send_rate, config.bot_send_burst)
    } else {
        (config.send_rate, config.send_burst)
    }
}

/// The flood guard on all frames, never below five times the send limit it must not undercut.
fn frame_limits(config: &ConnectionConfig, user: &SessionUser) -> (f64, f64) {
    let (rate, burst) = send_limits(config, user);
    (
        config.frame_rate.max(rate * 5.0),
        config.frame_burst.max(burst * 5.0),
    )
}

/// What all the connections of a server share: one allocation per server instead of an address
/// clone (two allocations each) per connection and per actor it talks to.
pub struct ConnectionEnv {
    pub registry: Addr<Registry>,
    pub readers: Readers,
    pub config: Arc<ConnectionConfig>,
    /// The server's logger: each line adds `conn` and `user_id` itself (a child logger per
    /// connection would be a few allocations kept for the socket's whole life).
    pub log: Logger,
}

pub struct Connection {
    user: SessionUser,
    outbox: Outbox,
    env: Arc<ConnectionEnv>,
    rooms: Rooms,
    sends: TokenBucket,
    frames: TokenBucket,
    last_seen: Instant,
}

/// The rooms this socket joined. A client is in a few rooms, so a short list, sized exactly
/// (an empty or one-room list costs what a `HashMap`'s first bucket array would not).
#[derive(Default)]
struct Rooms(Vec<(RoomId, Addr<Room>)>);

impl Rooms {
    fn get(&self, room: &RoomId) -> Option<&Addr<Room>> {
        self.0
            .iter()
            .find(|(id, _)| id == room)
            .map(|(_, addr)| addr)
    }

    fn remove(&mut self, room: &RoomId) -> Option<Addr<Room>> {
        let i = self.0.iter().position(|(id, _)| id == room)?;
        let (_, addr) = self.0.swap_remove(i);
        if self.0.is_empty() {
            self.0 = Vec::new();
        }
        Some(addr)
    }

    fn insert(&mut self, room: RoomId, addr: Addr<Room>) {
        if let Some(slot) = self.0.iter_mut().find(|(id, _)| *id == room) {
            slot.1 = addr;
            return;
        }
        if self.0.len() == self.0.capacity() {
            self.0.reserve_exact(self.0.len().max(1));
        }
        self.0.push((room, addr));
    }

    fn drain(&mut self) -> impl Iterator<Item = (RoomId, Addr<Room>)> {
        std::mem::take(&mut self.0).into_iter()
    }
}

/// Logs at debug level with this connection's `conn` and `user_id`.
macro_rules! conn_debug {
    ($act:expr, $msg:literal $(; $($kv:tt)*)?) => {
        debug!($act.env.log, $msg; "conn" => $act.outbox.id.0, "user_id" => $act.user.id.0 $(, $($kv)*)?)
    };
}

mod control;
pub use control::{Push, SessionEnded, ShutdownClose};

impl Connection {
    /// Starts the actor for an upgraded socket. `payload` is the upgrade request's body (the
    /// client's frames); the returned body is the `101` response's (the frames to the client): the
    /// HTTP dispatcher drains the outbox through it.
    pub fn start(payload: Payload, user: SessionUser, env: Arc<ConnectionEnv>) -> OutboxBody {
        let config = &env.config;
        let (outbox, body) = Outbox::new(ConnId::next(), config.outbound_queue);
        let frames = ClientFrames::new(
            payload,
            config.max_frame_bytes,
            outbox.watch(),
            config.heartbeat,
        );
        let sends = TokenBucket::new(send_limits(config, &user).1);
        let frames_bucket = TokenBucket::new(frame_limits(config, &user).1);
        Connection::create(move |ctx| {
            ctx.add_stream(frames);
            Connection {
                user,
                outbox,
                env,
                rooms: Rooms::default(),
                sends,
                frames: frames_bucket,
                last_seen: Instant::now(),
            }
        });
        body
    }

    fn handle_ref(&self) -> ConnHandle {
        ConnHandle {
            user: self.user.clone(),
            outbox: self.outbox.clone(),
        }
    }

    fn error(&self, e: ProtoError, reference: Option<&Value>) {
        self.outbox.push(event::error(&e, reference));
    }

    /// The room if this connection asked to join it (a room that stopped since is forgotten).
    fn joined(&mut self, room: RoomId) -> Option<Addr<Room>> {
        // A room whose join was refused may have stopped since (it was idle): forget it.
        if self.rooms.get(&room).is_some_and(|a| !a.connected()) {
            self.rooms.remove(&room);
        }
        self.rooms.get(&room).cloned()
    }

    fn in_room(&mut self, room: RoomId, reference: Option<&Value>) -> Option<Addr<Room>> {
        let addr = self.joined(room);
        if addr.is_none() {
            self.error(ProtoError::forbidden("join the room first"), reference);
        }
        addr
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let config = &self.env.config;
        let (frame_rate, frame_burst) = frame_limits(config, &self.user);
        if !self.frames.take(now, frame_rate, frame_burst) {
            crate::metrics::metrics()
                .rate_limited
                .with(&["ws_frames"])
                .inc();
            return self.error(
                ProtoError::new(ErrorCode::RateLimited, "too many frames"),
                None,
            );
        }
        let (frame, reference) = match parse_frame(text) {
            Ok(parsed) => parsed,
            Err((e, reference)) => return self.error(e, reference.as_ref()),
        };
        let r = reference.as_ref();
        let needed = crate::permission::required_by(&frame);
        if !self.user.grants.allows(needed) {
            return self.error(
                ProtoError::forbidden(format!("this needs the {} permission", needed.name())),
                r,
            );
        }
        let limited = matches!(
            frame,
            ClientFrame::Send { .. }
                | ClientFrame::Edit { .. }
                | ClientFrame::Delete { .. }
                | ClientFrame::React { .. }
                | ClientFrame::RegisterCommands { .. }
                | ClientFrame::CommandReply { .. }
        );
        let (rate, burst) = send_limits(config, &self.user);
        if limited && !self.sends.take(now, rate, burst) {
            crate::metrics::metrics()
                .rate_limited
                .with(&["ws_sends"])
                .inc();
            return self.error(
                ProtoError::new(ErrorCode::RateLimited, "sending too fast; slow down"),
                r,
            );
        }
        let _span = self.frame_span(&frame);
        self.dispatch(ctx, frame, reference);
    }

    /// `ws.frame`: one client frame's handling, with its type, user and connection.
    fn frame_span(&self, frame: &ClientFrame) -> Option<crate::telemetry::Span> {
        crate::telemetry::span("ws.frame", || {
            vec![
                opentelemetry::KeyValue::new("veza.frame", frame.kind()),
                opentelemetry::KeyValue::new("veza.user_id", self.user.id.0),
                opentelemetry::KeyValue::new("veza.conn_id", self.outbox.id.0 as i64),
            ]
        })
    }

    /// Hands an allowed frame to its room (or answers it).
    fn dispatch(&mut self, ctx: &mut Context<Self>, frame: ClientFrame, reference: Option<Value>) {
        let r = reference.as_ref();
        match frame {
            ClientFrame::Ping {} => {
                self.outbox.push(event::pong(r));
            }
            ClientFrame::Join { room, since } => self.join(ctx, room, since, reference),
            ClientFrame::Leave { room } => match self.rooms.remove(&room) {
                Some(addr) => addr.do_send(Leave {
                    conn: self.handle_ref(),
                    reply: true,
                    reference,
                }),
                None => self.error(ProtoError::bad_request("you are not in that room"), r),
            },
            ClientFrame::Send {
                room,
                body,
                client_id,
                thread,
                also_in_room,
                attachments,
            } => {
                if let Some(addr) = self.in_room(room, r) {
                    addr.do_send(SendMessage {
                        conn: self.handle_ref(),
                        body,
                        client_id,
                        thread,
                        also_in_room,
                        attachments,
                        reference,
                    });
                }
            }
            ClientFrame::Read { room, seq } => {
                if let Some(addr) = self.in_room(room, r) {
                    addr.do_send(MarkRead {
                        conn: self.handle_ref(),
                        seq,
                        reference,
                    });
                }
            }
            ClientFrame::RegisterCommands { room, commands } => {
                if let Some(addr) = self.in_room(room, r) {
                    addr.do_send(RegisterCommands {
                        conn: self.handle_ref(),
                        commands,
                        reference,
                    });
                }
            }
            ClientFrame::CommandReply {
                room,
                command,
                body,
            } => {
                if let Some(addr) = self.in_room(room, r) {
                    addr.do_send(ReplyToCommand {
                        conn: self.handle_ref(),
                        command,
                        body,
                        reference,
                    });
                }
            }
            ClientFrame::Typing { room } => {
                if let Some(addr) = self.rooms.get(&room) {
                    addr.do_send(Typing {
                        conn: self.handle_ref(),
                    });
                }
            }
            ClientFrame::History {
                room,
                before,
                limit,
            } => {
                if let Some(addr) = self.in_room(room, r) {
                    let limit = limit
                        .map(|l| l as usize)
                        .unwrap_or(self.env.config.history_page);
                    addr.do_send(History {
                        conn: self.handle_ref(),
                        before,
                        limit,
                        reference,
                    });
                }
            }
            ClientFrame::Edit { message, body } => {
                self.change(ctx, message, Change::Edit(body), reference)
            }
            ClientFrame::Delete { message } => self.change(ctx, message, Change::Delete, reference),
            ClientFrame::React { message, emoji } => {
                self.change(ctx, message, Change::React(emoji), reference)
            }
        }
    }

    /// Resolves the room and hands it the join (waiting, so later frames from this client are
    /// handled after the join). A room that stopped between the lookup and the join (it was idle)
    /// has a closed mailbox: the registry is asked again and starts a fresh one.
    fn join(
        &mut self,
        ctx: &mut Context<Self>,
        room: RoomId,
        since: Option<i64>,
        reference: Option<Value>,
    ) {
        let env = self.env.clone();
        let r = reference.clone();
        let join = Join {
            conn: self.handle_ref(),
            since,
            reference,
        };
        async move {
            for _attempt in 0..3 {
                let addr = match env.registry.send(GetRoom(room)).await {
                    Ok(Ok(addr)) => addr,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Err(ProtoError::internal()),
                };
                if addr.send(join.clone()).await.is_ok() {
                    return Ok(addr);
                }
            }
            Err(ProtoError::internal())
        }
        .into_actor(self)
        .map(move |result, act, _ctx| match result {
            Ok(addr) => {
                act.rooms.insert(room, addr);
            }
            Err(e) => act.error(e, r.as_ref()),
        })
        .wait(ctx);
    }

    /// Finds the message's room in the store, then asks that room (waiting, to keep frame order).
    fn change(
        &mut self,
        ctx: &mut Context<Self>,
        message: crate::ids::MessageId,
        change: Change,
        reference: Option<Value>,
    ) {
        self.env
            .readers
            .query(move |store| store.message_owner(message))
            .into_actor(self)
            .map(move |result, act, _ctx| {
                let r = reference.as_ref();
                match result {
                    // A message in a room this connection has not joined is answered like an
                    // unknown one: ids of other (private) rooms' messages cannot be probed.
                    Ok(Some((room, author))) => match act.joined(room) {
                        Some(addr) => addr.do_send(ChangeMessage {
                            conn: act.handle_ref(),
                            message,
                            author,
                            change,
                            reference,
                        }),
                        None => act.error(ProtoError::not_found(NO_SUCH_MESSAGE), r),
                    },
                    Ok(None) => act.error(ProtoError::not_found(NO_SUCH_MESSAGE), r),
                    Err(_) => act.error(ProtoError::internal(), r),
                }
            })
            .wait(ctx);
    }

    fn close(&mut self, ctx: &mut Context<Self>, code: u16, reason: &str) {
        self.outbox.close(code, reason);
        ctx.stop();
    }
}

impl Actor for Connection {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.env.registry.do_send(Connect {
            id: self.outbox.id,
            addr: ctx.address(),
            user: self.user.id,
            session: self.user.session,
            role: self.user.role.clone(),
        });
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let conn = self.handle_ref();
        for (_, room) in self.rooms.drain() {
            room.do_send(Leave {
                conn: conn.clone(),
                reply: false,
                reference: None,
            });
        }
        self.env.registry.do_send(Disconnect(self.outbox.id));
    }
}

impl StreamHandler<Inbound> for Connection {
    fn handle(&mut self, item: Inbound, ctx: &mut Context<Self>) {
        let item = match item {
            Inbound::Frame(item) => item,
            Inbound::Heartbeat => {
                if self.last_seen.elapsed() >= self.env.config.client_timeout {
                    conn_debug!(self, "heartbeat timeout");
                    self.close(ctx, 1000, "heartbeat timeout");
                } else {
                    self.outbox.ping();
                }
                return;
            }
            Inbound::WriterDone(exit) => {
                // The socket is gone, or the client was cut off for being too slow.
                if exit == WriterExit::TooSlow {
                    conn_debug!(self, "cut off: too slow");
                }
                return ctx.stop();
            }
        };
        self.last_seen = Instant::now();
        match item {
            Ok(ClientMessage::Text(text)) => self.on_text(&text, ctx),
            Ok(ClientMessage::Binary) => self.error(
                ProtoError::bad_request("binary frames are not supported; send JSON text"),
                None,
            ),
            Ok(ClientMessage::Ping(payload)) => {
                self.outbox.pong(payload);
            }
            Ok(ClientMessage::Pong) => {}
            Ok(ClientMessage::Close(_)) => self.close(ctx, 1000, "bye"),
            Err(ProtocolError::Overflow) => self.close(ctx, 1009, "frame too large"),
            Err(e) if is_invalid_text(&e) => self.close(ctx, 1007, "text is not UTF-8"),
            Err(e) => {
                conn_debug!(self, "protocol error"; "error" => e.to_string());
                self.close(ctx, 1002, "protocol error");
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
