//! The per-node registry: room id -> room actor (started lazily from the store), and the live
//! connections. It routes and counts; it owns no room state (rooms are their own actors).

use crate::connection::{Connection, ShutdownClose};
use crate::ids::RoomId;
use crate::outbox::ConnId;
use crate::persistence::Persistence;
use crate::protocol::ProtoError;
use crate::reader::Readers;
use crate::room::{Room, RoomConfig};
use crate::stream::{BroadcastEnded, NotifyRoom, StreamConfig, StreamSession};
use crate::StreamId;
use actix::prelude::*;
use serde::Serialize;
use slog::{error, Logger};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Counts of what this node currently holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RegistryStats {
    pub connections: u64,
    pub rooms: u64,
    pub live_streams: u64,
}

/// What the registry needs to start rooms.
#[derive(Clone)]
pub struct RoomDeps {
    pub persistence: Persistence,
    pub readers: Readers,
    pub config: Arc<RoomConfig>,
    /// Rooms are spread over these arbiters (one per core), away from the HTTP workers.
    pub arbiters: Vec<ArbiterHandle>,
    pub streams: Arc<StreamConfig>,
    pub log: Logger,
}

type RoomReply = oneshot::Sender<Result<Addr<Room>, ProtoError>>;

pub struct Registry {
    deps: RoomDeps,
    rooms: HashMap<RoomId, Addr<Room>>,
    /// Rooms being loaded, with everyone waiting for them: two joins racing on a cold room start
    /// one actor, not two.
    loading: HashMap<RoomId, Vec<RoomReply>>,
    connections: HashMap<ConnId, Addr<Connection>>,
    /// Live broadcasts by mount.
    streams: HashMap<String, Addr<StreamSession>>,
}

impl Registry {
    pub fn new(deps: RoomDeps) -> Self {
        Self {
            deps,
            rooms: HashMap::new(),
            loading: HashMap::new(),
            connections: HashMap::new(),
            streams: HashMap::new(),
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Supervised for Registry {}

/// Ask for the current [`RegistryStats`].
#[derive(Debug, Message)]
#[rtype(result = "RegistryStats")]
pub struct Stats;

impl Handler<Stats> for Registry {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _msg: Stats, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(RegistryStats {
            connections: self.connections.len() as u64,
            rooms: self.rooms.len() as u64,
            live_streams: self.streams.len() as u64,
        })
    }
}

/// The room actor for an id, started from the store if needed.
#[derive(Message)]
#[rtype(result = "Result<Addr<Room>, ProtoError>")]
pub struct GetRoom(pub RoomId);

impl Handler<GetRoom> for Registry {
    type Result = ResponseFuture<Result<Addr<Room>, ProtoError>>;

    fn handle(&mut self, msg: GetRoom, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.rooms.get(&msg.0) {
            let addr = addr.clone();
            return Box::pin(async move { Ok(addr) });
        }
        let (tx, rx) = oneshot::channel();
        let first = !self.loading.contains_key(&msg.0);
        self.loading.entry(msg.0).or_default().push(tx);
        if first {
            self.load(ctx, msg.0);
        }
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(ProtoError::internal())) })
    }
}

impl Registry {
    fn load(&mut self, ctx: &mut Context<Self>, id: RoomId) {
        let recent = self.deps.config.ring_size;
        self.deps
            .readers
            .query(move |store| store.load_room(id, recent))
            .into_actor(self)
            .map(move |result, act, _ctx| {
                let reply = match result {
                    Ok(Some(snapshot)) => {
                        let deps = act.deps.clone();
                        let arbiter = &deps.arbiters[id.0.unsigned_abs() as usize % deps.arbiters.len().max(1)];
                        let addr = Supervisor::start_in_arbiter(arbiter, move |_| {
                            Room::new(snapshot, deps.persistence.clone(), deps.readers.clone(), deps.config.clone(), deps.log.clone())
                        });
                        act.rooms.insert(id, addr.clone());
                        Ok(addr)
                    }
                    Ok(None) => Err(ProtoError::not_found("no such room")),
                    Err(e) => {
                        error!(act.deps.log, "loading a room failed"; "room" => id.0, "error" => e.0);
                        Err(ProtoError::internal())
                    }
                };
                for waiter in act.loading.remove(&id).unwrap_or_default() {
                    let _waiter_may_be_gone = waiter.send(reply.clone());
                }
            })
            .spawn(ctx);
    }
}

