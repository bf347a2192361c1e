//! Edits, deletions and reactions: checked here, committed, then shown to members on every node.

use super::fanout::{RoomEvent, Toggled};
use super::{write_error, ConnHandle, Room};
use crate::ids::{MessageId, UserId};
use crate::model::{MessageView, RoomRole};
use crate::protocol::{event, ProtoError};
use crate::store::{Applied, Write};
use actix::prelude::*;
use serde_json::Value;

/// Edit, delete or react to a message in this room. `author` was looked up from the store.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChangeMessage {
    pub conn: ConnHandle,
    pub message: MessageId,
    pub author: UserId,
    pub change: Change,
    pub reference: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum Change {
    Edit(String),
    Delete,
    React(String),
}

impl Handler<ChangeMessage> for Room {
    type Result = ();

    fn handle(&mut self, msg: ChangeMessage, ctx: &mut Context<Self>) {
        self.when_loaded(ctx, |act, ctx| act.change_message(ctx, msg));
    }
}

impl Room {
    /// An edited or reacted-to message: into the ring (or the sequencer's held copy, which goes
    /// out in its latest state), and to members as `message_updated` or a `reaction` delta.
    pub(super) fn show_update(&mut self, view: &MessageView, toggled: Option<&Toggled>) {
        if self.update_ring(view) {
            return;
        }
        self.broadcast(match toggled {
            Some(t) => event::reaction(view, &t.emoji, t.user),
            None => event::message_updated(view),
        });
    }

    fn change_message(&mut self, ctx: &mut Context<Self>, msg: ChangeMessage) {
        let conn = msg.conn.clone();
        let r = msg.reference.clone();
        if self.unavailable(&conn, r.as_ref()) {
            return;
        }
        if !self.is_online(conn.user.id, conn.id()) {
            let not_found = ProtoError::not_found(crate::connection::NO_SUCH_MESSAGE);
            return conn.error(&not_found, r.as_ref());
        }
        let now = crate::ids::now_ms() as i64;
        let role = self.role_of(&conn.user);
        let is_author = msg.author == conn.user.id;
        let member = self.members.get(&conn.user.id);
        if member.is_some_and(|m| m.is_banned(now) || m.is_muted(now)) && role < RoomRole::Moderator
        {
            return conn.error(
                &ProtoError::forbidden("you are muted or banned in this room"),
                r.as_ref(),
            );
        }
        let write = match &msg.change {
            Change::Edit(body) if is_author => Write::Edit {
                message: msg.message,
                body: body.clone(),
            },
            Change::Edit(_) => {
                return conn.error(
                    &ProtoError::forbidden("only the author may edit a message"),
                    r.as_ref(),
                )
            }
            Change::Delete if is_author || role >= RoomRole::Moderator => Write::Delete {
                message: msg.message,
            },
            Change::Delete => {
                return conn.error(
                    &ProtoError::forbidden("only the author or a moderator may delete a message"),
                    r.as_ref(),
                )
            }
            Change::React(emoji) => Write::React {
                message: msg.message,
                user: conn.user.id,
                emoji: emoji.clone(),
            },
        };
        let toggled = match &msg.change {
            Change::React(emoji) => Some(Toggled {
                emoji: emoji.clone(),
                user: conn.user.id,
            }),
            _ => None,
        };
        let mut writes = vec![write];
        if matches!(msg.change, Change::Delete) && !is_author {
            writes.push(Write::Audit(crate::store::AuditRecord {
                actor: Some(conn.user.id),
                action: "room.delete_message".into(),
                target_user: Some(msg.author),
                room: Some(self.id),
                details: Some(serde_json::json!({"message": msg.message.to_string()}).to_string()),
            }));
        }
        self.persist(ctx, writes, move |act, _ctx, result| match result {
            Ok(applied) => match applied.into_iter().next() {
                Some(Applied::Updated(view)) => {
                    act.show_update(&view, toggled.as_ref());
                    act.tell_others(RoomEvent::Updated {
                        message: view,
                        reaction: toggled,
                    });
                }
                Some(Applied::Deleted { room, message }) => {
                    if !act.mark_deleted(message) {
                        act.broadcast(event::message_deleted(room, message));
                    }
                    act.tell_others(RoomEvent::Deleted { message });
                }
                _ => conn.error(&ProtoError::internal(), r.as_ref()),
            },
            Err(e) => conn.error(&write_error(e), r.as_ref()),
        });
    }
}
