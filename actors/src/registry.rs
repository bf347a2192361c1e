//! The per-node registry: the one place that knows which rooms, connections and live streams exist on
//! this node. It routes; it owns no room or stream state itself (those are their own actors).
//!
//! For now it counts what is registered, which is what `GET /api/v2/status` reports; the room,
//! connection and stream actors register here as they are built.

use actix::prelude::*;
use serde::Serialize;

/// Counts of what this node currently holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RegistryStats {
    pub connections: u64,
    pub rooms: u64,
    pub live_streams: u64,
}

/// The registry actor. Supervised: if it ever panics it restarts empty, and the actors that registered
/// with it re-register on their next heartbeat.
#[derive(Debug, Default)]
pub struct Registry {
    stats: RegistryStats,
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Supervised for Registry {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        self.stats = RegistryStats::default();
    }
}

/// Ask for the current [`RegistryStats`].
#[derive(Debug, Message)]
#[rtype(result = "RegistryStats")]
pub struct Stats;

impl Handler<Stats> for Registry {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _msg: Stats, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_new_registry_reports_nothing_registered() {
        let addr = Supervisor::start(|_| Registry::default());
        let stats = addr.send(Stats).await.unwrap();
        assert_eq!(stats, RegistryStats::default());
    }
}
