//! `send`: a message (checked against bans, mutes and slow mode) or a slash command, committed
//! and then acked, delivered here and told to the other nodes.

use super::fanout::{Effect, RoomEvent};
use super::{moderation, write_error, ConnHandle, Room};
use crate::ids::{MessageId, UploadId};
use crate::model::{MessageKind, MessageView, RoomRole};
use crate::protocol::{event, ErrorCode, ProtoError};
use crate::store::{Applied, MessageExtras, Write};
use actix::prelude::*;
use serde_json::Value;

/// A `send` frame (a message or a slash command).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendMessage {
    pub conn: ConnHandle,
    pub body: String,
    pub client_id: String,
    pub thread: Option<MessageId>,
    /// A thread reply shown in the room's timeline too.
    pub also_in_room: bool,
    /// Uploads the message takes (checked in the commit: the author's, in this room, free).
    pub attachments: Vec<UploadId>,
    pub reference: Option<Value>,
}

impl Handler<SendMessage> for Room {
    type Result = ();

    fn handle(&mut self, msg: SendMessage, ctx: &mut Context<Self>) {
        let _span = self.span("room.send", msg.conn.user.id);
        self.when_loaded(ctx, |act, ctx| act.send_message(ctx, msg));
    }
}

impl Room {
    fn send_message(&mut self, ctx: &mut Context<Self>, msg: SendMessage) {
        let conn = &msg.conn;
        let r = msg.reference.as_ref();
        if self.unavailable(conn, r) {
            return;
        }
        if !self.is_online(conn.user.id, conn.id()) {
            return conn.error(&ProtoError::forbidden("join the room first"), r);
        }
        let now = crate::ids::now_ms() as i64;
        let role = self.role_of(&conn.user);
        if let Some(member) = self.members.get(&conn.user.id) {
            if member.is_banned(now) && role < RoomRole::Moderator {
                return conn.error(&ProtoError::forbidden("you are banned from this room"), r);
            }
        }
        if msg.body.starts_with('/') {
            if !msg.attachments.is_empty() {
                return conn.error(
                    &ProtoError::bad_request("a command cannot carry attachments"),
                    r,
                );
            }
            return moderation::run(self, ctx, msg);
        }
        if let Some(member) = self.members.get(&conn.user.id) {
            if member.is_muted(now) && role < RoomRole::Moderator {
                return conn.error(&ProtoError::forbidden("you are muted in this room"), r);
            }
        }
        if self.info.slow_mode_s > 0 && role < RoomRole::Moderator {
            if let Some(last) = self.last_send.get(&conn.user.id) {
                let wait_ms = last + self.info.slow_mode_s * 1000 - now;
                if wait_ms > 0 {
                    crate::metrics::metrics()
                        .rate_limited
                        .with(&["slow_mode"])
                        .inc();
                    let secs = (wait_ms + 999) / 1000;
                    return conn.error(
                        &ProtoError::new(
                            ErrorCode::RateLimited,
                            format!("slow mode: wait {secs} s"),
                        ),
                        r,
                    );
                }
            }
            self.last_send.insert(conn.user.id, now);
        }
        let extras = MessageExtras {
            attachments: msg.attachments.clone(),
            ..self.extras_for(&conn.user, role, &msg.body, msg.also_in_room)
        };
        let write = Write::Message {
            room: self.id,
            author: conn.user.user_ref(),
            kind: if conn.user.is_bot() {
                MessageKind::Bot
            } else {
                MessageKind::User
            },
            body: msg.body.clone(),
            client_id: Some(msg.client_id.clone()),
            thread: msg.thread,
            extras,
        };
        self.commit_message(
            ctx,
            vec![write],
            msg.conn,
            msg.client_id,
            msg.reference,
            |_, _| Effect::None,
        );
    }

    /// Commits writes ending in a message, then acks the author, delivers it here, runs `after`
    /// (the in-memory effect of a command) and tells the other nodes the message with the effect
    /// `after` returns.
    pub(crate) fn commit_message(
        &mut self,
        ctx: &mut Context<Self>,
        writes: Vec<Write>,
        conn: ConnHandle,
        client_id: String,
        reference: Option<Value>,
        after: impl FnOnce(&mut Self, &MessageView) -> Effect + 'static,
    ) {
        self.persist(ctx, writes, move |act, ctx, result| {
            let r = reference.as_ref();
            match result {
                Ok(applied) => match applied.into_iter().last() {
                    Some(Applied::Message {
                        message,
                        duplicate,
                        notified,
                        root,
                    }) => {
                        // The author hears "durable" first, then sees it arrive like everyone.
                        conn.outbox.push(event::ack(&client_id, &message, r));
                        if duplicate {
                            // A retry after an outcome the author never heard (the first commit
                            // may have gone unannounced): deliver it again; sequencers drop
                            // real repeats.
                            act.deliver(ctx, message.clone());
                            act.tell_others(RoomEvent::Message {
                                message,
                                effect: Effect::None,
                            });
                        } else {
                            act.deliver(ctx, message.clone());
                            let effect = after(act, &message);
                            act.after_commit(&message, notified, root);
                            act.tell_others(RoomEvent::Message { message, effect });
                        }
                    }
                    _ => conn.error(&ProtoError::internal(), r),
                },
                Err(e) => conn.error(&write_error(e), r),
            }
        });
    }
}
