//! The per-node registry: room id -> room actor (started lazily from the store, stopped when
//! idle), the live connections by user (for revocation), live streams by mount, and the node's end
//! of the cluster bus (`cluster.rs`). It routes and counts; it owns no room state.
//!
//! Its handlers run under `catch_unwind` (see [`guarded`]): a bug in one message is logged and
//! that message fails, the registry and everything it routes keep working.

mod cluster;
mod connections;
mod streams;
mod users;

pub use connections::{CloseAll, Connect, Disconnect};
pub use streams::{FindStream, LiveStreams, MountInUse, StartBroadcast, StartFedBroadcast};
pub use users::ToUsers;

use crate::bus::SharedBus;
use crate::ids::RoomId;
use crate::persistence::Persistence;
use crate::protocol::ProtoError;
use crate::reader::Readers;
use crate::room::{Room, RoomConfig, RoomEnv, RoomIdle, TryRetire};
use crate::stream::{StreamConfig, StreamSession};
use actix::prelude::*;
use serde::Serialize;
use slog::{error, Logger};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
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
    /// The cluster bus ([`crate::bus::NoBus`] on a single node) and this node's id on it.
    pub bus: SharedBus,
    pub node: u16,
    /// Told of every revocation applied here (the server's session cache listens).
    pub on_revoke: Option<crate::revocation::RevocationHook>,
    pub log: Logger,
}

type RoomReply = oneshot::Sender<Result<Addr<Room>, ProtoError>>;

pub struct Registry {
    deps: RoomDeps,
    rooms: HashMap<RoomId, Addr<Room>>,
    /// Rooms being loaded, with everyone waiting for them: two joins racing on a cold room start
    /// one actor, not two.
    loading: HashMap<RoomId, Vec<RoomReply>>,
    connections: connections::Connections,
    /// Live broadcasts by mount.
    streams: HashMap<String, Addr<StreamSession>>,
    cluster: cluster::ClusterView,
}

impl Registry {
    pub fn new(deps: RoomDeps) -> Self {
        Self {
            deps,
            rooms: HashMap::new(),
            loading: HashMap::new(),
            connections: connections::Connections::default(),
            streams: HashMap::new(),
            cluster: cluster::ClusterView::default(),
        }
    }

    /// Runs one handler's work; a panic in it is logged and turned into `fallback`.
    fn guarded<R>(&mut self, what: &str, fallback: R, f: impl FnOnce(&mut Self) -> R) -> R {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(r) => r,
            Err(_) => {
                error!(self.deps.log, "registry handler panicked; carrying on"; "message" => what.to_owned());
                fallback
            }
        }
    }
}

impl Registry {
    fn revoked(&self, revoke: Option<&crate::revocation::Revoke>) {
        if let Some(hook) = &self.deps.on_revoke {
            hook(revoke);
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.start_cluster(ctx);
    }
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
        let fallback: Self::Result = Box::pin(async { Err(ProtoError::internal()) });
        self.guarded("GetRoom", fallback, |act| {
            if let Some(addr) = act.rooms.get(&msg.0).filter(|a| a.connected()) {
                let addr = addr.clone();
                return Box::pin(async move { Ok(addr) });
            }
            let (tx, rx) = oneshot::channel();
            let first = !act.loading.contains_key(&msg.0);
            act.loading.entry(msg.0).or_default().push(tx);
            if first {
                act.load(ctx, msg.0);
            }
            Box::pin(async move { rx.await.unwrap_or_else(|_| Err(ProtoError::internal())) })
        })
    }
}

impl Registry {
    fn load(&mut self, ctx: &mut Context<Self>, id: RoomId) {
        let recent = self.deps.config.ring_size;
        let idle = ctx.address().recipient();
        let users = ctx.address().recipient();
        self.deps
            .readers
            .query(move |store| store.load_room(id, recent))
            .into_actor(self)
            .map(move |result, act, _ctx| {
                let reply = match result {
                    Ok(Some(snapshot)) => {
                        let addr = act.start_room(snapshot, idle, users);
                        if act.deps.bus.is_clustered() && act.cluster.bus_down() {
                            addr.do_send(crate::bus::BusState { up: false });
                        }
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

    fn start_room(
        &self,
        snapshot: crate::model::RoomSnapshot,
        idle: Recipient<RoomIdle>,
        users: Recipient<ToUsers>,
    ) -> Addr<Room> {
        let deps = &self.deps;
        let id = snapshot.info.id;
        let arbiter = &deps.arbiters[id.0.unsigned_abs() as usize % deps.arbiters.len().max(1)];
        let env = RoomEnv {
            persistence: deps.persistence.clone(),
            readers: deps.readers.clone(),
            config: deps.config.clone(),
            bus: deps.bus.clone(),
            node: deps.node,
            idle,
            users,
            log: deps.log.clone(),
        };
        Room::start_in_arbiter(arbiter, move |_| Room::new(snapshot, env))
    }
}

impl Handler<RoomIdle> for Registry {
    type Result = ();

    /// Asks the idle room to stop without waiting for the answer (a room stuck in a slow store
    /// read must not stall the registry). A join racing the retirement either reached the room
    /// first (it answers that it stays) or finds its mailbox closed and comes back here: the closed
    /// address is no longer `connected()`, so the join gets a fresh actor, and the late answer only
    /// ever removes the address it was asked about, never the fresh one.
    fn handle(&mut self, msg: RoomIdle, ctx: &mut Context<Self>) {
        let RoomIdle(id, addr) = msg;
        if self.rooms.get(&id) != Some(&addr) {
            return;
        }
        addr.send(TryRetire)
            .into_actor(self)
            .map(move |stopped, act, _| {
                if stopped.unwrap_or(true) && act.rooms.get(&id) == Some(&addr) {
                    act.rooms.remove(&id);
                }
            })
            .spawn(ctx);
    }
}

/// The room actor for an id if it is running (tests use it to poke a room).
#[derive(Message)]
#[rtype(result = "Option<Addr<Room>>")]
pub struct PeekRoom(pub RoomId);

impl Handler<PeekRoom> for Registry {
    type Result = Option<Addr<Room>>;
    fn handle(&mut self, msg: PeekRoom, _: &mut Context<Self>) -> Self::Result {
        self.rooms.get(&msg.0).filter(|a| a.connected()).cloned()
    }
}

/// Makes the registry panic inside a handler. Only for tests of its supervision; not reachable
/// from any client frame.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Poison;

impl Handler<Poison> for Registry {
    type Result = ();
    fn handle(&mut self, _: Poison, _: &mut Context<Self>) {
        self.guarded("Poison", (), |_| panic!("poisoned on purpose"));
    }
}
