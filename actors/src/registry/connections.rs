//! The live connections of this node, by id and by user: counted for `/api/v2/status`, closed with
//! 1001 at shutdown, and closed with 4001 when their session is revoked (here or on another node).

use super::Registry;
use crate::bus::Topic;
use crate::connection::{Connection, SessionEnded, ShutdownClose};
use crate::ids::UserId;
use crate::outbox::ConnId;
use crate::revocation::{Revoke, ROLE_CHANGED};
use crate::store::SessionStanding;
use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

struct Entry {
    addr: Addr<Connection>,
    user: UserId,
    session: i64,
    /// The global role the socket was opened with.
    role: String,
}

#[derive(Default)]
pub(super) struct Connections {
    by_id: HashMap<ConnId, Entry>,
    by_user: HashMap<UserId, Vec<ConnId>>,
}

impl Connections {
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    fn insert(&mut self, id: ConnId, entry: Entry) {
        self.by_user.entry(entry.user).or_default().push(id);
        self.by_id.insert(id, entry);
    }

    fn remove(&mut self, id: ConnId) {
        if let Some(entry) = self.by_id.remove(&id) {
            if let Some(ids) = self.by_user.get_mut(&entry.user) {
                ids.retain(|c| *c != id);
                if ids.is_empty() {
                    self.by_user.remove(&entry.user);
                }
            }
        }
    }

    /// This node's sockets of `user`.
    pub fn of_user(&self, user: UserId) -> impl Iterator<Item = &Addr<Connection>> {
        self.by_user
            .get(&user)
            .into_iter()
            .flatten()
            .filter_map(|id| self.by_id.get(id).map(|e| &e.addr))
    }

    /// The distinct sessions of the live sockets.
    pub fn sessions(&self) -> Vec<i64> {
        let mut all: Vec<i64> = self.by_id.values().map(|e| e.session).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Closes the sockets whose login no longer holds as it did when they opened: the session
    /// ended, or the user's global role is another now (the client reconnects with the new
    /// permissions, as after a live revocation). Returns how many.
    pub fn close_stale(&self, standing: &[SessionStanding]) -> usize {
        let now: HashMap<i64, &SessionStanding> = standing.iter().map(|s| (s.session, s)).collect();
        let mut closed = 0;
        for entry in self.by_id.values() {
            let reason = match now.get(&entry.session) {
                Some(s) if s.ended => "session ended",
                Some(s) if s.role != entry.role => ROLE_CHANGED,
                _ => continue,
            };
            entry.addr.do_send(SessionEnded {
                reason: reason.to_owned(),
            });
            closed += 1;
        }
        closed
    }

    /// Closes the sockets a revocation covers; returns how many.
    pub fn revoke(&self, revoke: &Revoke) -> usize {
        let mut closed = 0;
        for id in self.by_user.get(&revoke.user).into_iter().flatten() {
            if let Some(entry) = self.by_id.get(id) {
                if revoke.scope.covers(entry.session) {
                    entry.addr.do_send(SessionEnded {
                        reason: revoke.reason.clone(),
                    });
                    closed += 1;
                }
            }
        }
        closed
    }
}

/// A revocation as it travels between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RevokeEnvelope {
    pub node: u16,
    pub revoke: Revoke,
}

/// A connection came up.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub id: ConnId,
    pub addr: Addr<Connection>,
    pub user: UserId,
    pub session: i64,
    /// The global role the socket was opened with (its name in the store).
    pub role: String,
}

impl Handler<Connect> for Registry {
    type Result = ();
    fn handle(&mut self, msg: Connect, _: &mut Context<Self>) {
        self.guarded("Connect", (), |act| {
            act.connections.insert(
                msg.id,
                Entry {
                    addr: msg.addr,
                    user: msg.user,
                    session: msg.session,
                    role: msg.role,
                },
            )
        });
    }
}

/// A connection went away.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect(pub ConnId);

impl Handler<Disconnect> for Registry {
    type Result = ();
    fn handle(&mut self, msg: Disconnect, _: &mut Context<Self>) {
        self.guarded("Disconnect", (), |act| act.connections.remove(msg.0));
    }
}

/// Server shutdown: closes every connection with 1001 ("going away"). Returns how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll;

impl Handler<CloseAll> for Registry {
    type Result = usize;
    fn handle(&mut self, _: CloseAll, _: &mut Context<Self>) -> usize {
        self.say_goodbye();
        for entry in self.connections.by_id.values() {
            entry.addr.do_send(ShutdownClose);
        }
        self.connections.len()
    }
}

impl Handler<Revoke> for Registry {
    type Result = ();

    /// Closes the covered sockets here and tells every other node to do the same.
    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) {
        self.guarded("Revoke", (), |act| {
            act.revoked(Some(&msg));
            act.connections.revoke(&msg);
            if act.deps.bus.is_clustered() {
                let envelope = RevokeEnvelope {
                    node: act.deps.node,
                    revoke: msg,
                };
                if let Ok(payload) = serde_json::to_vec(&envelope) {
                    act.deps.bus.publish(Topic::Sessions, payload.into());
                }
            }
        });
    }
}
