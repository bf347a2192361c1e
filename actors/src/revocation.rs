//! Ending sessions on every node: a logout, refresh-token reuse, a disabled account, a role or
//! password change closes the affected WebSockets wherever they are (close code 4001 with the
//! reason), so no socket outlives the login it was opened with.

use crate::ids::UserId;
use actix::prelude::*;
use serde::{Deserialize, Serialize};

/// Close code for a socket whose session ended or whose permissions changed.
pub const CLOSE_SESSION_ENDED: u16 = 4001;

/// The close reason for a socket whose user's global role changed.
pub const ROLE_CHANGED: &str = "your role changed: reconnect";

/// Which of a user's sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Those opened with this session (one login).
    Session(i64),
    /// All of them.
    All,
    /// All but those of this session (a password change keeps the session that made it).
    AllExcept(i64),
}

impl Scope {
    pub fn covers(self, session: i64) -> bool {
        match self {
            Scope::Session(s) => s == session,
            Scope::All => true,
            Scope::AllExcept(s) => s != session,
        }
    }
}

/// Close a user's sockets on every node (send it to the registry, which tells the others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Message)]
#[rtype(result = "()")]
pub struct Revoke {
    pub user: UserId,
    pub scope: Scope,
    /// Sent to the client as the close reason.
    pub reason: String,
}

/// Told of every revocation this node applies (its own and other nodes'), and with `None` when
/// revocations may have been missed (the bus went down or came back): caches of sessions drop
/// what they hold.
pub type RevocationHook = std::sync::Arc<dyn Fn(Option<&Revoke>) + Send + Sync>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert!(Scope::Session(3).covers(3) && !Scope::Session(3).covers(4));
        assert!(Scope::All.covers(9));
        assert!(!Scope::AllExcept(3).covers(3) && Scope::AllExcept(3).covers(4));
    }
}
