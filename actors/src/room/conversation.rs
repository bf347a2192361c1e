//! What a message does besides being delivered: the mentions it makes (resolved against the
//! room's members on send, notified after the commit on every node), the thread it replies in
//! (the root's reply count, kept in step on every replica), and direct conversations' blocks
//! (checked by the store in the commit).

use super::fanout::RoomEvent;
use super::{Room, SessionUser};
use crate::ids::{MessageId, UserId};
use crate::mentions;
use crate::model::{MessageView, RoomKind, RoomRole};
use crate::protocol::conversation as frames;
use crate::registry::ToUsers;
use crate::store::{MessageExtras, ThreadRoot};

impl Room {
    /// The extras of a new message by `author` (with power `role` here).
    pub(super) fn extras_for(
        &self,
        author: &SessionUser,
        role: RoomRole,
        body: &str,
        also_in_room: bool,
    ) -> MessageExtras {
        let mut extras = MessageExtras {
            also_in_room,
            direct: self.info.kind == RoomKind::Direct,
            ..self.mentions_in(author.id, role, body)
        };
        // In a conversation every message is for everyone in it: each one notifies, like a
        // mention (so the others learn of a new conversation, and see it in their feed).
        if self.info.kind.is_conversation() {
            extras.mention_room = true;
            extras.mentions.clear();
            extras.mention_names.clear();
        }
        extras
    }

    /// The `@name`s of `body` (the store notifies the members of those names: a replica's member
    /// list misses people who joined through other nodes since it loaded); `@room` and `@here`
    /// only from moderators and up (from anyone else they are plain text), `@here` as the users
    /// online on any node.
    pub(super) fn mentions_in(&self, author: UserId, role: RoomRole, body: &str) -> MessageExtras {
        let found = mentions::parse(body);
        if found.is_empty() {
            return MessageExtras::default();
        }
        let everyone = role >= RoomRole::Moderator;
        let mut users: Vec<UserId> = Vec::new();
        if everyone && found.here && !found.room {
            users.extend(
                self.presence
                    .everyone_up_to(usize::MAX)
                    .into_iter()
                    .map(|u| u.id)
                    .filter(|id| *id != author),
            );
        }
        users.sort_unstable_by_key(|u| u.0);
        users.dedup();
        MessageExtras {
            mention_names: found.names,
            mentions: users,
            mention_room: everyone && found.room,
            ..MessageExtras::default()
        }
    }

    /// After a new message committed (and was delivered here): the mentioned users hear of it
    /// wherever they are; a reply's root shows its new count.
    pub(super) fn after_commit(
        &mut self,
        message: &MessageView,
        notified: Vec<UserId>,
        root: Option<ThreadRoot>,
    ) {
        if !notified.is_empty() {
            self.env.users.do_send(ToUsers {
                users: notified,
                frame: frames::mention(message),
            });
        }
        if let Some(root) = root {
            self.thread_grew(root);
            self.tell_others(RoomEvent::ThreadUpdated {
                message: root.id,
                reply_count: root.reply_count,
                last_reply_at: root.last_reply_at,
            });
        }
    }

    /// A thread's root has `reply_count` replies now (here or on another node): the ring's copy
    /// follows (counts only grow, so an older event arriving late changes nothing) and members
    /// are told.
    pub(super) fn thread_grew(&mut self, root: ThreadRoot) {
        let bump = |m: &mut MessageView| {
            if root.reply_count > m.reply_count {
                m.reply_count = root.reply_count;
                m.last_reply_at = Some(root.last_reply_at);
            }
        };
        if !self.seq.patch_held(root.id, bump) {
            if let Some(slot) = self.ring.iter_mut().find(|m| m.id == root.id) {
                bump(slot);
            }
        }
        self.broadcast(frames::thread_updated(self.id, &root));
    }
}

/// A root as a bus event describes it.
pub(super) fn root_of(message: MessageId, reply_count: i64, last_reply_at: i64) -> ThreadRoot {
    ThreadRoot {
        id: message,
        reply_count,
        last_reply_at,
    }
}
