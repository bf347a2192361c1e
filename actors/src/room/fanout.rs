//! What room replicas tell each other over the bus (one JSON object per publish on the room's
//! topic). Only committed facts travel: messages carry their durable `seq`; state changes say
//! "reload from the store"; presence and typing are per node.

use crate::ids::{MessageId, UserId};
use crate::model::{MessageView, UserRef};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A committed message, and what else its commit changed.
    Message {
        message: MessageView,
        #[serde(default, skip_serializing_if = "Effect::is_none")]
        effect: Effect,
    },
    /// An edit (`reaction: None`) or a reaction toggle, with the message as it is now (replicas
    /// keep it in their rings; members get only the reaction's delta).
    Updated {
        message: MessageView,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reaction: Option<Toggled>,
    },
    Deleted {
        message: MessageId,
    },
    /// Users who came online or went offline on the sending node.
    Presence {
        joined: Vec<UserRef>,
        left: Vec<UserRef>,
    },
    /// A node started following the room: everyone, say who is online on your side.
    Hello,
    /// Everyone online in the room on the sending node (replaces what was known of that node).
    Roster {
        users: Vec<UserRef>,
    },
    /// Users typing on the sending node.
    Typing {
        users: Vec<UserRef>,
    },
    /// A ready-made frame for every member (stream state, now playing).
    Notice {
        frame: String,
    },
    /// The bots' registered commands changed: reload them from the store.
    CommandsChanged,
    /// A member invoked a bot's command: the `command` frame for that bot's sockets, and who
    /// invoked it under which id (so a replica where the bot answers knows whom to tell).
    Command {
        bot: UserId,
        frame: String,
        #[serde(default)]
        id: String,
        #[serde(default)]
        invoker: Option<UserId>,
    },
    /// A reply committed under `message`: its thread now has `reply_count` replies.
    ThreadUpdated {
        message: MessageId,
        reply_count: i64,
        last_reply_at: i64,
    },
    /// A frame for one user's sockets in the room (a bot's private answer to their command).
    Private {
        user: UserId,
        frame: String,
    },
}

/// Who toggled which reaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toggled {
    pub emoji: String,
    pub user: UserId,
}

/// What a committed message (a moderation command's system message) changed besides itself. It
/// travels with the message so a replica applies both at once: nobody sees "bob was muted" on a
/// node that would still let bob speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    #[default]
    None,
    /// Roles, bans, mutes, topic or slow mode changed: reload them from the store first.
    StateChanged,
    /// Take this user's connections out of the room after the message.
    Kick(UserId),
}

impl Effect {
    pub fn is_none(&self) -> bool {
        *self == Effect::None
    }
}

/// One publish: which node sent it, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub node: u16,
    pub event: RoomEvent,
    /// When it was published (unix ms), for the bus lag metric; 0 from nodes that predate it.
    #[serde(default)]
    pub sent_ms: u64,
}

impl Envelope {
    pub fn new(node: u16, event: RoomEvent) -> Self {
        Self {
            node,
            event,
            sent_ms: crate::ids::now_ms(),
        }
    }

    /// Records how long it travelled (if the sender said when it left).
    pub fn record_lag(&self) {
        if self.sent_ms > 0 {
            let lag_ms = crate::ids::now_ms().saturating_sub(self.sent_ms);
            crate::metrics::metrics()
                .bus_lag
                .observe(lag_ms as f64 / 1000.0);
        }
    }

    pub fn encode(&self) -> Bytes {
        // Serialising these types cannot fail: no maps with non-string keys, no custom errors.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(payload: &[u8]) -> Option<Self> {
        serde_json::from_slice(payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let e = Envelope::new(
            3,
            RoomEvent::Deleted {
                message: MessageId(42),
            },
        );
        assert_eq!(Envelope::decode(&e.encode()), Some(e));
        assert_eq!(Envelope::decode(b"{not json"), None);
    }
}
