//! The chat writes other than new messages (edits, deletions, reactions, memberships, kicks,
//! topics, slow mode, audit rows, bot commands), each applied inside the batch's transaction.

use super::audit::{self, NewAuditEntry};
use super::chat_store::{DieselChatStore, TxError};
use super::{bot_commands, messages, rooms, DbConnection};
use veza_actors::model::BotCommand;
use veza_actors::store::{Applied, Write, WriteError};

impl DieselChatStore {
    pub(super) fn apply_other(
        &self,
        conn: &mut DbConnection,
        write: &Write,
        now: i64,
    ) -> Result<Applied, TxError> {
        let not_found =
            |what: &str| TxError::Request(WriteError::NotFound(format!("no such {what}")));
        Ok(match write {
            Write::Message { .. } => {
                return Err(TxError::Request(WriteError::Invalid(
                    "message in the wrong phase".into(),
                )))
            }
            Write::Reads { room, markers } => {
                let (markers, last_seq) = super::unread::mark_read(conn, *room, markers, now)?;
                Applied::Markers { markers, last_seq }
            }
            Write::BotCommands {
                room,
                bot,
                commands,
            } => {
                if let Some(name) = bot_commands::taken(conn, *room, bot.id, commands)? {
                    return Err(TxError::Request(WriteError::Invalid(format!(
                        "/{name} is taken by another bot in this room"
                    ))));
                }
                // Another node's registration of the same name may have committed meanwhile.
                bot_commands::replace(conn, *room, bot.id, commands, now).map_err(|e| {
                    if e.is_unique_violation() {
                        TxError::Request(WriteError::Invalid(
                            "one of these names was just taken by another bot".into(),
                        ))
                    } else {
                        TxError::Db(e)
                    }
                })?;
                Applied::BotCommands(
                    commands
                        .iter()
                        .map(|c| BotCommand {
                            name: c.name.clone(),
                            description: c.description.clone(),
                            args: c.args.clone(),
                            bot: bot.clone(),
                        })
                        .collect(),
                )
            }
            Write::Edit { message, body } => {
                if !messages::set_body(conn, *message, body, now)? {
                    return Err(not_found("message"));
                }
                Applied::Updated(
                    messages::view(conn, *message)?.ok_or_else(|| not_found("message"))?,
                )
            }
            Write::Delete { message } => {
                let row = messages::find(conn, *message)?.ok_or_else(|| not_found("message"))?;
                if !messages::soft_delete(conn, *message, now)? {
                    return Err(not_found("message"));
                }
                // Its files go once the grace period is over (the sweeper), not at once: a
                // moderator's mistake can still be looked into.
                super::uploads::release(conn, *message, now.saturating_add(self.upload_grace_ms))?;
                Applied::Deleted {
                    room: row.room_id,
                    message: *message,
                }
            }
            Write::React {
                message,
                user,
                emoji,
            } => {
                let row = messages::find(conn, *message)?.ok_or_else(|| not_found("message"))?;
                if row.deleted_at.is_some() {
                    return Err(not_found("message"));
                }
                let toggled = messages::toggle_reaction(conn, *message, *user, emoji, now)?;
                if let messages::Toggle::Refused(why) = toggled {
                    return Err(TxError::Request(WriteError::Invalid(why)));
                }
                // A `:shortcode:` must name a custom emoji (removing one that is gone is fine).
                if toggled == messages::Toggle::Added
                    && !super::emoji::reaction_known(conn, row.room_id, emoji)?
                {
                    return Err(TxError::Request(WriteError::Invalid(format!(
                        "unknown emoji {emoji}"
                    ))));
                }
                Applied::Updated(
                    messages::view(conn, *message)?.ok_or_else(|| not_found("message"))?,
                )
            }
            Write::Member {
                room,
                user,
                role,
                banned_until,
                muted_until,
            } => {
                rooms::upsert_member(conn, *room, *user, *role, *banned_until, *muted_until, now)?;
                Applied::Done
            }
            Write::Kick { room, user } => {
                rooms::kick(conn, *room, *user, now)?;
                Applied::Done
            }
            Write::Topic { room, topic } => {
                if !rooms::set_topic(conn, *room, topic.as_deref(), now)? {
                    return Err(not_found("room"));
                }
                Applied::Done
            }
            Write::SlowMode { room, seconds } => {
                if !rooms::set_slow_mode(conn, *room, *seconds, now)? {
                    return Err(not_found("room"));
                }
                Applied::Done
            }
            Write::Audit(record) => {
                audit::record(
                    conn,
                    &NewAuditEntry {
                        id: self.ids.next_id(),
                        actor_id: record.actor,
                        action: &record.action,
                        target_type: record.target_user.map(|_| "user"),
                        target_id: record.target_user.map(|u| u.0.to_string()),
                        room_id: record.room,
                        ip: None,
                        user_agent: None,
                        details: record.details.clone(),
                        created_at: now,
                    },
                )?;
                Applied::Done
            }
        })
    }
}
