//! The WebSocket protocol (DESIGN section 3): client frames in, server events out. One JSON object
//! per text frame; `ref` is echoed on every reply to a client frame.

pub mod conversation;

use crate::ids::{MessageId, RoomId, UploadId};
use crate::model::{MessageView, UserRef};
use bytestring::ByteString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The contract's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    RateLimited,
    TooLarge,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error for one client frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError {
    pub code: ErrorCode,
    pub message: String,
}

impl ProtoError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal, "internal error, try again")
    }
}

/// Longest message body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
pub const MAX_CLIENT_ID_CHARS: usize = 64;
pub const MAX_EMOJI_CHARS: usize = 32;
pub const MAX_HISTORY_LIMIT: u32 = 100;
/// Most uploads one message may carry.
pub const MAX_ATTACHMENTS: usize = 10;

/// A client frame, after the envelope (`type`, `ref`) was read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Join {
        room: RoomId,
        since: Option<i64>,
    },
    Leave {
        room: RoomId,
    },
    Send {
        room: RoomId,
        body: String,
        client_id: String,
        thread: Option<MessageId>,
        /// A thread reply shown in the room's timeline too.
        #[serde(default)]
        also_in_room: bool,
        /// Uploads the message carries (`POST /api/v2/uploads` ids), at most
        /// [`MAX_ATTACHMENTS`]; with some, the body may be empty.
        #[serde(default)]
        attachments: Vec<UploadId>,
    },
    /// The member has read the room up to `seq` (their read marker; it only moves forward).
    Read {
        room: RoomId,
        seq: i64,
    },
    Edit {
        message: MessageId,
        body: String,
    },
    Delete {
        message: MessageId,
    },
    React {
        message: MessageId,
        emoji: String,
    },
    Typing {
        room: RoomId,
    },
    History {
        room: RoomId,
        before: Option<i64>,
        limit: Option<u32>,
    },
    /// A bot replaces the commands it answers in a room (an empty list removes them).
    RegisterCommands {
        room: RoomId,
        commands: Vec<crate::model::CommandSpec>,
    },
    /// A bot answers command `command` (the `id` of a `command` event) to its invoker alone.
    CommandReply {
        room: RoomId,
        command: String,
        body: String,
    },
    /// A struct variant, not a unit one: serde lets unknown fields through on unit variants of an
    /// internally tagged enum, and `deny_unknown_fields` must hold for every frame.
    Ping {},
}

impl ClientFrame {
    /// The frame's `type`, as clients write it.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Join { .. } => "join",
            ClientFrame::Leave { .. } => "leave",
            ClientFrame::Send { .. } => "send",
            ClientFrame::Read { .. } => "read",
            ClientFrame::Edit { .. } => "edit",
            ClientFrame::Delete { .. } => "delete",
            ClientFrame::React { .. } => "react",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::History { .. } => "history",
            ClientFrame::RegisterCommands { .. } => "register_commands",
            ClientFrame::CommandReply { .. } => "command_reply",
            ClientFrame::Ping {} => "ping",
        }
    }
}

/// Parses one text frame. On error, returns whatever `ref` could be read so the error echoes it.
pub fn parse_frame(
    text: &str,
) -> Result<(ClientFrame, Option<Value>), (ProtoError, Option<Value>)> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        (
            ProtoError::bad_request(format!("frame is not JSON: {e}")),
            None,
        )
    })?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| (ProtoError::bad_request("frame must be a JSON object"), None))?;
    let reference = obj.remove("ref");
    let kind = obj.get("type").and_then(Value::as_str).map(str::to_owned);
    let frame: ClientFrame = serde_json::from_value(value).map_err(|e| {
        let message = match kind {
            None => "frame needs a \"type\"".to_owned(),
            Some(t) => format!("bad {t:?} frame: {e}"),
        };
        (ProtoError::bad_request(message), reference.clone())
    })?;
    validate(&frame).map_err(|e| (e, reference.clone()))?;
    Ok((frame, reference))
}