/// A connection came up.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub id: ConnId,
    pub addr: Addr<Connection>,
}

impl Handler<Connect> for Registry {
    type Result = ();
    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        self.connections.insert(msg.id, msg.addr);
    }
}

/// A connection went away.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect(pub ConnId);

impl Handler<Disconnect> for Registry {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        self.connections.remove(&msg.0);
    }
}

/// Server shutdown: closes every connection with 1001 ("going away"). Returns how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for Registry {
    type Result = usize;
    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        for addr in self.connections.values() {
            addr.do_send(ShutdownClose);
        }
        self.connections.len()
    }
}

/// The room actor for an id if it is running (tests use it to poke a room).
#[derive(Message)]
#[rtype(result = "Option<Addr<Room>>")]
pub struct PeekRoom(pub RoomId);

impl Handler<PeekRoom> for Registry {
    type Result = Option<Addr<Room>>;
    fn handle(&mut self, msg: PeekRoom, _: &mut Context<Self>) -> Self::Result {
        self.rooms.get(&msg.0).cloned()
    }
}

/// A source wants to go live on `mount`.
#[derive(Message)]
#[rtype(result = "Result<crate::stream::Started, MountInUse>")]
pub struct StartBroadcast {
    pub stream_id: StreamId,
    /// The room that hears `stream_state` and `now_playing` from this stream.
    pub room: Option<RoomId>,
    pub mount: String,
    pub title: String,
    /// The source container (`mp3`, `aac`, `ogg`, `wav`, `flac`).
    pub extension: &'static str,
    pub effects: crate::stream::effects::EffectsSpec,
}

/// Another source is already live on that mount.
#[derive(Debug, Clone, Copy)]
pub struct MountInUse;

impl Handler<StartBroadcast> for Registry {
    type Result = Result<crate::stream::Started, MountInUse>;
    fn handle(&mut self, msg: StartBroadcast, ctx: &mut Context<Self>) -> Self::Result {
        if self.streams.get(&msg.mount).is_some_and(|a| a.connected()) {
            return Err(MountInUse);
        }
        let started = StreamSession::start(
            crate::stream::SessionParams {
                stream_id: msg.stream_id,
                room: msg.room,
                mount: msg.mount.clone(),
                title: msg.title,
                extension: msg.extension,
                effects: msg.effects,
            },
            self.deps.streams.clone(),
            ctx.address().recipient(),
            ctx.address().recipient(),
            self.deps.log.clone(),
        );
        self.streams.insert(msg.mount, started.session.clone());
        Ok(started)
    }
}

impl Handler<BroadcastEnded> for Registry {
    type Result = ();
    fn handle(&mut self, msg: BroadcastEnded, _: &mut Context<Self>) {
        // Only if the entry is the ended session: a new source may already be live on the mount.
        if self.streams.get(&msg.mount).is_some_and(|a| !a.connected()) {
            self.streams.remove(&msg.mount);
        }
    }
}

/// The live session on a mount, if any.
#[derive(Message)]
#[rtype(result = "Option<Addr<StreamSession>>")]
pub struct FindStream(pub String);

impl Handler<FindStream> for Registry {
    type Result = Option<Addr<StreamSession>>;
    fn handle(&mut self, msg: FindStream, _: &mut Context<Self>) -> Self::Result {
        self.streams.get(&msg.0).filter(|a| a.connected()).cloned()
    }
}

impl Handler<NotifyRoom> for Registry {
    type Result = ();
    fn handle(&mut self, msg: NotifyRoom, _: &mut Context<Self>) {
        // A room that is not running has nobody online to tell.
        if let Some(room) = self.rooms.get(&msg.room) {
            room.do_send(crate::room::StreamNotice(msg.frame));
        }
    }
}
