//! The storage port of the actors: what the persistence and reader actors need from a database,
//! as a blocking trait. The server implements it with diesel (PostgreSQL or SQLite); this crate
//! never sees SQL.

use crate::ids::{MessageId, RoomId, UploadId, UserId};
use crate::model::{
    BotCommand, CommandSpec, MessageKind, MessageView, RoomRole, RoomSnapshot, UserRef,
};
use thiserror::Error;

/// The whole store failed (connection lost, disk full, ...): nothing in the batch was written.
#[derive(Debug, Clone, Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// One write request failed on its own merits; the others in its batch are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WriteError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// Not allowed (a direct message to or from someone who blocked the other).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
}

/// Different emoji one message may carry.
pub const MAX_DISTINCT_REACTIONS: usize = 20;
/// Reactions one user may put on one message.
pub const MAX_REACTIONS_PER_USER: usize = 10;

/// A row for the append-only audit log, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub actor: Option<UserId>,
    pub action: String,
    pub target_user: Option<UserId>,
    pub room: Option<RoomId>,
    pub details: Option<String>,
}

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// A new message; gets the room's next seq in the commit. With a `client_id` already used by the
    /// same author, nothing is written and the original message is returned.
    Message {
        room: RoomId,
        author: UserRef,
        kind: MessageKind,
        body: String,
        client_id: Option<String>,
        thread: Option<MessageId>,
        extras: MessageExtras,
    },
    Edit {
        message: MessageId,
        body: String,
    },
    Delete {
        message: MessageId,
    },
    /// Adds the reaction, or removes it if this user already had it (a toggle). Adding is
    /// refused (`Invalid`) past [`MAX_DISTINCT_REACTIONS`] emoji on the message or
    /// [`MAX_REACTIONS_PER_USER`] by this user on it.
    React {
        message: MessageId,
        user: UserId,
        emoji: String,
    },
    /// Creates or updates a membership row. `None` fields are left as they are (new rows: member,
    /// not banned, not muted); `Some(None)` clears a ban or mute.
    Member {
        room: RoomId,
        user: UserId,
        role: Option<RoomRole>,
        banned_until: Option<Option<i64>>,
        muted_until: Option<Option<i64>>,
    },
    /// A kick: the membership row's `kicked_at` becomes the commit's time (the `created_at` of the
    /// kick's system message in the same request), so a replica that missed the live event takes
    /// the kicked member out when it next reloads the state. No row is created for a non-member.
    Kick {
        room: RoomId,
        user: UserId,
    },
    Topic {
        room: RoomId,
        topic: Option<String>,
    },
    SlowMode {
        room: RoomId,
        seconds: i64,
    },
    Audit(AuditRecord),
    /// Members have read the room up to their `seq` (a marker only moves forward, and not past
    /// the room's last seq in the store); their mention notifications up to it are read too.
    /// Applied as [`Applied::Markers`] with the markers as they stand.
    Reads {
        room: RoomId,
        markers: Vec<(UserId, i64)>,
    },
    /// Replaces the commands `bot` registered in `room` (an empty list removes them). Refused
    /// (`Invalid`) when another bot holds one of the names.
    BotCommands {
        room: RoomId,
        bot: UserRef,
        commands: Vec<CommandSpec>,
    },
}

/// What one write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// A new message (`duplicate: false`) or the original one for a repeated `client_id`.
    Message {
        message: MessageView,
        duplicate: bool,
        /// Who got a mention notification (empty for a duplicate).
        notified: Vec<UserId>,
        /// For a new thread reply: its root as the commit left it.
        root: Option<ThreadRoot>,
    },
    /// An edit or reaction: the message as it is now.
    Updated(MessageView),
    Deleted {
        room: RoomId,
        message: MessageId,
    },
    Done,
    /// Read markers as they stand after the write (never past the room's last seq, never moved
    /// back; members only), and the room's last seq in the store.
    Markers {
        markers: Vec<(UserId, i64)>,
        last_seq: i64,
    },
    /// The commands the bot now has in the room.
    BotCommands(Vec<BotCommand>),
}

