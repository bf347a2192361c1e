//! Veza's actor crate: the registry, rooms, connections, persistence and stream sessions, and the
//! message types between them. Nothing in here knows about HTTP; the server crate adapts it.

pub mod ids;
pub mod registry;

pub use ids::{IdGenerator, MessageId, RoomId, StreamId, UserId};
pub use registry::{Registry, RegistryStats, Stats};
