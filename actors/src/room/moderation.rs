//! Running slash commands in a room: permission checks, the writes (state change + audit row +
//! system message, in one transaction), and the in-memory effect once they committed.

use super::commands::{self, format_duration, Command};
use super::fanout::Effect as RemoteEffect;
use super::{ConnHandle, Room, SendMessage};
use crate::ids::{now_ms, UserId};
use crate::model::{MemberState, MessageKind, RoomRole, UserRef};
use crate::protocol::{event, ProtoError};
use crate::store::{AuditRecord, Write};
use actix::prelude::*;
use serde_json::json;

/// Parses and runs a command from `msg.body`.
pub(super) fn run(room: &mut Room, ctx: &mut Context<Room>, msg: SendMessage) {
    let r = msg.reference.as_ref();
    if let Some(bot_command) = room.bot_command_for(&msg.body) {
        return room.invoke_bot_command(&msg.conn, bot_command, &msg.body, &msg.client_id, r);
    }
    let name = commands::name_of(&msg.body);
    if !commands::is_builtin(name) {
        // Not a mistake in using a command but a command nobody here offers: a notice, like a
        // bot's command whose bot is offline, not an error.
        let text = format!("there is no /{name} in this room; /help lists the commands");
        msg.conn
            .outbox
            .push(event::notice(room.id, &text, Some(&msg.client_id), r));
        return;
    }
    let command = match commands::parse(&msg.body) {
        Ok(c) => c,
        Err(usage) => return msg.conn.error(&ProtoError::bad_request(usage), r),
    };
    // A conversation has fixed members and nobody to moderate it: /me and /help only.
    if room.info.kind.is_conversation() && !matches!(command, Command::Me(_) | Command::Help) {
        return msg.conn.error(
            &ProtoError::forbidden(
                "conversations have no moderation commands (their members are fixed: open a new \
                 conversation instead)",
            ),
            r,
        );
    }
    let role = room.role_of(&msg.conn.user);
    if role < command.required_role() {
        return msg.conn.error(
            &ProtoError::forbidden(format!(
                "/{} needs the {} role",
                command.name(),
                command.required_role().as_str()
            )),
            r,
        );
    }
    let now = now_ms() as i64;
    match command {
        Command::Help => {
            let mut text = commands::help_text(role);
            let bots = room.usable_bot_commands();
            if !bots.is_empty() {
                text.push('\n');
                text.push_str(&super::bot_commands::help_lines(&bots));
            }
            msg.conn
                .outbox
                .push(event::notice(room.id, &text, Some(&msg.client_id), r));
        }
        Command::Me(action) => {
            if room
                .members
                .get(&msg.conn.user.id)
                .is_some_and(|m| m.is_muted(now))
                && role < RoomRole::Moderator
            {
                return msg
                    .conn
                    .error(&ProtoError::forbidden("you are muted in this room"), r);
            }
            let mut write = message(room, &msg, MessageKind::Action, action.clone());
            // An action mentions, notifies and honours blocks like any message.
            if let Write::Message { extras, .. } = &mut write {
                *extras = room.extras_for(&msg.conn.user, role, &action, false);
            }
            room.commit_message(
                ctx,
                vec![write],
                msg.conn.clone(),
                msg.client_id.clone(),
                msg.reference.clone(),
                |_, _| RemoteEffect::None,
            );
        }
        Command::Topic(text) => {
            let topic = (!text.trim().is_empty())
                .then(|| text.trim().chars().take(512).collect::<String>());
            let said = match &topic {
                Some(t) => format!("{} set the topic to: {t}", msg.conn.user.username),
                None => format!("{} cleared the topic", msg.conn.user.username),
            };
            let writes = vec![
                Write::Topic {
                    room: room.id,
                    topic: topic.clone(),
                },
                audit(room, &msg.conn, "room.topic", None, json!({"topic": topic})),
                message(room, &msg, MessageKind::System, said),
            ];
            room.commit_message(
                ctx,
                writes,
                msg.conn.clone(),
                msg.client_id.clone(),
                msg.reference.clone(),
                move |room, _| {
                    room.info.topic = topic;
                    RemoteEffect::StateChanged
                },
            );
        }
        Command::Slow(seconds) => {
            let said = match seconds {
                Some(s) => format!(
                    "{} set slow mode to one message every {s} s",
                    msg.conn.user.username
                ),
                None => format!("{} turned slow mode off", msg.conn.user.username),
            };
            let seconds = seconds.unwrap_or(0);
            let writes = vec![
                Write::SlowMode {
                    room: room.id,
                    seconds,
                },
                audit(
                    room,
                    &msg.conn,
                    "room.slow_mode",
                    None,
                    json!({"seconds": seconds}),
                ),
                message(room, &msg, MessageKind::System, said),
            ];
            room.commit_message(
                ctx,
                writes,
                msg.conn.clone(),
                msg.client_id.clone(),
                msg.reference.clone(),
                move |room, _| {
                    room.info.slow_mode_s = seconds;
                    room.last_send.clear();
                    RemoteEffect::StateChanged
                },
            );
        }
        targeted => with_target(room, ctx, msg, targeted),
    }
}

