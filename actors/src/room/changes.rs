//! Edits, deletions and reactions: checked here, committed, then shown to members on every node.

use super::fanout::RoomEvent;
use super::{write_error, ConnHandle, Room};
use crate::ids::{MessageId, UserId};
use crate::model::RoomRole;
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
    fn change_message(&mut self, ctx: &mut Context<Self>, msg: ChangeMessage) {
        let conn = msg.conn.clone();
        let r = msg.reference.clone();
        if self.unavailable(&conn, r.as_ref()) {
            return;
        }
        if !self.is_online(conn.user.id, conn.id()) {
            return conn.error(&ProtoError::forbidden("join the room first"), r.as_ref());
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
        let react = matches!(msg.change, Change::React(_));
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
                    if !act.update_ring(&view) {
                        act.broadcast(if react {
                            event::reaction(&view)
                        } else {
                            event::message_updated(&view)
                        });
                    }
                    act.tell_others(RoomEvent::Updated {
                        message: view,
                        reaction: react,
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
