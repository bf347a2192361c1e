//! The cluster bus on Redis: the server's implementation of the actors' [`veza_actors::bus::Bus`]
//! port. Plain pub/sub, one channel per room (`PREFIX:room:ID`) plus `PREFIX:sessions` and
//! `PREFIX:nodes`; a node subscribes to a room's channel only while the room has members online
//! there. Live streams are leased to one node (`stream_leases.rs`). See docs/architecture.md ("Several nodes") for the model.

mod channels;
mod redis_bus;
mod stream_leases;

pub use redis_bus::{BusMetrics, RedisBus};
pub use stream_leases::{LeaseGuard, Owner, StreamLeases};
