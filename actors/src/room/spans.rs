//! The room's spans: one per handled client message (`room.send`, `room.join`), with the room
//! and the user, when tracing is on.

use super::Room;
use crate::ids::UserId;
use crate::telemetry::{self, Span};
use opentelemetry::KeyValue;

impl Room {
    pub(super) fn span(&self, name: &'static str, user: UserId) -> Option<Span> {
        telemetry::span(name, || {
            vec![
                KeyValue::new("veza.room_id", self.id.0),
                KeyValue::new("veza.user_id", user.0),
            ]
        })
    }
}
