//! The connection actor: one per WebSocket. It owns the socket's read side (frames arrive through
//! `ctx.add_stream`), the outbox its rooms push into, the heartbeat, and the per-connection rate
//! limits. It parses frames and routes them; rooms answer the client directly through the outbox.

use crate::ids::RoomId;
use crate::outbox::{run_writer, ConnId, Outbox, WriterExit};
use crate::protocol::{event, parse_frame, ClientFrame, ErrorCode, ProtoError};
use crate::ratelimit::TokenBucket;
use crate::reader::Readers;
use crate::registry::{Connect, Disconnect, GetRoom, Registry};
use crate::room::{
    Change, ChangeMessage, ConnHandle, History, Join, Leave, Room, SendMessage, SessionUser, Typing,
};
use actix::prelude::*;
use actix_ws::{AggregatedMessage, ProtocolError, Session};
use futures_util::Stream;
use serde_json::Value;
use slog::{debug, Logger};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
            frame_rate: 100.0,
            frame_burst: 200.0,
            outbound_queue: 1024,
            max_frame_bytes: 64 * 1024,
            history_page: 50,
        }
    }
}

pub struct Connection {
    user: SessionUser,
    outbox: Outbox,
    registry: Addr<Registry>,
    readers: Readers,
    rooms: HashMap<RoomId, Addr<Room>>,
    sends: TokenBucket,
    frames: TokenBucket,
    last_seen: Instant,
    config: Arc<ConnectionConfig>,
    log: Logger,
}

type Frames = Result<AggregatedMessage, ProtocolError>;

impl Connection {
    /// Starts the actor for an upgraded socket, and its writer task.
    pub fn start(
        session: Session,
        stream: impl Stream<Item = Frames> + 'static,
        user: SessionUser,
        registry: Addr<Registry>,
        readers: Readers,
        config: Arc<ConnectionConfig>,
        log: Logger,
    ) -> Addr<Self> {
        let (outbox, rx) = Outbox::new(ConnId::next(), config.outbound_queue);
        Connection::create(move |ctx| {
            ctx.add_stream(stream);
            let addr = ctx.address();
            actix::spawn(async move {
                let exit = run_writer(session, rx).await;
                addr.do_send(WriterDone(exit));
            });
            Connection {
                log: log.new(slog::o!("conn" => outbox.id.0, "user_id" => user.id.0)),
                user,
                outbox,
                registry,
                readers,
                rooms: HashMap::new(),
                sends: TokenBucket::new(config.send_rate, config.send_burst),
                frames: TokenBucket::new(config.frame_rate, config.frame_burst),
                last_seen: Instant::now(),
                config,
            }
        })
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

    fn in_room(&mut self, room: RoomId, reference: Option<&Value>) -> Option<Addr<Room>> {
        // A room whose join was refused may have stopped since (it was idle): forget it.
        if self.rooms.get(&room).is_some_and(|a| !a.connected()) {
            self.rooms.remove(&room);
        }
        let addr = self.rooms.get(&room).cloned();
        if addr.is_none() {
            self.error(ProtoError::forbidden("join the room first"), reference);
        }
        addr
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        let now = Instant::now();
        if !self.frames.take(now) {
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
        );
        if limited && !self.sends.take(now) {
            return self.error(
                ProtoError::new(ErrorCode::RateLimited, "sending too fast; slow down"),
                r,
            );
        }
        match frame {
            ClientFrame::Ping => {
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
            } => {
                if let Some(addr) = self.in_room(room, r) {
                    addr.do_send(SendMessage {
                        conn: self.handle_ref(),
                        body,
                        client_id,
                        thread,
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
                        .unwrap_or(self.config.history_page);
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
        let registry = self.registry.clone();
        let r = reference.clone();
        let join = Join {
            conn: self.handle_ref(),
            since,
            reference,
        };
        async move {
            for _attempt in 0..3 {
                let addr = match registry.send(GetRoom(room)).await {
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
        self.readers
            .query(move |store| store.message_owner(message))
            .into_actor(self)
            .map(move |result, act, _ctx| {
                let r = reference.as_ref();
                match result {
                    Ok(Some((room, author))) => {
                        if let Some(addr) = act.in_room(room, r) {
                            addr.do_send(ChangeMessage {
                                conn: act.handle_ref(),
                                message,
                                author,
                                change,
                                reference,
                            });
                        }
                    }
                    Ok(None) => act.error(ProtoError::not_found("no such message"), r),
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
        self.registry.do_send(Connect {
            id: self.outbox.id,
            addr: ctx.address(),
            user: self.user.id,
            session: self.user.session,
        });
        ctx.run_interval(self.config.heartbeat, |act, ctx| {
            if act.last_seen.elapsed() >= act.config.client_timeout {
                debug!(act.log, "heartbeat timeout");
                act.close(ctx, 1000, "heartbeat timeout");
            } else {
                act.outbox.ping();
            }
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
        self.registry.do_send(Disconnect(self.outbox.id));
    }
}

impl StreamHandler<Frames> for Connection {
    fn handle(&mut self, item: Frames, ctx: &mut Context<Self>) {
        self.last_seen = Instant::now();
        match item {
            Ok(AggregatedMessage::Text(text)) => self.on_text(&text, ctx),
            Ok(AggregatedMessage::Binary(_)) => self.error(
                ProtoError::bad_request("binary frames are not supported; send JSON text"),
                None,
            ),
            Ok(AggregatedMessage::Ping(payload)) => {
                self.outbox.pong(payload);
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => self.close(ctx, 1000, "bye"),
            Err(ProtocolError::Overflow) => self.close(ctx, 1009, "frame too large"),
            Err(e) => {
                debug!(self.log, "protocol error"; "error" => e.to_string());
                self.close(ctx, 1002, "protocol error");
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// The writer task ended (socket gone, or cut off for being too slow).
#[derive(Message)]
#[rtype(result = "()")]
struct WriterDone(WriterExit);

impl Handler<WriterDone> for Connection {
    type Result = ();
    fn handle(&mut self, msg: WriterDone, ctx: &mut Context<Self>) {
        if msg.0 == WriterExit::TooSlow {
            debug!(self.log, "cut off: too slow");
        }
        ctx.stop();
    }
}

/// The session this socket was opened with ended, or the user's permissions changed: close with
/// 4001 and the reason (the client logs in again or reconnects with a fresh token).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionEnded {
    pub reason: String,
}

impl Handler<SessionEnded> for Connection {
    type Result = ();
    fn handle(&mut self, msg: SessionEnded, ctx: &mut Context<Self>) {
        debug!(self.log, "session ended"; "reason" => &msg.reason);
        self.close(ctx, crate::revocation::CLOSE_SESSION_ENDED, &msg.reason);
    }
}

/// The server is stopping: close with 1001.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownClose;

impl Handler<ShutdownClose> for Connection {
    type Result = ();
    fn handle(&mut self, _: ShutdownClose, ctx: &mut Context<Self>) {
        self.close(ctx, 1001, "server shutting down");
    }
}
