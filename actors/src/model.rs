//! The chat domain as the actors see it: rooms, members, messages, as loaded from and written to the
//! store. These are also the JSON shapes of the protocol (MESSAGE in DESIGN section 3).

use crate::ids::{MessageId, RoomId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRef {
    pub id: UserId,
    pub username: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// Typed by a person or bot.
    User,
    /// `/me waves`.
    Action,
    /// The result of a moderation command; `author` is who caused it.
    System,
    /// Written by a bot account (a command's answer, or anything else it says).
    Bot,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::User => "user",
            MessageKind::Action => "action",
            MessageKind::System => "system",
            MessageKind::Bot => "bot",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "action" => MessageKind::Action,
            "system" => MessageKind::System,
            "bot" => MessageKind::Bot,
            _ => MessageKind::User,
        }
    }
}

/// One emoji on one message: how many, and who.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReactionView {
    pub emoji: String,
    pub count: u32,
    pub users: Vec<UserId>,
}

/// MESSAGE of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: MessageId,
    pub room: RoomId,
    pub seq: i64,
    pub kind: MessageKind,
    pub author: UserRef,
    /// Empty once deleted.
    pub body: String,
    #[schema(required = true)]
    pub thread: Option<MessageId>,
    pub created_at: i64,
    #[schema(required = true)]
    pub edited_at: Option<i64>,
    /// Deleted messages keep their place (seq stays gap-free) with an empty body.
    pub deleted: bool,
    pub reactions: Vec<ReactionView>,
    /// A thread's root: how many replies it has and when the last came (absent: none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reply_count: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_reply_at: Option<i64>,
    /// A thread reply that is shown in the room's timeline too (absent: only in its thread).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub also_in_room: bool,
    /// The custom emoji that `:shortcode:`s in the body or the reactions name (the room's own
    /// before the server-wide ones), filled from the store; absent when there are none. A
    /// `:shortcode:` that names none is plain text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emoji: Vec<EmojiRef>,
    /// The uploads the message carries (the `attachments` of its `send`), filled from the store;
    /// absent when there are none, and once the message is deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentRef>,
}

/// An upload a message carries: its bytes at `url`, a small image at `thumbnail_url` for
/// pictures. `content_type` was read from the file, not taken from the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachmentRef {
    pub id: crate::ids::UploadId,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub thumbnail_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub height: Option<i64>,
}

/// A custom emoji a message shows: `:shortcode:` is drawn with the image at `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmojiRef {
    pub shortcode: String,
    pub url: String,
}

impl MessageView {
    /// A top-level message as its commit made it: not edited, deleted or reacted to yet.
    pub fn committed(
        id: MessageId,
        room: RoomId,
        seq: i64,
        kind: MessageKind,
        author: UserRef,
        body: String,
        created_at: i64,
    ) -> Self {
        MessageView {
            id,
            room,
            seq,
            kind,
            author,
            body,
            thread: None,
            created_at,
            edited_at: None,
            deleted: false,
            reactions: Vec::new(),
            reply_count: 0,
            last_reply_at: None,
            also_in_room: false,
            emoji: Vec::new(),
            attachments: Vec::new(),
        }
    }

    /// Shown in the room's timeline: not a reply, or a reply also sent to the room.
    pub fn in_timeline(&self) -> bool {
        self.thread.is_none() || self.also_in_room
    }
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// What a room is: an ordinary room, or a direct (two people) or group conversation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    #[default]
    Room,
    Direct,
    Group,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Room => "room",
            RoomKind::Direct => "direct",
            RoomKind::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "direct" => RoomKind::Direct,
            "group" => RoomKind::Group,
            _ => RoomKind::Room,
        }
    }

    /// Direct and group conversations: private by construction, nobody can be invited in.
    pub fn is_conversation(self) -> bool {
        self != RoomKind::Room
    }
}

/// Per-room role, ordered by power.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RoomRole {
    Member,
    Moderator,
    Owner,
}

impl RoomRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomRole::Member => "member",
            RoomRole::Moderator => "moderator",
            RoomRole::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "owner" => RoomRole::Owner,
            "moderator" => RoomRole::Moderator,
            _ => RoomRole::Member,
        }
    }
}

/// A user's standing in one room, as stored in `room_members`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberState {
    pub username: String,
    pub role: RoomRole,
    /// Unix ms; `Some(i64::MAX)` is a permanent ban.
    pub banned_until: Option<i64>,
    pub muted_until: Option<i64>,
    /// When they were last kicked (unix ms, the commit's time): a replica that knew an older
    /// value takes out their connections that joined before it.
    pub kicked_at: Option<i64>,
}

impl MemberState {
    pub fn is_banned(&self, now: i64) -> bool {
        self.banned_until.is_some_and(|t| t > now)
    }

    pub fn is_muted(&self, now: i64) -> bool {
        self.muted_until.is_some_and(|t| t > now)
    }
}

/// The room's own row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomInfo {
    pub id: RoomId,
    pub name: String,
    pub topic: Option<String>,
    pub private: bool,
    pub owner: UserId,
    pub slow_mode_s: i64,
    pub last_seq: i64,
    pub kind: RoomKind,
}

/// Everything a room actor loads when it starts (or restarts).
#[derive(Debug, Clone)]
pub struct RoomSnapshot {
    pub info: RoomInfo,
    pub members: HashMap<UserId, MemberState>,
    /// The latest messages, ascending by seq, for the ring buffer.
    pub recent: Vec<MessageView>,
    /// Commands bots registered here, by name.
    pub commands: Vec<BotCommand>,
}

/// What a bot asks to register: `/name args` - description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// A hint for the arguments, shown in `/help` and the page (`NdM`, `CITY`).
    #[serde(default)]
    pub args: String,
}

/// A registered command and the bot that answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotCommand {
    pub name: String,
    pub description: String,
    pub args: String,
    pub bot: UserRef,
}
