//! A bot's private answer to a command (`command_reply`): the `id` of a `command` event is the
//! reply handle. Every replica of the room remembers, for a while, which bot each invocation went
//! to and who made it, so the bot may answer on whichever node it is connected to; the answer goes
//! to the invoker's sockets alone (on this node, and on the others through the bus), and is not
//! stored. Only the bot the command went to may answer it.

use super::fanout::RoomEvent;
use super::{ConnHandle, Room};
use crate::ids::UserId;
use crate::protocol::{event, ProtoError};
use actix::prelude::*;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a bot may answer a command privately.
pub const REPLY_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Invocations a replica remembers at most (the oldest are forgotten first).
const MAX_PENDING: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Invocation {
    bot: UserId,
    invoker: UserId,
}

/// The invocations a bot may still answer, oldest first.
#[derive(Debug, Default)]
pub struct PendingReplies {
    by_id: HashMap<String, Invocation>,
    order: VecDeque<(String, Instant)>,
}

impl PendingReplies {
    /// Remembers that command `id` went to `bot` from `invoker`.
    pub fn expect(&mut self, id: String, bot: UserId, invoker: UserId, now: Instant) {
        if id.is_empty() {
            return;
        }
        self.forget_old(now);
        if self
            .by_id
            .insert(id.clone(), Invocation { bot, invoker })
            .is_none()
        {
            self.order.push_back((id, now));
        }
        while self.order.len() > MAX_PENDING {
            if let Some((old, _)) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }

    /// Who invoked command `id`, if it went to `bot` and is recent enough.
    pub fn invoker(&mut self, id: &str, bot: UserId, now: Instant) -> Option<UserId> {
        self.forget_old(now);
        self.by_id
            .get(id)
            .filter(|i| i.bot == bot)
            .map(|i| i.invoker)
    }

    fn forget_old(&mut self, now: Instant) {
        while let Some((id, at)) = self.order.front() {
            if now.duration_since(*at) < REPLY_WINDOW {
                break;
            }
            self.by_id.remove(id);
            self.order.pop_front();
        }
    }
}

/// A `command_reply` frame from a bot.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ReplyToCommand {
    pub conn: ConnHandle,
    pub command: String,
    pub body: String,
    pub reference: Option<Value>,
}

impl Handler<ReplyToCommand> for Room {
    type Result = ();

    fn handle(&mut self, msg: ReplyToCommand, ctx: &mut Context<Self>) {
        self.when_loaded(ctx, |act, _ctx| act.reply_to_command(msg));
    }
}

impl Room {
    fn reply_to_command(&mut self, msg: ReplyToCommand) {
        let (conn, r) = (&msg.conn, msg.reference.as_ref());
        if !conn.user.is_bot() {
            return conn.error(&ProtoError::forbidden("only bots answer commands"), r);
        }
        let Some(invoker) = self
            .replies
            .invoker(&msg.command, conn.user.id, Instant::now())
        else {
            return conn.error(
                &ProtoError::not_found(
                    "no command of yours with that id in this room (or it is over 15 minutes old)",
                ),
                r,
            );
        };
        let frame = event::command_reply(self.id, &msg.command, &conn.user.user_ref(), &msg.body);
        self.deliver_to_user(invoker, &frame);
        self.tell_others(RoomEvent::Private {
            user: invoker,
            frame: frame.to_string(),
        });
        conn.outbox
            .push(event::command_replied(self.id, &msg.command, r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bot_asked_may_answer_and_only_for_a_while() {
        let mut p = PendingReplies::default();
        let t0 = Instant::now();
        p.expect("1-a".into(), UserId(7), UserId(1), t0);
        assert_eq!(p.invoker("1-a", UserId(7), t0), Some(UserId(1)));
        assert_eq!(p.invoker("1-a", UserId(8), t0), None, "another bot");
        assert_eq!(p.invoker("nope", UserId(7), t0), None);
        let later = t0 + REPLY_WINDOW + Duration::from_secs(1);
        assert_eq!(p.invoker("1-a", UserId(7), later), None, "too old");
        assert!(p.by_id.is_empty() && p.order.is_empty());
    }

    #[test]
    fn it_remembers_a_bounded_number() {
        let mut p = PendingReplies::default();
        let t0 = Instant::now();
        for i in 0..(MAX_PENDING + 10) {
            p.expect(i.to_string(), UserId(7), UserId(1), t0);
        }
        assert_eq!(p.by_id.len(), MAX_PENDING);
        assert_eq!(p.invoker("0", UserId(7), t0), None, "the oldest went first");
        assert!(p
            .invoker(&(MAX_PENDING + 9).to_string(), UserId(7), t0)
            .is_some());
    }
}
