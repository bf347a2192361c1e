//! Queries on `bot_commands`: the commands bots registered per room.

use super::schema::{bot_commands, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use veza_actors::model::{BotCommand, CommandSpec, UserRef};
use veza_actors::{RoomId, UserId};

#[derive(Insertable)]
#[diesel(table_name = bot_commands)]
struct NewCommand<'a> {
    room_id: RoomId,
    name: &'a str,
    bot_id: UserId,
    description: &'a str,
    args: &'a str,
    created_at: i64,
}

/// The room's commands by name, of bots whose accounts are not disabled.
pub fn for_room(conn: &mut DbConnection, room: RoomId) -> Result<Vec<BotCommand>, DbError> {
    let rows: Vec<(String, String, String, UserId, String)> = bot_commands::table
        .inner_join(users::table)
        .filter(bot_commands::room_id.eq(room))
        .filter(users::disabled.eq(false))
        .order(bot_commands::name.asc())
        .select((
            bot_commands::name,
            bot_commands::description,
            bot_commands::args,
            users::id,
            users::username,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(name, description, args, id, username)| BotCommand {
            name,
            description,
            args,
            bot: UserRef { id, username },
        })
        .collect())
}

/// The name among `specs` another bot holds in `room`, with that bot's id.
pub fn taken(
    conn: &mut DbConnection,
    room: RoomId,
    bot: UserId,
    specs: &[CommandSpec],
) -> Result<Option<String>, DbError> {
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    Ok(bot_commands::table
        .filter(bot_commands::room_id.eq(room))
        .filter(bot_commands::bot_id.ne(bot))
        .filter(bot_commands::name.eq_any(names))
        .select(bot_commands::name)
        .first(conn)
        .optional()?)
}

/// Replaces what `bot` registered in `room` with `specs`.
pub fn replace(
    conn: &mut DbConnection,
    room: RoomId,
    bot: UserId,
    specs: &[CommandSpec],
    now: i64,
) -> Result<(), DbError> {
    diesel::delete(
        bot_commands::table
            .filter(bot_commands::room_id.eq(room))
            .filter(bot_commands::bot_id.eq(bot)),
    )
    .execute(conn)?;
    let rows: Vec<NewCommand<'_>> = specs
        .iter()
        .map(|s| NewCommand {
            room_id: room,
            name: &s.name,
            bot_id: bot,
            description: &s.description,
            args: &s.args,
            created_at: now,
        })
        .collect();
    // One row at a time: diesel's multi-row insert has no MultiBackend form (see messages.rs),
    // and a bot registers a handful.
    for row in &rows {
        diesel::insert_into(bot_commands::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}