fn validate(frame: &ClientFrame) -> Result<(), ProtoError> {
    match frame {
        ClientFrame::Send {
            body,
            client_id,
            thread,
            also_in_room,
            attachments,
            ..
        } => {
            // A file alone is a message: its body may be empty (not blank).
            if attachments.is_empty() || !body.is_empty() {
                check_body(body)?;
            }
            if *also_in_room && thread.is_none() {
                return Err(ProtoError::bad_request("also_in_room needs a thread"));
            }
            if attachments.len() > MAX_ATTACHMENTS {
                return Err(ProtoError::bad_request(format!(
                    "at most {MAX_ATTACHMENTS} attachments per message"
                )));
            }
            let distinct: std::collections::HashSet<_> = attachments.iter().collect();
            if distinct.len() != attachments.len() {
                return Err(ProtoError::bad_request("an attachment is listed twice"));
            }
            let n = client_id.chars().count();
            if n == 0 || n > MAX_CLIENT_ID_CHARS {
                return Err(ProtoError::bad_request(format!(
                    "client_id must be 1-{MAX_CLIENT_ID_CHARS} characters"
                )));
            }
        }
        ClientFrame::Edit { body, .. } => check_body(body)?,
        ClientFrame::CommandReply { command, body, .. } => {
            if command.is_empty() || command.chars().count() > MAX_CLIENT_ID_CHARS {
                return Err(ProtoError::bad_request(format!(
                    "command must be 1-{MAX_CLIENT_ID_CHARS} characters"
                )));
            }
            check_body(body)?
        }
        ClientFrame::React { emoji, .. } => {
            let n = emoji.chars().count();
            if n == 0 || n > MAX_EMOJI_CHARS || emoji.chars().any(char::is_whitespace) {
                return Err(ProtoError::bad_request(format!(
                    "emoji must be 1-{MAX_EMOJI_CHARS} characters without spaces"
                )));
            }
        }
        ClientFrame::History { limit: Some(l), .. } if *l == 0 || *l > MAX_HISTORY_LIMIT => {
            return Err(ProtoError::bad_request(format!(
                "limit must be 1-{MAX_HISTORY_LIMIT}"
            )))
        }
        ClientFrame::RegisterCommands { commands, .. } => {
            crate::room::bot_commands::validate(commands).map_err(ProtoError::bad_request)?
        }
        ClientFrame::Read { seq, .. } if *seq < 0 => {
            return Err(ProtoError::bad_request("seq must be >= 0"))
        }
        ClientFrame::Join { since: Some(s), .. } if *s < 0 => {
            return Err(ProtoError::bad_request("since must be >= 0"))
        }
        _ => {}
    }
    Ok(())
}

/// A message body: not blank, at most `MAX_BODY_CHARS`, no control characters but newlines,
/// carriage returns and tabs.
pub fn check_body(body: &str) -> Result<(), ProtoError> {
    if body.trim().is_empty() {
        return Err(ProtoError::bad_request("body must not be empty"));
    }
    if body
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ProtoError::bad_request(
            "body must not contain control characters",
        ));
    }
    if body.chars().count() > MAX_BODY_CHARS {
        return Err(ProtoError::new(
            ErrorCode::TooLarge,
            format!("body is longer than {MAX_BODY_CHARS} characters"),
        ));
    }
    Ok(())
}

/// `{"type":"reaction","room","message","emoji","user","added","count","url"?}`.
#[derive(Serialize)]
struct ReactionDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    room: RoomId,
    message: MessageId,
    emoji: &'a str,
    user: crate::ids::UserId,
    added: bool,
    count: u32,
    /// The image of a custom emoji (`emoji` is `:shortcode:`); absent for any other.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

/// Server events, serialised once and shared by every recipient.
pub mod event {
    use super::*;

    fn frame(mut value: Value, reference: Option<&Value>) -> ByteString {
        if let (Some(r), Some(obj)) = (reference, value.as_object_mut()) {
            obj.insert("ref".into(), r.clone());
        }
        ByteString::from(value.to_string())
    }

