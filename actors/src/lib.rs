//! Veza's actor crate: the registry, rooms, connections, persistence and readers, and the message
//! types between them. Nothing in here knows about HTTP routes or SQL; the server crate upgrades
//! sockets and implements the [`store::ChatStore`] port.

pub mod bus;
pub mod connection;
pub mod frames;
pub mod ids;
pub mod mentions;
pub mod metrics;
pub mod model;
pub mod outbox;
pub mod permission;
pub mod persistence;
pub mod protocol;
pub mod ratelimit;
pub mod reader;
pub mod registry;
pub mod revocation;
pub mod room;
pub mod store;
pub mod stream;
pub mod telemetry;

pub use ids::{IdGenerator, MessageId, RoomId, StreamId, UploadId, UserId};
pub use registry::{Registry, RegistryStats, Stats};