/// The name a targeted command acts on.
fn target_name(command: &Command) -> &str {
    match command {
        Command::Kick { user, .. }
        | Command::Ban { user, .. }
        | Command::Unban { user }
        | Command::Mute { user, .. }
        | Command::Unmute { user }
        | Command::Invite { user }
        | Command::Op { user }
        | Command::Deop { user } => user,
        _ => "",
    }
}

/// Resolves the named user (from the room, else the store), then acts.
fn with_target(room: &mut Room, ctx: &mut Context<Room>, msg: SendMessage, command: Command) {
    let name = target_name(&command).to_lowercase();
    let known = room
        .members
        .iter()
        .find(|(_, m)| m.username.to_lowercase() == name)
        .map(|(id, m)| UserRef {
            id: *id,
            username: m.username.clone(),
        });
    if let Some(target) = known {
        return act_on(room, ctx, msg, command, target);
    }
    let lookup = name.clone();
    room.env
        .readers
        .query(move |store| store.find_user(&lookup))
        .into_actor(room)
        .map(move |result, room, ctx| {
            let r = msg.reference.as_ref();
            match result {
                Ok(Some(target)) => {
                    room.guarded(ctx, |room, ctx| act_on(room, ctx, msg, command, target))
                }
                Ok(None) => msg
                    .conn
                    .error(&ProtoError::not_found(format!("no user named {name}")), r),
                Err(_) => msg.conn.error(&ProtoError::internal(), r),
            }
        })
        .spawn(ctx);
}

