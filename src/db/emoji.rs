//! Queries on `custom_emoji`, and filling in the `emoji` list of message views from them.

use super::schema::custom_emoji;
use super::{DbConnection, DbError};
use crate::emoji::shortcode;
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap};
use veza_actors::model::{EmojiRef, MessageView};
use veza_actors::store::{Applied, RequestResult};
use veza_actors::{RoomId, UserId};

/// A new emoji, image included.
#[derive(Debug, Insertable)]
#[diesel(table_name = custom_emoji)]
pub struct NewEmoji<'a> {
    pub id: i64,
    pub room_id: Option<RoomId>,
    pub shortcode: &'a str,
    pub content_type: &'a str,
    pub image: &'a [u8],
    pub width: i64,
    pub height: i64,
    pub created_by: UserId,
    pub created_at: i64,
}

/// An emoji without its image: what lists and lookups need.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = custom_emoji)]
pub struct EmojiRow {
    pub id: i64,
    pub room_id: Option<RoomId>,
    pub shortcode: String,
    pub width: i64,
    pub height: i64,
    pub created_at: i64,
}

/// The path an emoji's image is served at; a new upload gets a new id, so the URL never changes
/// meaning and may be cached forever.
pub fn url(id: i64) -> String {
    format!("/emoji/{id}")
}

pub fn insert(conn: &mut DbConnection, emoji: &NewEmoji<'_>) -> Result<(), DbError> {
    diesel::insert_into(custom_emoji::table)
        .values(emoji)
        .execute(conn)?;
    Ok(())
}

/// How many emoji a room has (`None`: the server-wide set).
pub fn count(conn: &mut DbConnection, room: Option<RoomId>) -> Result<i64, DbError> {
    let query = custom_emoji::table.count().into_boxed();
    let query = match room {
        Some(r) => query.filter(custom_emoji::room_id.eq(r)),
        None => query.filter(custom_emoji::room_id.is_null()),
    };
    Ok(query.get_result(conn)?)
}

/// Deletes one emoji of a room (`None`: server-wide); its id if there was one.
pub fn delete(
    conn: &mut DbConnection,
    room: Option<RoomId>,
    code: &str,
) -> Result<Option<i64>, DbError> {
    let query = custom_emoji::table
        .filter(custom_emoji::shortcode.eq(code))
        .select(custom_emoji::id)
        .into_boxed();
    let query = match room {
        Some(r) => query.filter(custom_emoji::room_id.eq(r)),
        None => query.filter(custom_emoji::room_id.is_null()),
    };
    let Some(id) = query.first::<i64>(conn).optional()? else {
        return Ok(None);
    };
    diesel::delete(custom_emoji::table.find(id)).execute(conn)?;
    Ok(Some(id))
}

/// The emoji usable in `room` (its own, then the server-wide ones it does not shadow), by
/// shortcode; with `None`, the server-wide set alone.
pub fn usable_in(conn: &mut DbConnection, room: Option<RoomId>) -> Result<Vec<EmojiRow>, DbError> {
    let query = custom_emoji::table
        .select(EmojiRow::as_select())
        .order((custom_emoji::shortcode, custom_emoji::id))
        .into_boxed();
    let rows = match room {
        Some(r) => query
            .filter(
                custom_emoji::room_id
                    .eq(r)
                    .or(custom_emoji::room_id.is_null()),
            )
            .load(conn)?,
        None => query.filter(custom_emoji::room_id.is_null()).load(conn)?,
    };
    let mut by_code: HashMap<String, EmojiRow> = HashMap::new();
    for row in rows {
        match by_code.get(&row.shortcode) {
            Some(kept) if kept.room_id.is_some() => {}
            _ => {
                by_code.insert(row.shortcode.clone(), row);
            }
        }
    }
    let mut out: Vec<EmojiRow> = by_code.into_values().collect();
    out.sort_by(|a, b| a.shortcode.cmp(&b.shortcode));
    Ok(out)
}

/// An emoji's image as it is served.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = custom_emoji)]
pub struct StoredImage {
    pub content_type: String,
    pub image: Vec<u8>,
    /// `None`: a server-wide emoji.
    pub room_id: Option<RoomId>,
}

pub fn image(conn: &mut DbConnection, id: i64) -> Result<Option<StoredImage>, DbError> {
    Ok(custom_emoji::table
        .find(id)
        .select(StoredImage::as_select())
        .first(conn)
        .optional()?)
}

