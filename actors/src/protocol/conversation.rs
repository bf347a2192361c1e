//! Server events of conversations: mentions, unread counts, thread activity and pins. Typed
//! (`Serialize`) and serialised once per event.

use crate::ids::{MessageId, RoomId};
use crate::model::{MessageView, UserRef};
use crate::store::{ThreadRoot, Unread};
use bytestring::ByteString;
use serde::Serialize;

fn encode(value: &impl Serialize) -> ByteString {
    // These types hold no maps with non-string keys and no custom serialisers: cannot fail.
    ByteString::from(serde_json::to_string(value).unwrap_or_default())
}

/// `{"type":"mention","room","message":MESSAGE}`: to the mentioned user's sockets, on every node,
/// whether or not they joined the room.
#[derive(Serialize)]
struct Mention<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: RoomId,
    message: &'a MessageView,
}

pub fn mention(message: &MessageView) -> ByteString {
    encode(&Mention {
        kind: "mention",
        room: message.room,
        message,
    })
}

/// `{"type":"unread","room","read_seq","unread","mentions"}`: the user's counts in a room after
/// their read marker moved (on any device), to all of their sockets on every node.
#[derive(Serialize)]
struct UnreadFrame {
    #[serde(rename = "type")]
    kind: &'static str,
    room: RoomId,
    read_seq: i64,
    unread: i64,
    mentions: i64,
}

pub fn unread(room: RoomId, counts: &Unread) -> ByteString {
    encode(&UnreadFrame {
        kind: "unread",
        room,
        read_seq: counts.read_seq,
        unread: counts.unread,
        mentions: counts.mentions,
    })
}

/// `{"type":"thread_updated","room","message":ROOT_ID,"reply_count","last_reply_at"}`: a reply
/// committed under `message`.
#[derive(Serialize)]
struct ThreadUpdated {
    #[serde(rename = "type")]
    kind: &'static str,
    room: RoomId,
    message: MessageId,
    reply_count: i64,
    last_reply_at: i64,
}

pub fn thread_updated(room: RoomId, root: &ThreadRoot) -> ByteString {
    encode(&ThreadUpdated {
        kind: "thread_updated",
        room,
        message: root.id,
        reply_count: root.reply_count,
        last_reply_at: root.last_reply_at,
    })
}

/// `{"type":"pinned","room","message":MESSAGE,"by":USER,"pinned_at"}`.
#[derive(Serialize)]
struct Pinned<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: RoomId,
    message: &'a MessageView,
    by: &'a UserRef,
    pinned_at: i64,
}

pub fn pinned(message: &MessageView, by: &UserRef, pinned_at: i64) -> ByteString {
    encode(&Pinned {
        kind: "pinned",
        room: message.room,
        message,
        by,
        pinned_at,
    })
}

/// `{"type":"unpinned","room","message":ID,"by":USER}`.
#[derive(Serialize)]
struct Unpinned<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: RoomId,
    message: MessageId,
    by: &'a UserRef,
}

pub fn unpinned(room: RoomId, message: MessageId, by: &UserRef) -> ByteString {
    encode(&Unpinned {
        kind: "unpinned",
        room,
        message,
        by,
    })
}
