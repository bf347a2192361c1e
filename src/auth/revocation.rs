//! Where the auth service reports sessions it ended (logout, refresh-token reuse, password change),
//! so the registry closes their WebSockets on every node. Connected once the registry exists.

use actix::Addr;
use std::sync::OnceLock;
use veza_actors::revocation::Revoke;
use veza_actors::Registry;

#[derive(Default)]
pub struct RevocationSink(OnceLock<Addr<Registry>>);

impl RevocationSink {
    pub fn connect(&self, registry: Addr<Registry>) {
        let _connected_once = self.0.set(registry);
    }

    /// Reports a revocation (nothing happens before `connect`, e.g. in CLI commands).
    pub fn revoked(&self, revoke: Revoke) {
        if let Some(registry) = self.0.get() {
            registry.do_send(revoke);
        }
    }
}