    pub fn error(e: &ProtoError, reference: Option<&Value>) -> ByteString {
        frame(
            json!({"type": "error", "code": e.code.as_str(), "message": e.message}),
            reference,
        )
    }

    pub fn pong(reference: Option<&Value>) -> ByteString {
        frame(json!({"type": "pong"}), reference)
    }

    pub fn joined(
        room: crate::ids::RoomId,
        seq: i64,
        members: &[UserRef],
        online: usize,
        messages: &[MessageView],
        reference: Option<&Value>,
    ) -> ByteString {
        frame(
            json!({"type": "joined", "room": room, "seq": seq, "members": members, "online": online, "messages": messages}),
            reference,
        )
    }

    pub fn left(room: crate::ids::RoomId, reference: Option<&Value>) -> ByteString {
        frame(json!({"type": "left", "room": room}), reference)
    }

    pub fn message(message: &MessageView) -> ByteString {
        frame(
            json!({"type": "message", "room": message.room, "message": message}),
            None,
        )
    }

    pub fn ack(client_id: &str, message: &MessageView, reference: Option<&Value>) -> ByteString {
        frame(
            json!({"type": "ack", "client_id": client_id, "message": message}),
            reference,
        )
    }

    pub fn message_updated(message: &MessageView) -> ByteString {
        frame(json!({"type": "message_updated", "message": message}), None)
    }

    /// A reaction toggle as a delta: `added` says whether `user` now has `emoji` on the message,
    /// `count` how many users do (0: the emoji is gone), `url` the image of a custom emoji still
    /// on it. Not the whole message.
    pub fn reaction(message: &MessageView, emoji: &str, user: crate::ids::UserId) -> ByteString {
        let now = message.reactions.iter().find(|r| r.emoji == emoji);
        let code = emoji.strip_prefix(':').and_then(|e| e.strip_suffix(':'));
        let delta = ReactionDelta {
            kind: "reaction",
            room: message.room,
            message: message.id,
            emoji,
            user,
            added: now.is_some_and(|r| r.users.contains(&user)),
            count: now.map_or(0, |r| r.count),
            url: code
                .and_then(|c| message.emoji.iter().find(|e| e.shortcode == c))
                .map(|e| e.url.as_str()),
        };
        frame(serde_json::to_value(delta).unwrap_or_default(), None)
    }

    pub fn message_deleted(room: crate::ids::RoomId, message: MessageId) -> ByteString {
        frame(
            json!({"type": "message_deleted", "room": room, "message": message}),
            None,
        )
    }

    pub fn history(
        room: crate::ids::RoomId,
        messages: &[MessageView],
        reference: Option<&Value>,
    ) -> ByteString {
        frame(
            json!({"type": "history", "room": room, "messages": messages}),
            reference,
        )
    }

    pub fn typing(room: crate::ids::RoomId, users: &[UserRef]) -> ByteString {
        frame(
            json!({"type": "typing", "room": room, "users": users}),
            None,
        )
    }

    /// `members`: the whole list, when a large room became small again.
    pub fn presence(
        room: crate::ids::RoomId,
        joined: &[UserRef],
        left: &[UserRef],
        online: usize,
        members: Option<&[UserRef]>,
    ) -> ByteString {
        let mut body = json!({"type": "presence", "room": room, "joined": joined, "left": left, "online": online});
        if let Some(members) = members {
            body["members"] = json!(members);
        }
        frame(body, None)
    }

    /// A linked stream went live or off air.
    pub fn stream_state(
        room: crate::ids::RoomId,
        stream: crate::ids::StreamId,
        mount: &str,
        title: &str,
        live: bool,
    ) -> ByteString {
        frame(
            json!({"type": "stream_state", "room": room, "stream": {"id": stream, "mount": mount, "title": title, "live": live}}),
            None,
        )
    }

    /// A linked stream's now-playing title changed.
    pub fn now_playing(
        room: crate::ids::RoomId,
        stream: crate::ids::StreamId,
        title: &str,
    ) -> ByteString {
        frame(
            json!({"type": "now_playing", "room": room, "stream": stream, "title": title}),
            None,
        )
    }

