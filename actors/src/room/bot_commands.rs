//! Commands bots register in a room. A member's `/roll 2d6` is not stored: it goes to the bot's
//! sockets, on whichever node they are, as a `command` event; the bot answers with an ordinary
//! message (kind `bot`). Registrations live in the store (`bot_commands`), so every replica knows
//! them; a change is announced on the bus and the replicas reload.

use super::fanout::RoomEvent;
use super::{commands, ConnHandle, Room};
use crate::ids::{now_ms, UserId};
use crate::model::{BotCommand, CommandSpec, RoomRole};
use crate::protocol::{event, ProtoError};
use crate::store::{Applied, Write};
use actix::prelude::*;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Commands one bot may register in one room.
pub const MAX_PER_BOT: usize = 25;
const MAX_NAME: usize = 32;
const MAX_DESCRIPTION: usize = 100;
const MAX_ARGS: usize = 64;

/// Checks a registration: names `[a-z0-9_-]`, at most 32 characters, not a built-in command,
/// each once; bounded descriptions and hints; at most [`MAX_PER_BOT`].
pub fn validate(specs: &[CommandSpec]) -> Result<(), String> {
    if specs.len() > MAX_PER_BOT {
        return Err(format!("at most {MAX_PER_BOT} commands per bot and room"));
    }
    let mut seen = std::collections::HashSet::new();
    for spec in specs {
        let name = spec.name.as_str();
        let well_formed = !name.is_empty()
            && name.len() <= MAX_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(format!(
                "command name {name:?}: 1-{MAX_NAME} characters of a-z, 0-9, _ and -"
            ));
        }
        if commands::is_builtin(name) {
            return Err(format!(
                "/{name} is a built-in command and cannot be replaced"
            ));
        }
        if !seen.insert(name) {
            return Err(format!("/{name} is listed twice"));
        }
        if spec.description.chars().count() > MAX_DESCRIPTION
            || spec.args.chars().count() > MAX_ARGS
        {
            return Err(format!(
                "/{name}: description up to {MAX_DESCRIPTION} characters, args up to {MAX_ARGS}"
            ));
        }
        if spec
            .description
            .chars()
            .chain(spec.args.chars())
            .any(char::is_control)
        {
            return Err(format!("/{name}: no control characters"));
        }
    }
    Ok(())
}

