//! Messages that come from outside a WebSocket (an incoming webhook's POST): committed like any
//! other message, delivered here and told to the other nodes, answered to the caller.

use super::fanout::{Effect, RoomEvent};
use super::{write_error, Room};
use crate::model::{MessageKind, MessageView, UserRef};
use crate::protocol::ProtoError;
use crate::store::{Applied, Write};
use actix::prelude::*;

/// Post `body` as `author` (a member of the room); resolves once it is durable, with the message
/// and whether it was there already (a repeated `client_id`: nothing new is written or sent).
#[derive(Message)]
#[rtype(result = "Result<Posted, ProtoError>")]
pub struct Post {
    pub author: UserRef,
    pub kind: MessageKind,
    pub body: String,
    /// The poster's idempotency key: a second post with it gets the first one's message.
    pub client_id: Option<String>,
}

/// What a [`Post`] did.
#[derive(Debug, Clone)]
pub struct Posted {
    pub message: MessageView,
    /// The `client_id` was used before: this is that post's message, not a new one.
    pub repeated: bool,
}

type Reply = tokio::sync::oneshot::Sender<Result<Posted, ProtoError>>;

impl Handler<Post> for Room {
    type Result = ResponseFuture<Result<Posted, ProtoError>>;

    fn handle(&mut self, msg: Post, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.when_loaded(ctx, move |act, ctx| act.post(ctx, msg, tx, false));
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(ProtoError::internal())) })
    }
}

impl Room {
    fn post(&mut self, ctx: &mut Context<Self>, msg: Post, tx: Reply, refreshed: bool) {
        let now = crate::ids::now_ms() as i64;
        let refusal = match self.members.get(&msg.author.id) {
            // A poster made since this replica loaded (a new webhook): its membership is in the
            // store. Read the members again, holding everything else meanwhile.
            None if !refreshed => {
                let id = self.id;
                self.env
                    .readers
                    .query(move |store| store.load_room(id, 0))
                    .into_actor(self)
                    .map(move |result, act, ctx| match result {
                        // Only the poster's row: the rest of the state changes through its own
                        // events (a reload here would skip their clean-up, kicks for one).
                        Ok(Some(mut snapshot)) => {
                            if let Some(member) = snapshot.members.remove(&msg.author.id) {
                                act.members.insert(msg.author.id, member);
                            }
                            act.guarded(ctx, |act, ctx| act.post(ctx, msg, tx, true));
                        }
                        _ => {
                            let _caller_may_be_gone = tx.send(Err(ProtoError::internal()));
                        }
                    })
                    .wait(ctx);
                return;
            }
            None => Some("the poster is not a member of this room"),
            Some(m) if m.is_banned(now) || m.is_muted(now) => {
                Some("the poster is banned or muted in this room")
            }
            Some(_) => None,
        };
        if let Some(why) = refusal {
            let _caller_may_be_gone = tx.send(Err(ProtoError::forbidden(why)));
            return;
        }
        let write = Write::Message {
            room: self.id,
            author: msg.author,
            kind: msg.kind,
            body: msg.body,
            client_id: msg.client_id,
            thread: None,
            attachments: Vec::new(),
        };
        self.persist(ctx, vec![write], move |act, ctx, result| {
            let answer = match result {
                Ok(applied) => match applied.into_iter().last() {
                    Some(Applied::Message {
                        message,
                        duplicate: true,
                    }) => Ok(Posted {
                        message,
                        repeated: true,
                    }),
                    Some(Applied::Message { message, .. }) => {
                        act.deliver(ctx, message.clone());
                        act.tell_others(RoomEvent::Message {
                            message: message.clone(),
                            effect: Effect::None,
                        });
                        Ok(Posted {
                            message,
                            repeated: false,
                        })
                    }
                    _ => Err(ProtoError::internal()),
                },
                Err(e) => Err(write_error(e)),
            };
            let _caller_may_be_gone = tx.send(answer);
        });
    }
}
