//! The cluster bus port: how a node tells the other nodes what it committed, and hears what they
//! committed. The server implements it on Redis pub/sub (`src/cluster/`); a single node uses
//! [`NoBus`]. Delivery is at most once and may stop for a while (Redis down): everything that must
//! not be lost is in the store, and rooms catch up from there (see `room/sync.rs`).

use crate::ids::RoomId;
use actix::prelude::*;
use bytes::Bytes;
use std::sync::Arc;

/// A channel of the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Committed events of one room; a node subscribes while the room has local members.
    Room(RoomId),
    /// Session revocations (logout, disable, role change, ...), for every node.
    Sessions,
    /// Node heartbeats, for every node.
    Nodes,
    /// Frames for users' sockets wherever they are (mentions, unread counts), for every node.
    Users,
}

/// Publishes and subscribes. Every method returns at once; the work happens in the background.
pub trait Bus: Send + Sync + 'static {
    /// Sends `payload` to every node subscribed to `topic` (this one included).
    fn publish(&self, topic: Topic, payload: Bytes);
    /// Starts receiving `topic`; [`Subscribed`] follows once the subscription is active.
    fn subscribe(&self, topic: Topic);
    fn unsubscribe(&self, topic: Topic);
    /// Whether the bus is connected now.
    fn is_up(&self) -> bool;
    /// Whether there is a bus at all (false on a single node).
    fn is_clustered(&self) -> bool {
        true
    }
}

/// The bus of a single node: nobody else to tell.
#[derive(Debug, Default)]
pub struct NoBus;

impl Bus for NoBus {
    fn publish(&self, _topic: Topic, _payload: Bytes) {}
    fn subscribe(&self, _topic: Topic) {}
    fn unsubscribe(&self, _topic: Topic) {}
    fn is_up(&self) -> bool {
        true
    }
    fn is_clustered(&self) -> bool {
        false
    }
}

pub type SharedBus = Arc<dyn Bus>;

/// A payload that arrived on a topic (sent to the registry, which routes it).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Incoming {
    pub topic: Topic,
    pub payload: Bytes,
}

/// A subscription became active (after `subscribe`, or again after the bus reconnected): whatever
/// was published before may have been missed, so the room catches up from the store.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Subscribed(pub Topic);

/// The bus went down or came back.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct BusState {
    pub up: bool,
}
