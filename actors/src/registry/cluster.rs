//! The registry's end of the cluster bus: routes room events to room replicas, applies other
//! nodes' revocations, and keeps track of which nodes are alive (heartbeats every second; a node
//! silent for `NODE_TIMEOUT` is gone, and its members' presence with it).

use super::connections::RevokeEnvelope;
use super::Registry;
use crate::bus::{BusState, Incoming, Subscribed, Topic};
use crate::room::fanout::Envelope;
use crate::room::{NodeGone, RoomBusEvent};
use actix::prelude::*;
use serde::{Deserialize, Serialize};
use slog::{info, warn};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const HEARTBEAT: Duration = Duration::from_secs(1);
const NODE_TIMEOUT: Duration = Duration::from_millis(3500);

#[derive(Default)]
pub(super) struct ClusterView {
    /// Other nodes and when each was last heard.
    nodes: HashMap<u16, Instant>,
    bus_up: bool,
}

/// A node's heartbeat (`up: false`: it is shutting down).
#[derive(Debug, Serialize, Deserialize)]
struct Heartbeat {
    node: u16,
    up: bool,
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
        ctx.run_interval(HEARTBEAT, |act, _| {
            act.guarded("heartbeat", (), |act| {
                act.beat(true);
                act.sweep_nodes();
            })
        });
    }

    fn beat(&self, up: bool) {
        let beat = Heartbeat {
            node: self.deps.node,
            up,
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
            .filter(|(_, seen)| seen.elapsed() > NODE_TIMEOUT)
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
            return;
        }
        if beat.up {
            if self
                .cluster
                .nodes
                .insert(beat.node, Instant::now())
                .is_none()
            {
                info!(self.deps.log, "node seen"; "node" => beat.node);
            }
        } else {
            self.node_gone(beat.node);
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
                        room.do_send(RoomBusEvent(envelope))
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
    fn handle(&mut self, msg: BusState, _: &mut Context<Self>) {
        if self.cluster.bus_up != msg.up {
            self.cluster.bus_up = msg.up;
            // Revocations published meanwhile were missed.
            self.revoked(None);
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