    /// A member's `/name args` for the bot that registered `name`. The bot answers with a `send`
    /// to `room`; `id` names this invocation (for the bot's logs and replies).
    pub fn command(
        room: crate::ids::RoomId,
        id: &str,
        name: &str,
        args: &str,
        user: &crate::model::UserRef,
    ) -> ByteString {
        frame(
            json!({"type": "command", "room": room, "id": id, "command": name, "args": args,
                   "user": user}),
            None,
        )
    }

    /// A bot's private answer to a member's command:
    /// `{"type":"command_reply","room","command","bot":USER,"body"}`.
    pub fn command_reply(
        room: crate::ids::RoomId,
        command: &str,
        bot: &crate::model::UserRef,
        body: &str,
    ) -> ByteString {
        frame(
            json!({"type": "command_reply", "room": room, "command": command, "bot": bot,
                   "body": body}),
            None,
        )
    }

    /// To the bot: its `command_reply` went out.
    pub fn command_replied(
        room: crate::ids::RoomId,
        command: &str,
        reference: Option<&Value>,
    ) -> ByteString {
        frame(
            json!({"type": "command_replied", "room": room, "command": command}),
            reference,
        )
    }

    /// The answer to `register_commands`: what the bot now has in the room.
    pub fn commands_registered(
        room: crate::ids::RoomId,
        commands: &[crate::model::BotCommand],
        reference: Option<&Value>,
    ) -> ByteString {
        let commands: Vec<Value> = commands
            .iter()
            .map(|c| json!({"name": c.name, "description": c.description, "args": c.args}))
            .collect();
        frame(
            json!({"type": "commands_registered", "room": room, "commands": commands}),
            reference,
        )
    }