/// What a message carries besides its text (all empty for a plain message).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageExtras {
    /// A thread reply that is shown in the room's timeline too.
    pub also_in_room: bool,
    /// `@name`s (lower-cased): the members of that name are notified (resolved by the store,
    /// which knows every member, wherever they joined).
    pub mention_names: Vec<String>,
    /// Users to notify by id (the members online for `@here`); the author never is.
    pub mentions: Vec<UserId>,
    /// `@room`: notify every member.
    pub mention_room: bool,
    /// A direct conversation: refused (`Forbidden`) when either member blocked the other.
    pub direct: bool,
    /// Uploads (ids) the message takes: each must be the author's, in the same room and not
    /// taken by another message, else the write is `Invalid` and nothing of it is kept.
    pub attachments: Vec<UploadId>,
}

impl MessageExtras {
    /// Nothing to do besides inserting the row.
    pub fn is_plain(&self) -> bool {
        *self == MessageExtras::default()
    }
}

/// A thread's root after a reply committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadRoot {
    pub id: MessageId,
    pub reply_count: i64,
    pub last_reply_at: i64,
}

/// A member's standing with one room's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread {
    pub user: UserId,
    /// Their read marker.
    pub read_seq: i64,
    /// Messages after the marker by others, not deleted, in the timeline.
    pub unread: i64,
    /// Unread mention notifications in the room.
    pub mentions: i64,
}

/// One unit of work: all its writes commit together or not at all.
pub type Request = Vec<Write>;
pub type RequestResult = Result<Vec<Applied>, WriteError>;

/// A blocking store. One instance per persistence or reader thread.
pub trait ChatStore: Send {
    /// Applies every request of a batch in as few transactions as possible. A request that is
    /// invalid fails alone; a store failure fails the call (and then nothing was written).
    fn apply(&mut self, batch: &[Request]) -> Result<Vec<RequestResult>, StoreError>;

    /// The room and its members and recent messages, or `None` if there is no such room.
    fn load_room(
        &mut self,
        room: RoomId,
        recent: usize,
    ) -> Result<Option<RoomSnapshot>, StoreError>;

    /// Up to `limit` messages with seq > `after`, ascending.
    fn messages_after(
        &mut self,
        room: RoomId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<MessageView>, StoreError>;

    /// Up to `limit` messages with seq < `before`, newest first.
    fn messages_before(
        &mut self,
        room: RoomId,
        before: i64,
        limit: usize,
    ) -> Result<Vec<MessageView>, StoreError>;

    /// The room a message is in and its author.
    fn message_owner(&mut self, message: MessageId)
        -> Result<Option<(RoomId, UserId)>, StoreError>;

    /// Each user's read marker and unread counts in `room` (users without a membership row are
    /// left out).
    fn unread(&mut self, room: RoomId, users: &[UserId]) -> Result<Vec<Unread>, StoreError>;

    /// A user by name (case-insensitive), for moderation commands that name someone.
    fn find_user(&mut self, username: &str) -> Result<Option<UserRef>, StoreError>;

    /// How each of these sessions stands now (sessions not in the store are left out), so sockets
    /// that missed a revocation event (a logout, a disabled user, a global role change) are
    /// closed anyway.
    fn session_standing(&mut self, sessions: &[i64]) -> Result<Vec<SessionStanding>, StoreError>;
}

/// A login as the store has it now, for the sockets opened with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStanding {
    pub session: i64,
    /// Revoked, or its user disabled.
    pub ended: bool,
    /// The user's global role now (its name, as sockets record the role they opened with).
    pub role: String,
}

/// Makes a store for each persistence or reader thread.
pub type StoreFactory = std::sync::Arc<dyn Fn() -> Box<dyn ChatStore> + Send + Sync>;
