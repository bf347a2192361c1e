//! Frames for users wherever they are connected: a mention, their unread counts after they read
//! on one device. Delivered to the user's sockets on this node and published on the users topic
//! for every other node (one publish whatever the number of users).

use super::Registry;
use crate::bus::Topic;
use crate::connection::Push;
use crate::ids::UserId;
use actix::prelude::*;
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use slog::warn;

/// `frame` for every socket of each of `users`, on every node.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ToUsers {
    pub users: Vec<UserId>,
    pub frame: ByteString,
}

/// [`ToUsers`] as it travels between nodes.
#[derive(Debug, Serialize, Deserialize)]
struct UsersEnvelope {
    node: u16,
    users: Vec<UserId>,
    frame: String,
}

impl Registry {
    /// Pushes `frame` to this node's sockets of `users`.
    fn push_to_users(&self, users: &[UserId], frame: &ByteString) {
        for user in users {
            for addr in self.connections.of_user(*user) {
                addr.do_send(Push(frame.clone()));
            }
        }
    }

    /// A [`ToUsers`] another node published.
    pub(super) fn users_event(&mut self, payload: &[u8]) {
        match serde_json::from_slice::<UsersEnvelope>(payload) {
            Ok(envelope) if envelope.node != self.deps.node => {
                self.push_to_users(&envelope.users, &ByteString::from(envelope.frame));
            }
            Ok(_) => {}
            Err(_) => warn!(self.deps.log, "undecodable user event on the bus"),
        }
    }
}

impl Handler<ToUsers> for Registry {
    type Result = ();

    fn handle(&mut self, msg: ToUsers, _: &mut Context<Self>) {
        self.guarded("ToUsers", (), |act| {
            act.push_to_users(&msg.users, &msg.frame);
            if act.deps.bus.is_clustered() && !msg.users.is_empty() {
                let envelope = UsersEnvelope {
                    node: act.deps.node,
                    users: msg.users,
                    frame: msg.frame.to_string(),
                };
                if let Ok(payload) = serde_json::to_vec(&envelope) {
                    act.deps.bus.publish(Topic::Users, payload.into());
                }
            }
        });
    }
}