    /// A reply meant for one person only (e.g. `/help`); not stored, no seq.
    pub fn notice(
        room: crate::ids::RoomId,
        body: &str,
        client_id: Option<&str>,
        reference: Option<&Value>,
    ) -> ByteString {
        frame(
            json!({"type": "notice", "room": room, "body": body, "client_id": client_id}),
            reference,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_with_string_ids_and_keep_ref() {
        let (frame, r) =
            parse_frame(r#"{"type":"join","room":"42","since":7,"ref":"abc"}"#).unwrap();
        assert_eq!(
            frame,
            ClientFrame::Join {
                room: RoomId(42),
                since: Some(7)
            }
        );
        assert_eq!(r, Some(json!("abc")));
        let (frame, r) = parse_frame(r#"{"type":"ping"}"#).unwrap();
        assert_eq!((frame, r), (ClientFrame::Ping {}, None));
    }

    #[test]
    fn bad_frames_are_bad_requests_that_echo_ref() {
        for text in [
            "not json",
            "[1,2]",
            r#"{"room":"1"}"#,
            r#"{"type":"fly","ref":1}"#,
            r#"{"type":"join"}"#,
            r#"{"type":"join","room":"x"}"#,
            r#"{"type":"send","room":"1","body":"","client_id":"c"}"#,
            r#"{"type":"send","room":"1","body":"hi","client_id":""}"#,
            r#"{"type":"history","room":"1","limit":1000}"#,
            r#"{"type":"react","message":"1","emoji":"a b"}"#,
        ] {
            let (err, _) = parse_frame(text).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{text}");
        }
        let (_, r) = parse_frame(r#"{"type":"fly","ref":1}"#).unwrap_err();
        assert_eq!(r, Some(json!(1)));
    }

    #[test]
    fn attachments_are_at_most_ten_distinct_ids_and_may_stand_alone() {
        let (frame, _) = parse_frame(
            r#"{"type":"send","room":"1","body":"","client_id":"c","attachments":["7","8"]}"#,
        )
        .unwrap();
        assert!(matches!(
            frame,
            ClientFrame::Send { ref attachments, .. } if attachments == &[UploadId(7), UploadId(8)]
        ));
        let eleven: Vec<String> = (1..=11).map(|i| i.to_string()).collect();
        for text in [
            json!({"type":"send","room":"1","body":"hi","client_id":"c","attachments":eleven}),
            json!({"type":"send","room":"1","body":"hi","client_id":"c","attachments":["5","5"]}),
            json!({"type":"send","room":"1","body":"  ","client_id":"c","attachments":["5"]}),
            json!({"type":"send","room":"1","body":"hi","client_id":"c","attachments":["x"]}),
        ] {
            let (err, _) = parse_frame(&text.to_string()).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadRequest, "{text}");
        }
    }

    #[test]
    fn long_bodies_are_too_large() {
        let body = "x".repeat(MAX_BODY_CHARS + 1);
        let text = json!({"type":"send","room":"1","body":body,"client_id":"c"}).to_string();
        let (err, _) = parse_frame(&text).unwrap_err();
        assert_eq!(err.code, ErrorCode::TooLarge);
        let ok =
            json!({"type":"send","room":"1","body":"é".repeat(MAX_BODY_CHARS),"client_id":"c"});
        assert!(parse_frame(&ok.to_string()).is_ok());
    }
}

#[cfg(test)]
mod fuzz {
    use super::{
        parse_frame, validate, ClientFrame, ErrorCode, ProtoError, MAX_ATTACHMENTS,
        MAX_HISTORY_LIMIT,
    };
    use crate::ids::{MessageId, RoomId, UploadId};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// JSON-ish text built from the protocol's own vocabulary, so the parser gets past the
    /// first check often.
    fn frameish() -> impl Strategy<Value = String> {
        let key = prop::sample::select(vec![
            "type",
            "room",
            "body",
            "client_id",
            "message",
            "emoji",
            "since",
            "before",
            "limit",
            "ref",
            "thread",
            "attachments",
        ]);
        let value = prop_oneof![
            prop::sample::select(vec![
                "\"join\"",
                "\"send\"",
                "\"edit\"",
                "\"delete\"",
                "\"react\"",
                "\"typing\"",
                "\"history\"",
                "\"ping\"",
                "\"leave\"",
                "null",
                "true",
                "[]",
                "{}",
                "-1",
                "1e400",
                "\"\\u0000\"",
                "18446744073709551616",
                "\"12\"",
            ])
            .prop_map(str::to_owned),
            any::<i64>().prop_map(|n| n.to_string()),
            ".{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
            let body: Vec<String> = pairs
                .into_iter()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            format!("{{{}}}", body.join(","))
        })
    }

    /// A valid frame and the JSON a client would send for it (ids as strings, optional fields
    /// present or not).
    fn valid_frame() -> impl Strategy<Value = (ClientFrame, Value)> {
        let id = 1..i64::MAX;
        let body = "[a-zA-Z0-9 .,!?\u{e9}\u{1F600}]{0,60}".prop_map(|b| format!("x{b}"));
        let emoji = "[a-z0-9\u{1F300}-\u{1F5FF}]{1,32}";
        let client_id = "[a-zA-Z0-9_-]{1,64}";
        prop_oneof![
            (id.clone(), proptest::option::of(0..i64::MAX)).prop_map(|(room, since)| {
                let mut v = json!({"type": "join", "room": room.to_string()});
                if let Some(s) = since {
                    v["since"] = json!(s);
                }
                (
                    ClientFrame::Join {
                        room: RoomId(room),
                        since,
                    },
                    v,
                )
            }),
            id.clone().prop_map(|room| (
                ClientFrame::Leave { room: RoomId(room) },
                json!({"type": "leave", "room": room.to_string()})
            )),
            (
                id.clone(),
                body.clone(),
                client_id,
                proptest::option::of(id.clone()),
                prop::collection::btree_set(id.clone(), 0..=MAX_ATTACHMENTS),
            )
                .prop_map(|(room, body, client_id, thread, attachments)| {
                    let mut v = json!({"type": "send", "room": room.to_string(),
                                       "body": body, "client_id": client_id});
                    if let Some(t) = thread {
                        v["thread"] = json!(t.to_string());
                    }
                    if !attachments.is_empty() {
                        let ids: Vec<String> = attachments.iter().map(i64::to_string).collect();
                        v["attachments"] = json!(ids);
                    }
                    let frame = ClientFrame::Send {
                        room: RoomId(room),
                        body,
                        client_id,
                        thread: thread.map(MessageId),
                        also_in_room: false,
                        attachments: attachments.into_iter().map(UploadId).collect(),
                    };
                    (frame, v)
                }),
            (id.clone(), body).prop_map(|(message, body)| (
                ClientFrame::Edit {
                    message: MessageId(message),
                    body: body.clone()
                },
                json!({"type": "edit", "message": message.to_string(), "body": body})
            )),
            (id.clone(), emoji).prop_map(|(message, emoji)| (
                ClientFrame::React {
                    message: MessageId(message),
                    emoji: emoji.clone()
                },
                json!({"type": "react", "message": message.to_string(), "emoji": emoji})
            )),
            (id.clone(), proptest::option::of(1..=MAX_HISTORY_LIMIT)).prop_map(|(room, limit)| {
                let mut v = json!({"type": "history", "room": room.to_string()});
                if let Some(l) = limit {
                    v["limit"] = json!(l);
                }
                (
                    ClientFrame::History {
                        room: RoomId(room),
                        before: None,
                        limit,
                    },
                    v,
                )
            }),
            Just((ClientFrame::Ping {}, json!({"type": "ping"}))),
        ]
    }

    /// A parse error is always one a client caused (never `internal`), and echoes the frame's
    /// `ref` whenever the text was a JSON object carrying one.
    type Parsed = Result<(ClientFrame, Option<Value>), (ProtoError, Option<Value>)>;

    fn check_refusal(text: &str, result: &Parsed) {
        if let Err((e, echoed)) = result {
            assert!(
                matches!(e.code, ErrorCode::BadRequest | ErrorCode::TooLarge),
                "{text:?} -> {e:?}"
            );
            let sent = serde_json::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("ref").cloned());
            assert_eq!(echoed, &sent, "{text:?}: the ref is echoed");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn valid_frames_round_trip_with_their_ref(
            (frame, mut text) in valid_frame(),
            reference in proptest::option::of(prop_oneof![
                any::<i64>().prop_map(|n| json!(n)),
                "[a-z]{0,8}".prop_map(|s| json!(s)),
            ]),
        ) {
            if let Some(r) = &reference {
                text["ref"] = r.clone();
            }
            let parsed = parse_frame(&text.to_string());
            prop_assert_eq!(parsed, Ok((frame, reference)));
        }

        #[test]
        fn unknown_fields_and_bad_values_are_bad_requests(
            (_, mut text) in valid_frame(),
            extra in "[a-z]{1,8}",
        ) {
            // deny_unknown_fields: a typo never passes silently.
            if text.get(&extra).is_none() && extra != "ref" {
                text[&extra] = json!(1);
                let parsed = parse_frame(&text.to_string());
                check_refusal(&text.to_string(), &parsed);
                prop_assert!(parsed.is_err(), "{} was accepted", text);
            }
        }

        #[test]
        fn arbitrary_text_is_refused_as_a_client_error(text in ".{0,300}") {
            check_refusal(&text, &parse_frame(&text));
        }

        #[test]
        fn arbitrary_frames_parse_to_valid_frames_or_client_errors(text in frameish()) {
            let parsed = parse_frame(&text);
            check_refusal(&text, &parsed);
            if let Ok((frame, _)) = &parsed {
                // Whatever was accepted passes validation again (nothing slipped through).
                prop_assert!(validate(frame).is_ok(), "{:?}", frame);
            }
        }

        #[test]
        fn arbitrary_bytes_are_refused_as_client_errors(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let text = String::from_utf8_lossy(&bytes);
            check_refusal(&text, &parse_frame(&text));
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_frame(&deep).is_err());
        let deep_obj = format!(
            "{{\"type\":\"send\",\"body\":{}1{}}}",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        assert!(parse_frame(&deep_obj).is_err());
    }
}
