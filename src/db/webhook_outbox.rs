//! The outbox of outgoing webhooks: in the transaction that commits a batch of chat writes, one
//! delivery row per (event, live hook of its room that wants it). The event and its deliveries
//! commit together, so a committed message is never without its calls, and a restart finds them
//! in the store. The room actor never waits on an endpoint: the dispatcher (src/webhooks/) makes
//! the calls later, from the rows.

use super::outgoing_webhooks;
use super::webhook_deliveries::{self, NewDelivery, PENDING};
use super::{DbConnection, DbError};
use serde::Serialize;
use veza_actors::model::{MessageKind, MessageView};
use veza_actors::store::{Applied, Request, RequestResult, Write};
use veza_actors::{MessageId, RoomId};

/// Called after a commit that queued deliveries.
pub type OutboxWaker = std::sync::Arc<dyn Fn() + Send + Sync>;

/// The event types a hook may ask for.
pub const EVENTS: [&str; 6] = [
    MESSAGE,
    "bot_message",
    "system",
    MESSAGE_UPDATED,
    "message_deleted",
    "reaction",
];
pub const MESSAGE: &str = "message";
pub const MESSAGE_UPDATED: &str = "message_updated";

/// The event a new message makes: people's messages (and `/me`), bots' messages and moderation
/// results are asked for separately (a hook that answers through a bot does not hear itself).
pub fn new_message_event(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::User | MessageKind::Action => MESSAGE,
        MessageKind::Bot => "bot_message",
        MessageKind::System => "system",
    }
}

/// One event of a committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub room: RoomId,
    pub event: &'static str,
    pub message: MessageId,
    /// For reactions: `{"emoji","user","added"}`.
    pub detail: Option<String>,
}

#[derive(Serialize)]
struct ReactionDetail<'a> {
    emoji: &'a str,
    user: String,
    added: bool,
}

/// The events of a committed batch, from its writes and what they did (repeats of a `client_id`
/// made nothing new, so nothing is sent for them again).
pub fn events_of(batch: &[Request], results: &[RequestResult]) -> Vec<OutboxEvent> {
    let mut out = Vec::new();
    for (request, result) in batch.iter().zip(results) {
        let Ok(applied) = result else { continue };
        for (write, applied) in request.iter().zip(applied) {
            if let Some(event) = event_of(write, applied) {
                out.push(event);
            }
        }
    }
    out
}

fn event_of(write: &Write, applied: &Applied) -> Option<OutboxEvent> {
    let of = |view: &MessageView, event: &'static str, detail: Option<String>| OutboxEvent {
        room: view.room,
        event,
        message: view.id,
        detail,
    };
    match (write, applied) {
        (
            Write::Message { .. },
            Applied::Message {
                message,
                duplicate: false,
                ..
            },
        ) => Some(of(message, new_message_event(message.kind), None)),
        (Write::Edit { .. }, Applied::Updated(view)) => Some(of(view, MESSAGE_UPDATED, None)),
        (Write::React { user, emoji, .. }, Applied::Updated(view)) => {
            let added = view
                .reactions
                .iter()
                .any(|r| &r.emoji == emoji && r.users.contains(user));
            let detail = serde_json::to_string(&ReactionDetail {
                emoji,
                user: user.0.to_string(),
                added,
            })
            .ok();
            Some(of(view, "reaction", detail))
        }
        (Write::Delete { .. }, Applied::Deleted { room, message }) => Some(OutboxEvent {
            room: *room,
            event: "message_deleted",
            message: *message,
            detail: None,
        }),
        _ => None,
    }
}

/// Queues a delivery of each event to each live hook of its room that wants it; returns how many.
/// No query at all when the batch made no event.
pub fn enqueue(
    conn: &mut DbConnection,
    events: &[OutboxEvent],
    now: i64,
) -> Result<usize, DbError> {
    if events.is_empty() {
        return Ok(0);
    }
    let mut rooms: Vec<RoomId> = events.iter().map(|e| e.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let hooks = outgoing_webhooks::live_in_rooms(conn, &rooms)?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let rows: Vec<NewDelivery> = events
        .iter()
        .flat_map(|e| {
            hooks
                .iter()
                .filter(move |h| h.room_id == e.room && h.wants(e.event))
                .map(move |h| NewDelivery {
                    hook_id: h.id,
                    event: e.event,
                    message_id: e.message,
                    detail: e.detail.clone(),
                    status: PENDING,
                    attempts: 0,
                    next_attempt_at: now,
                    created_at: now,
                })
        })
        .collect();
    webhook_deliveries::insert_many(conn, &rows)?;
    Ok(rows.len())
}
