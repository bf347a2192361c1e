//! The `show_starting` WebSocket event: to each follower's sockets (on every node) and to the
//! stream's linked room when a slot's occurrence opens.

use crate::db::schedules::StreamBrief;
use bytestring::ByteString;
use serde::Serialize;
use veza_actors::{RoomId, StreamId};

/// The stream a `show_starting` is about.
#[derive(Serialize)]
struct ShowStream<'a> {
    id: StreamId,
    title: &'a str,
    mount: &'a str,
    room_id: Option<RoomId>,
}

/// `{"type":"show_starting","stream":{id,title,mount,room_id},"room","slot","starts_at","ends_at"}`.
#[derive(Serialize)]
struct ShowStarting<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    stream: ShowStream<'a>,
    /// The linked room (null when none), so a room's members can tell it from a follower's copy.
    room: Option<RoomId>,
    /// The slot's id (a decimal string).
    slot: String,
    starts_at: i64,
    ends_at: i64,
}

pub fn show_starting(stream: &StreamBrief, slot: i64, starts_at: i64, ends_at: i64) -> ByteString {
    let room = stream.room_id;
    let event = ShowStarting {
        kind: "show_starting",
        stream: ShowStream {
            id: stream.id,
            title: &stream.title,
            mount: &stream.mount,
            room_id: room,
        },
        room,
        slot: slot.to_string(),
        starts_at,
        ends_at,
    };
    // Strings and numbers only: serialising cannot fail.
    ByteString::from(serde_json::to_string(&event).unwrap_or_default())
}