/// The `/help` lines of the room's bot commands.
pub fn help_lines(registered: &[BotCommand]) -> String {
    registered
        .iter()
        .map(|c| {
            let usage = if c.args.is_empty() {
                format!("/{}", c.name)
            } else {
                format!("/{} {}", c.name, c.args)
            };
            format!("{usage} - {} (@{})", c.description, c.bot.username)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A `register_commands` frame: replaces what this bot registered in the room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegisterCommands {
    pub conn: ConnHandle,
    pub commands: Vec<CommandSpec>,
    pub reference: Option<Value>,
}

impl Handler<RegisterCommands> for Room {
    type Result = ();

    fn handle(&mut self, msg: RegisterCommands, ctx: &mut Context<Self>) {
        self.when_loaded(ctx, |act, ctx| act.register_commands(ctx, msg));
    }
}

/// Command ids: unique per node and process run.
static NEXT: AtomicU64 = AtomicU64::new(1);

impl Room {
    fn register_commands(&mut self, ctx: &mut Context<Self>, msg: RegisterCommands) {
        let conn = msg.conn;
        let r = msg.reference;
        if !conn.user.is_bot() {
            return conn.error(
                &ProtoError::forbidden("only bots register commands"),
                r.as_ref(),
            );
        }
        if !self.is_online(conn.user.id, conn.id()) {
            return conn.error(&ProtoError::forbidden("join the room first"), r.as_ref());
        }
        if let Some(taken) = msg.commands.iter().find_map(|spec| {
            self.bot_commands
                .iter()
                .find(|c| c.name == spec.name && c.bot.id != conn.user.id)
        }) {
            return conn.error(
                &ProtoError::forbidden(format!(
                    "/{} is taken by @{}",
                    taken.name, taken.bot.username
                )),
                r.as_ref(),
            );
        }
        let write = Write::BotCommands {
            room: self.id,
            bot: conn.user.user_ref(),
            commands: msg.commands.clone(),
        };
        self.persist(ctx, vec![write], move |act, _ctx, result| match result {
            Ok(applied) => {
                let mine: Vec<BotCommand> = match applied.into_iter().next() {
                    Some(Applied::BotCommands(now)) => now,
                    _ => return conn.error(&ProtoError::internal(), r.as_ref()),
                };
                act.bot_commands.retain(|c| c.bot.id != conn.user.id);
                act.bot_commands.extend(mine.iter().cloned());
                act.bot_commands.sort_by(|a, b| a.name.cmp(&b.name));
                conn.outbox
                    .push(event::commands_registered(act.id, &mine, r.as_ref()));
                act.tell_others(RoomEvent::CommandsChanged);
            }
            Err(e) => conn.error(&super::write_error(e), r.as_ref()),
        });
    }

    /// The registered command `body` (`/name args`) invokes, if any.
    pub(super) fn bot_command_for(&self, body: &str) -> Option<BotCommand> {
        let name = body.strip_prefix('/')?.split_whitespace().next()?;
        let name = name.to_ascii_lowercase();
        if commands::is_builtin(&name) {
            // Built-ins first, whatever rows a store holds (one added later shadows none).
            return None;
        }
        self.usable_bot_commands()
            .into_iter()
            .find(|c| c.name == name)
    }

    /// The registered commands whose bot is not banned here: a banned bot's names stay stored
    /// (an unban brings them back) but are neither listed nor invoked.
    pub(super) fn usable_bot_commands(&self) -> Vec<BotCommand> {
        let now = now_ms() as i64;
        self.bot_commands
            .iter()
            .filter(|c| {
                !self
                    .members
                    .get(&c.bot.id)
                    .is_some_and(|m| m.is_banned(now))
            })
            .cloned()
            .collect()
    }

    /// Hands `/name args` to the bot (its sockets here and, through the bus, on every node),
    /// or tells the member why not.
    pub(super) fn invoke_bot_command(
        &mut self,
        conn: &ConnHandle,
        command: BotCommand,
        body: &str,
        client_id: &str,
        r: Option<&Value>,
    ) {
        let now = now_ms() as i64;
        let role = self.role_of(&conn.user);
        if role < RoomRole::Moderator
            && self
                .members
                .get(&conn.user.id)
                .is_some_and(|m| m.is_muted(now))
        {
            return conn.error(&ProtoError::forbidden("you are muted in this room"), r);
        }
        if !self.presence.is_online(command.bot.id) {
            let text = format!(
                "@{} is offline: /{} was not delivered; try again later",
                command.bot.username, command.name
            );
            conn.outbox
                .push(event::notice(self.id, &text, Some(client_id), r));
            return;
        }
        let args = body
            .trim_start_matches('/')
            .trim_start()
            .split_once(char::is_whitespace)
            .map(|(_, rest)| rest.trim())
            .unwrap_or("");
        let id = format!(
            "{}-{now}-{}",
            self.env.node,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let frame = event::command(self.id, &id, &command.name, args, &conn.user.user_ref());
        self.replies
            .expect(id.clone(), command.bot.id, conn.user.id, Instant::now());
        self.deliver_to_bot(command.bot.id, &frame);
        self.tell_others(RoomEvent::Command {
            bot: command.bot.id,
            frame: frame.to_string(),
            id,
            invoker: Some(conn.user.id),
        });
        let text = format!("/{} sent to @{}", command.name, command.bot.username);
        conn.outbox
            .push(event::notice(self.id, &text, Some(client_id), r));
    }

    /// Pushes a `command` frame to the bot's sockets in this room on this node.
    pub(super) fn deliver_to_bot(&self, bot: UserId, frame: &bytestring::ByteString) {
        self.deliver_to_user(bot, frame);
    }

    /// Pushes a frame to one user's sockets in this room on this node.
    pub(super) fn deliver_to_user(&self, user: UserId, frame: &bytestring::ByteString) {
        for (_, outbox) in self.presence.conns_of(user) {
            outbox.push(frame.clone());
        }
    }
}