/// False only for a reaction written `:code:` that names no emoji of `room` or of the server;
/// any other emoji (a Unicode one) is not looked up.
pub fn reaction_known(conn: &mut DbConnection, room: RoomId, emoji: &str) -> Result<bool, DbError> {
    let Some(code) = shortcode::of_reaction(emoji) else {
        return Ok(true);
    };
    let found: i64 = custom_emoji::table
        .filter(custom_emoji::shortcode.eq(code))
        .filter(
            custom_emoji::room_id
                .eq(room)
                .or(custom_emoji::room_id.is_null()),
        )
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// The shortcodes a view may show: in its body, then in its reactions, each once.
fn candidates(view: &MessageView) -> Vec<&str> {
    let mut codes: Vec<&str> = Vec::new();
    if !view.deleted && shortcode::may_contain(&view.body) {
        codes.extend(shortcode::tokens(&view.body));
    }
    codes.extend(
        view.reactions
            .iter()
            .filter_map(|r| shortcode::of_reaction(&r.emoji)),
    );
    let mut seen = BTreeSet::new();
    codes.retain(|c| seen.insert(*c));
    codes.truncate(MAX_PER_MESSAGE);
    codes
}

/// Shortcodes looked up for one message at most (a body of nothing but `:aa::ab:...` names about
/// a thousand).
const MAX_PER_MESSAGE: usize = 50;
/// Shortcodes bound in one query at most (SQLite allows 32,766 variables in a statement).
const CODES_PER_QUERY: usize = 500;

/// Sets each view's `emoji` to the custom emoji its body and reactions name, the room's own
/// before the server-wide ones: one query for all the views, none when no view names any.
pub fn resolve<'a>(
    conn: &mut DbConnection,
    views: impl IntoIterator<Item = &'a mut MessageView>,
) -> Result<(), DbError> {
    let mut views: Vec<(&'a mut MessageView, Vec<String>)> = views
        .into_iter()
        .filter_map(|v| {
            let codes: Vec<String> = candidates(v).into_iter().map(str::to_owned).collect();
            (!codes.is_empty()).then_some((v, codes))
        })
        .collect();
    if views.is_empty() {
        return Ok(());
    }
    let mut rooms: Vec<RoomId> = views.iter().map(|(v, _)| v.room).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let mut codes: Vec<&str> = views
        .iter()
        .flat_map(|(_, c)| c.iter().map(String::as_str))
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let mut found: HashMap<(Option<RoomId>, String), i64> = HashMap::new();
    for chunk in codes.chunks(CODES_PER_QUERY) {
        found.extend(
            custom_emoji::table
                .filter(custom_emoji::shortcode.eq_any(chunk))
                .filter(
                    custom_emoji::room_id
                        .eq_any(&rooms)
                        .or(custom_emoji::room_id.is_null()),
                )
                .select((
                    custom_emoji::room_id,
                    custom_emoji::shortcode,
                    custom_emoji::id,
                ))
                .load::<(Option<RoomId>, String, i64)>(conn)?
                .into_iter()
                .map(|(room, code, id)| ((room, code), id)),
        );
    }
    for (view, codes) in &mut views {
        let room = Some(view.room);
        view.emoji = codes
            .drain(..)
            .filter_map(|code| {
                let id = found
                    .get(&(room, code.clone()))
                    .or_else(|| found.get(&(None, code.clone())))?;
                Some(EmojiRef {
                    shortcode: code,
                    url: url(*id),
                })
            })
            .collect();
    }
    Ok(())
}

/// [`resolve`] for the new messages of a batch committed by the one-statement path. The messages
/// are durable already, so a failed lookup leaves them without `emoji` rather than failing the
/// batch (which would tell their authors that nothing was written): the list only decorates the
/// body, and history read later has it.
pub fn resolve_committed(conn: &mut DbConnection, results: &mut [RequestResult]) {
    let views = results
        .iter_mut()
        .filter_map(|r| r.as_mut().ok())
        .flatten()
        .filter_map(|a| match a {
            Applied::Message { message, .. } => Some(message),
            _ => None,
        });
    let _decoration_only_history_has_it = resolve(conn, views);
}

#[cfg(test)]
mod tests {
    use super::*;
    use veza_actors::model::{MessageKind, UserRef};
    use veza_actors::{MessageId, RoomId, UserId};

    #[test]
    fn a_message_names_at_most_fifty_shortcodes() {
        let body: String = (0..200).map(|i| format!(":c{i}:")).collect();
        let view = MessageView::committed(
            MessageId(1),
            RoomId(2),
            1,
            MessageKind::User,
            UserRef {
                id: UserId(3),
                username: "a".into(),
            },
            body,
            0,
        );
        let codes = candidates(&view);
        assert_eq!(codes.len(), MAX_PER_MESSAGE);
        assert_eq!(codes[0], "c0");
    }
}
