//! The registry's end of the cluster bus: routes room events to room replicas, applies other
//! nodes' revocations, and keeps track of which nodes are alive (heartbeats every second; a node
//! silent for `NODE_TIMEOUT` is gone, and its members' presence with it).

use super::connections::RevokeEnvelope;
use super::Registry;
use crate::bus::{BusState, Incoming, Subscribed, Topic};
use crate::room::fanout::Envelope;
use crate::room::{NodeGone, NodeSeen, RoomBusEvent};
use actix::prelude::*;
use serde::{Deserialize, Serialize};
use slog::{info, warn};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const HEARTBEAT: Duration = Duration::from_secs(1);
const NODE_TIMEOUT: Duration = Duration::from_millis(3500);
/// How often live sockets' sessions are checked against the store (revocations missed).
const SESSION_CHECK: Duration = Duration::from_secs(30);

pub(super) struct ClusterView {
    /// Other nodes: when each was last heard, and its boot id.
    nodes: HashMap<u16, (Instant, u64)>,
    bus_up: bool,
    /// This process's boot id: a node restarted under the same id is a new incarnation.
    boot: u64,
}

impl Default for ClusterView {
    fn default() -> Self {
        Self {
            nodes: HashMap::new(),
            bus_up: false,
            boot: crate::ids::now_ms() ^ u64::from(std::process::id()).rotate_left(40),
        }
    }
}

/// A node's heartbeat (`up: false`: it is shutting down).
#[derive(Debug, Serialize, Deserialize)]
struct Heartbeat {
    node: u16,
    up: bool,
    #[serde(default)]
    boot: u64,
}

impl ClusterView {
    pub(super) fn bus_down(&self) -> bool {
        !self.bus_up
    }
}

impl Registry {
    pub(super) fn start_cluster(&mut self, ctx: &mut Context<Self>) {
        if !self.deps.bus.is_clustered() {
            return;
        }
        self.cluster.bus_up = self.deps.bus.is_up();
        self.deps.bus.subscribe(Topic::Sessions);
        self.deps.bus.subscribe(Topic::Nodes);
        self.deps.bus.subscribe(Topic::Users);
        ctx.run_interval(HEARTBEAT, |act, _| {
            act.guarded("heartbeat", (), |act| {
                act.beat(true);
                act.sweep_nodes();
            })
        });
        ctx.run_interval(SESSION_CHECK, |act, ctx| act.check_sessions(ctx));
    }

    /// Closes local sockets whose session ended, or whose user's global role changed, without
    /// this node hearing of it (a revocation published while Redis was down): one store query for
    /// all of them.
    pub(super) fn check_sessions(&mut self, ctx: &mut Context<Self>) {
        let sessions = self.connections.sessions();
        if sessions.is_empty() {
            return;
        }
        self.deps
            .readers
            .query(move |store| store.session_standing(&sessions))
            .into_actor(self)
            .map(|result, act, _| match result {
                Ok(standing) => act.guarded("check_sessions", (), |act| {
                    let closed = act.connections.close_stale(&standing);
                    if closed > 0 {
                        info!(act.deps.log, "closed sockets whose login changed unheard"; "sockets" => closed);
                    }
                }),
                Err(e) => warn!(act.deps.log, "checking sessions failed"; "error" => e.0),
            })
            .spawn(ctx);
    }

    fn beat(&self, up: bool) {
        let beat = Heartbeat {
            node: self.deps.node,
            up,
            boot: self.cluster.boot,
        };
        if let Ok(payload) = serde_json::to_vec(&beat) {
            self.deps.bus.publish(Topic::Nodes, payload.into());
        }
    }

    /// Tells the other nodes this one is going away (so they drop its presence at once).
    pub(super) fn say_goodbye(&self) {
        if self.deps.bus.is_clustered() {
            self.beat(false);
        }
    }

    fn sweep_nodes(&mut self) {
        let gone: Vec<u16> = self
            .cluster
            .nodes
            .iter()
            .filter(|(_, (seen, _))| seen.elapsed() > NODE_TIMEOUT)
            .map(|(n, _)| *n)
            .collect();
        for node in gone {
            self.node_gone(node);
        }
    }