fn act_on(
    room: &mut Room,
    ctx: &mut Context<Room>,
    msg: SendMessage,
    command: Command,
    target: UserRef,
) {
    let r = msg.reference.as_ref();
    let caller = &msg.conn.user;
    let caller_role = room.role_of(caller);
    let target_role = if target.id == room.info.owner {
        RoomRole::Owner
    } else {
        room.members
            .get(&target.id)
            .map(|m| m.role)
            .unwrap_or(RoomRole::Member)
    };
    if target.id == caller.id {
        return msg.conn.error(
            &ProtoError::bad_request("you cannot do that to yourself"),
            r,
        );
    }
    if target_role >= caller_role {
        return msg.conn.error(
            &ProtoError::forbidden(format!(
                "{} is a {}; you cannot act on them",
                target.username,
                target_role.as_str()
            )),
            r,
        );
    }
    let now = now_ms() as i64;
    let me = &caller.username;
    let them = &target.username;
    let with_reason = |text: String, reason: &Option<String>| match reason {
        Some(why) => format!("{text}: {why}"),
        None => text,
    };
    let for_how_long = |d: Option<i64>| {
        d.map(|ms| format!(" for {}", format_duration(ms)))
            .unwrap_or_default()
    };
    let member = |banned: Option<Option<i64>>,
                  muted: Option<Option<i64>>,
                  role: Option<RoomRole>| Write::Member {
        room: room.id,
        user: target.id,
        role,
        banned_until: banned,
        muted_until: muted,
    };
    // (state write, audit action, details, system message, effect after commit)
    let (state, action, details, said, effect): (
        Option<Write>,
        &str,
        serde_json::Value,
        String,
        Effect,
    ) = match &command {
        Command::Kick { reason, .. } => (
            Some(Write::Kick {
                room: room.id,
                user: target.id,
            }),
            "room.kick",
            json!({"reason": reason}),
            with_reason(format!("{me} kicked {them}"), reason),
            Effect::Remove,
        ),
        Command::Ban {
            duration_ms,
            reason,
            ..
        } => {
            let until = duration_ms
                .map(|d| now.saturating_add(d))
                .unwrap_or(i64::MAX);
            (
                Some(member(Some(Some(until)), None, None)),
                "room.ban",
                json!({"reason": reason, "until": until}),
                with_reason(
                    format!("{me} banned {them}{}", for_how_long(*duration_ms)),
                    reason,
                ),
                Effect::Ban(Some(until)),
            )
        }
        Command::Unban { .. } => (
            Some(member(Some(None), None, None)),
            "room.unban",
            json!({}),
            format!("{me} lifted the ban on {them}"),
            Effect::Ban(None),
        ),
        Command::Mute {
            duration_ms,
            reason,
            ..
        } => {
            let until = duration_ms
                .map(|d| now.saturating_add(d))
                .unwrap_or(i64::MAX);
            (
                Some(member(None, Some(Some(until)), None)),
                "room.mute",
                json!({"reason": reason, "until": until}),
                with_reason(
                    format!("{me} muted {them}{}", for_how_long(*duration_ms)),
                    reason,
                ),
                Effect::Mute(Some(until)),
            )
        }
        Command::Unmute { .. } => (
            Some(member(None, Some(None), None)),
            "room.unmute",
            json!({}),
            format!("{me} unmuted {them}"),
            Effect::Mute(None),
        ),
        Command::Invite { .. } => (
            Some(member(None, None, None)),
            "room.invite",
            json!({}),
            format!("{me} invited {them}"),
            Effect::Role(None),
        ),
        Command::Op { .. } => (
            Some(member(None, None, Some(RoomRole::Moderator))),
            "room.op",
            json!({}),
            format!("{me} made {them} a moderator"),
            Effect::Role(Some(RoomRole::Moderator)),
        ),
        Command::Deop { .. } => (
            Some(member(None, None, Some(RoomRole::Member))),
            "room.deop",
            json!({}),
            format!("{me} made {them} a member"),
            Effect::Role(Some(RoomRole::Member)),
        ),
        _ => {
            return msg
                .conn
                .error(&ProtoError::bad_request("not a command on a user"), r)
        }
    };
    let mut writes: Vec<Write> = state.into_iter().collect();
    writes.push(audit(room, &msg.conn, action, Some(target.id), details));
    writes.push(message(room, &msg, MessageKind::System, said));
    room.commit_message(
        ctx,
        writes,
        msg.conn.clone(),
        msg.client_id.clone(),
        msg.reference.clone(),
        move |room, message| apply_effect(room, &target, effect, message.created_at),
    );
}

/// What a committed command changes in memory.
enum Effect {
    Remove,
    Ban(Option<i64>),
    Mute(Option<i64>),
    /// `None`: make sure a membership exists (invite).
    Role(Option<RoomRole>),
}

/// Applies it here (`at`: the commit's time); returns what the other nodes must do.
fn apply_effect(room: &mut Room, target: &UserRef, effect: Effect, at: i64) -> RemoteEffect {
    let entry = room
        .members
        .entry(target.id)
        .or_insert_with(|| MemberState {
            username: target.username.clone(),
            role: RoomRole::Member,
            banned_until: None,
            muted_until: None,
            kicked_at: None,
        });
    let kicked = matches!(effect, Effect::Remove);
    let remove = match effect {
        Effect::Remove => {
            entry.kicked_at = Some(at);
            true
        }
        Effect::Ban(until) => {
            entry.banned_until = until;
            until.is_some()
        }
        Effect::Mute(until) => {
            entry.muted_until = until;
            false
        }
        Effect::Role(Some(role)) => {
            entry.role = role;
            false
        }
        Effect::Role(None) => false,
    };
    if remove {
        room.remove_user(target.id);
    }
    if kicked {
        RemoteEffect::Kick(target.id)
    } else {
        RemoteEffect::StateChanged
    }
}

fn message(room: &Room, msg: &SendMessage, kind: MessageKind, body: String) -> Write {
    Write::Message {
        room: room.id,
        author: msg.conn.user.user_ref(),
        kind,
        body,
        client_id: Some(msg.client_id.clone()),
        thread: None,
        extras: Default::default(),
    }
}

fn audit(
    room: &Room,
    conn: &ConnHandle,
    action: &str,
    target: Option<UserId>,
    details: serde_json::Value,
) -> Write {
    Write::Audit(AuditRecord {
        actor: Some(conn.user.id),
        action: action.to_owned(),
        target_user: target,
        room: Some(room.id),
        details: Some(details.to_string()),
    })
}
