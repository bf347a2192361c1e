//! The JSON body of an outgoing webhook call, and the trigger-word filter.
//!
//! `{"id","event","hook","room","created_at","message":MESSAGE,"reaction"?,"trigger"?}`: `id` is
//! the delivery's (the same on every retry, so receivers can drop repeats), `message` the message
//! as it stood at the first attempt (for `message_deleted`, with `deleted: true` and no body).

use crate::db::outgoing_webhooks::OutgoingWebhook;
use crate::db::webhook_deliveries::Delivery;
use crate::db::webhook_outbox::{MESSAGE, MESSAGE_UPDATED};
use serde::{Deserialize, Serialize};
use veza_actors::model::MessageView;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReactionDetail {
    pub emoji: String,
    pub user: String,
    pub added: bool,
}

#[derive(Serialize)]
struct Payload<'a> {
    id: String,
    event: &'a str,
    hook: String,
    room: String,
    created_at: i64,
    message: &'a MessageView,
    #[serde(skip_serializing_if = "Option::is_none")]
    reaction: Option<ReactionDetail>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger: Option<&'a str>,
}

/// What to do with a delivery whose body is not made yet.
#[derive(Debug, PartialEq, Eq)]
pub enum Rendered {
    Send(String),
    /// Not wanted after all: the hook has trigger words and the message starts with none.
    Skip,
}

/// The trigger word `body` starts with, if the hook has trigger words. Case-insensitive, the
/// whole first word: `deploy` matches "Deploy now" and not "deployment".
pub fn trigger_of<'a>(hook: &'a OutgoingWebhook, body: &str) -> Option<&'a str> {
    let first = body.split_whitespace().next()?.to_lowercase();
    hook.trigger_words().find(|t| *t == first)
}

/// The body for `delivery`, given its message as the store has it now.
pub fn render(delivery: &Delivery, hook: &OutgoingWebhook, message: &MessageView) -> Rendered {
    let filtered = matches!(
        delivery.event.as_str(),
        MESSAGE | "bot_message" | MESSAGE_UPDATED
    );
    let trigger = if filtered && hook.trigger_words().next().is_some() {
        match trigger_of(hook, &message.body) {
            Some(t) => Some(t),
            None => return Rendered::Skip,
        }
    } else {
        None
    };
    let payload = Payload {
        id: delivery.id.to_string(),
        event: &delivery.event,
        hook: hook.id.to_string(),
        room: hook.room_id.to_string(),
        created_at: delivery.created_at,
        message,
        reaction: delivery
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok()),
        trigger,
    };
    match serde_json::to_string(&payload) {
        Ok(body) => Rendered::Send(body),
        // Nothing here fails to serialise; a delivery that could not be rendered is dropped.
        Err(_) => Rendered::Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veza_actors::model::{MessageKind, UserRef};
    use veza_actors::{MessageId, RoomId, UserId};

    fn hook(triggers: &str) -> OutgoingWebhook {
        OutgoingWebhook {
            id: 7,
            room_id: RoomId(3),
            name: "ci".into(),
            url: "https://example.com/".into(),
            secret_sealed: String::new(),
            events: "message".into(),
            triggers: triggers.into(),
            created_by: UserId(1),
            created_at: 0,
            revoked_at: None,
            consecutive_failures: 0,
            circuit_open_until: None,
            trial_until: None,
        }
    }

    fn delivery(event: &str) -> Delivery {
        Delivery {
            id: 11,
            hook_id: 7,
            event: event.into(),
            message_id: MessageId(5),
            detail: None,
            payload: None,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: 0,
            claimed_until: None,
            last_status: None,
            last_error: None,
            latency_ms: None,
            created_at: 1_000,
            finished_at: None,
        }
    }

    fn message(body: &str) -> MessageView {
        MessageView::committed(
            MessageId(5),
            RoomId(3),
            9,
            MessageKind::User,
            UserRef {
                id: UserId(1),
                username: "alice".into(),
            },
            body.into(),
            1_000,
        )
    }

    #[test]
    fn trigger_words_match_the_whole_first_word_in_any_case() {
        let h = hook("deploy !status");
        assert_eq!(trigger_of(&h, "Deploy now"), Some("deploy"));
        assert_eq!(trigger_of(&h, "  !status"), Some("!status"));
        assert_eq!(trigger_of(&h, "deployment"), None);
        assert_eq!(trigger_of(&h, "please deploy"), None);
        assert_eq!(trigger_of(&h, ""), None);
    }

    #[test]
    fn messages_without_a_trigger_are_skipped_and_others_carry_it() {
        let h = hook("deploy");
        assert_eq!(
            render(&delivery("message"), &h, &message("hello")),
            Rendered::Skip
        );
        let Rendered::Send(body) = render(&delivery("message"), &h, &message("deploy api")) else {
            panic!("should send");
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["trigger"], "deploy");
        assert_eq!(v["id"], "11");
        assert_eq!(v["event"], "message");
        assert_eq!(v["room"], "3");
        assert_eq!(v["message"]["body"], "deploy api");
        // Reactions and deletions are not filtered by trigger words.
        assert!(matches!(
            render(&delivery("message_deleted"), &h, &message("")),
            Rendered::Send(_)
        ));
        // Without trigger words everything is sent, with no `trigger` field.
        let Rendered::Send(body) = render(&delivery("message"), &hook(""), &message("hi")) else {
            panic!("should send");
        };
        assert!(!body.contains("\"trigger\""));
    }
}