    fn node_gone(&mut self, node: u16) {
        if self.cluster.nodes.remove(&node).is_some() {
            info!(self.deps.log, "node gone"; "node" => node);
            for room in self.rooms.values() {
                room.do_send(NodeGone(node));
            }
        }
    }

    fn on_heartbeat(&mut self, beat: Heartbeat) {
        if beat.node == self.deps.node {
            if beat.boot != self.cluster.boot && beat.boot != 0 {
                slog::error!(self.deps.log, "another process uses this node's VEZA_NODE_ID: give every node its own"; "node" => beat.node);
            }
            return;
        }
        if !beat.up {
            return self.node_gone(beat.node);
        }
        let known = self.cluster.nodes.get(&beat.node).map(|(_, boot)| *boot);
        // (Boot 0: known only from its room events so far.)
        if known.is_some_and(|boot| boot != 0 && boot != beat.boot) {
            // Restarted faster than the timeout: its old incarnation's members are gone.
            self.node_gone(beat.node);
        }
        let new = self
            .cluster
            .nodes
            .insert(beat.node, (Instant::now(), beat.boot))
            .is_none();
        if new {
            info!(self.deps.log, "node seen"; "node" => beat.node);
            for room in self.rooms.values() {
                room.do_send(NodeSeen);
            }
        }
    }
}

impl Registry {
    /// A room event from `node`: it is alive, even if its heartbeat has not been heard yet (so
    /// its members' presence expires with it if it dies before the first heartbeat).
    fn heard_from(&mut self, node: u16) {
        match self.cluster.nodes.get_mut(&node) {
            Some((seen, _)) => *seen = Instant::now(),
            None => {
                self.cluster.nodes.insert(node, (Instant::now(), 0));
            }
        }
    }
}

impl Handler<Incoming> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Incoming, _: &mut Context<Self>) {
        self.guarded("Incoming", (), |act| match msg.topic {
            Topic::Room(id) => {
                let Some(room) = act.rooms.get(&id) else {
                    return;
                };
                match Envelope::decode(&msg.payload) {
                    Some(envelope) if envelope.node != act.deps.node => {
                        envelope.record_lag();
                        let node = envelope.node;
                        room.do_send(RoomBusEvent(envelope));
                        act.heard_from(node);
                    }
                    Some(_) => {}
                    None => {
                        warn!(act.deps.log, "undecodable room event on the bus"; "room" => id.0)
                    }
                }
            }
            Topic::Sessions => match serde_json::from_slice::<RevokeEnvelope>(&msg.payload) {
                Ok(envelope) if envelope.node != act.deps.node => {
                    act.revoked(Some(&envelope.revoke));
                    act.connections.revoke(&envelope.revoke);
                }
                Ok(_) => {}
                Err(_) => warn!(act.deps.log, "undecodable revocation on the bus"),
            },
            Topic::Users => act.users_event(&msg.payload),
            Topic::Nodes => {
                if let Ok(beat) = serde_json::from_slice::<Heartbeat>(&msg.payload) {
                    act.on_heartbeat(beat);
                }
            }
        });
    }
}

impl Handler<Subscribed> for Registry {
    type Result = ();
    fn handle(&mut self, msg: Subscribed, _: &mut Context<Self>) {
        if let Topic::Room(id) = msg.0 {
            if let Some(room) = self.rooms.get(&id) {
                room.do_send(msg);
            }
        }
    }
}

impl Handler<BusState> for Registry {
    type Result = ();
    fn handle(&mut self, msg: BusState, ctx: &mut Context<Self>) {
        if self.cluster.bus_up != msg.up {
            self.cluster.bus_up = msg.up;
            // Revocations published meanwhile were missed.
            self.revoked(None);
            if msg.up {
                self.check_sessions(ctx);
            }
            if msg.up {
                info!(self.deps.log, "bus connected");
            } else {
                warn!(
                    self.deps.log,
                    "bus down: serving local clients, polling the store"
                );
            }
        }
        for room in self.rooms.values() {
            room.do_send(msg);
        }
    }
}
