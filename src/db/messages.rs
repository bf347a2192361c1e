//! Queries on `messages` and `reactions`, and turning rows into protocol views.

use super::schema::{messages, reactions, users};
use super::{DbConnection, DbError};
use diesel::prelude::*;
use std::collections::HashMap;
use veza_actors::model::{MessageKind, MessageView, ReactionView, UserRef};
use veza_actors::store::{MAX_DISTINCT_REACTIONS, MAX_REACTIONS_PER_USER};
use veza_actors::{MessageId, RoomId, UserId};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    pub id: MessageId,
    pub room_id: RoomId,
    pub seq: i64,
    pub author_id: UserId,
    pub kind: String,
    pub body: String,
    pub thread_id: Option<MessageId>,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub reply_count: i64,
    pub last_reply_at: Option<i64>,
    pub also_in_room: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = messages)]
pub struct NewMessage<'a> {
    pub id: MessageId,
    pub room_id: RoomId,
    pub seq: i64,
    pub author_id: UserId,
    pub kind: &'a str,
    pub body: &'a str,
    pub thread_id: Option<MessageId>,
    pub client_id: Option<&'a str>,
    pub created_at: i64,
    pub also_in_room: bool,
}

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bound-parameter limits.
const INSERT_CHUNK: usize = 500;

pub fn insert_many(conn: &mut DbConnection, rows: &[NewMessage<'_>]) -> Result<(), DbError> {
    // Multi-row INSERT is written per backend: diesel's batch insert has no MultiBackend form.
    for chunk in rows.chunks(INSERT_CHUNK) {
        match conn {
            DbConnection::Postgres(pg) => diesel::insert_into(messages::table)
                .values(chunk)
                .execute(pg)?,
            DbConnection::Sqlite(lite) => diesel::insert_into(messages::table)
                .values(chunk)
                .execute(lite)?,
        };
    }
    Ok(())
}

pub fn find(conn: &mut DbConnection, id: MessageId) -> Result<Option<MessageRow>, DbError> {
    Ok(messages::table
        .find(id)
        .select(MessageRow::as_select())
        .first(conn)
        .optional()?)
}

/// Messages of `room` with seq < `before`, newest first.
pub fn before(
    conn: &mut DbConnection,
    room: RoomId,
    before: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    Ok(messages::table
        .filter(messages::room_id.eq(room))
        .filter(messages::seq.lt(before))
        .order(messages::seq.desc())
        .limit(limit)
        .select(MessageRow::as_select())
        .load(conn)?)
}

/// Messages of `room` with seq > `after`, oldest first.
pub fn after(
    conn: &mut DbConnection,
    room: RoomId,
    after: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    Ok(messages::table
        .filter(messages::room_id.eq(room))
        .filter(messages::seq.gt(after))
        .order(messages::seq.asc())
        .limit(limit)
        .select(MessageRow::as_select())
        .load(conn)?)
}

/// Existing messages for (author, client_id) pairs, keyed by the pair.
pub fn by_client_ids(
    conn: &mut DbConnection,
    pairs: &[(UserId, &str)],
) -> Result<HashMap<(UserId, String), MessageRow>, DbError> {
    if pairs.is_empty() {
        return Ok(HashMap::new());
    }
    // One query per author (a batch has few): `author_id = X AND client_id = ANY(...)` is a range
    // of the UNIQUE (author_id, client_id) index. A list of authors ANDed with a list of ids
    // looked unselective to the planner and scanned every message of those authors.
    let mut by_author: HashMap<UserId, Vec<&str>> = HashMap::new();
    for (author, client_id) in pairs {
        by_author.entry(*author).or_default().push(client_id);
    }
    let mut found = HashMap::new();
    for (author, ids) in by_author {
        let rows: Vec<MessageRow> = messages::table
            .filter(messages::author_id.eq(author))
            .filter(messages::client_id.eq_any(ids))
            .select(MessageRow::as_select())
            .load(conn)?;
        found.extend(
            rows.into_iter()
                .filter_map(|r| r.client_id.clone().map(|c| ((r.author_id, c), r))),
        );
    }
    Ok(found)
}

/// (id -> room) for the given message ids.
/// For each of these message ids that exists: its room and the thread it is a reply in.
pub fn rooms_of(
    conn: &mut DbConnection,
    ids: &[MessageId],
) -> Result<HashMap<MessageId, (RoomId, Option<MessageId>)>, DbError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(messages::table
        .filter(messages::id.eq_any(ids))
        .select((messages::id, messages::room_id, messages::thread_id))
        .load::<(MessageId, RoomId, Option<MessageId>)>(conn)?
        .into_iter()
        .map(|(id, room, thread)| (id, (room, thread)))
        .collect())
}

pub fn set_body(
    conn: &mut DbConnection,
    id: MessageId,
    body: &str,
    now: i64,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        messages::table
            .find(id)
            .filter(messages::deleted_at.is_null()),
    )
    .set((messages::body.eq(body), messages::edited_at.eq(now)))
    .execute(conn)?
        == 1)
}

/// Soft delete: the row keeps its seq (no gaps for clients recovering with `since`).
pub fn soft_delete(conn: &mut DbConnection, id: MessageId, now: i64) -> Result<bool, DbError> {
    Ok(diesel::update(
        messages::table
            .find(id)
            .filter(messages::deleted_at.is_null()),
    )
    .set((messages::body.eq(""), messages::deleted_at.eq(now)))
    .execute(conn)?
        == 1)
}

/// Adds or removes `user`'s `emoji` on a message.
pub fn toggle_reaction(
    conn: &mut DbConnection,
    message: MessageId,
    user: UserId,
    emoji: &str,
    now: i64,
) -> Result<Toggle, DbError> {
    // A no-op update takes the message's row lock (PostgreSQL), so toggles of one message from
    // several nodes are counted one after the other and the caps hold.
    diesel::update(messages::table.filter(messages::id.eq(message)))
        .set(messages::id.eq(messages::id))
        .execute(conn)?;
    let removed = diesel::delete(
        reactions::table
            .filter(reactions::message_id.eq(message))
            .filter(reactions::user_id.eq(user))
            .filter(reactions::emoji.eq(emoji)),
    )
    .execute(conn)?;
    if removed > 0 {
        return Ok(Toggle::Removed);
    }
    let present: Vec<(UserId, String)> = reactions::table
        .filter(reactions::message_id.eq(message))
        .select((reactions::user_id, reactions::emoji))
        .load(conn)?;
    let mine = present.iter().filter(|(u, _)| *u == user).count();
    if mine >= MAX_REACTIONS_PER_USER {
        return Ok(Toggle::Refused(format!(
            "you have {MAX_REACTIONS_PER_USER} reactions on this message already"
        )));
    }
    let mut distinct: Vec<&str> = present.iter().map(|(_, e)| e.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if !distinct.contains(&emoji) && distinct.len() >= MAX_DISTINCT_REACTIONS {
        return Ok(Toggle::Refused(format!(
            "this message has {MAX_DISTINCT_REACTIONS} different reactions already"
        )));
    }
    diesel::insert_into(reactions::table)
        .values((
            reactions::message_id.eq(message),
            reactions::user_id.eq(user),
            reactions::emoji.eq(emoji),
            reactions::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Toggle::Added)
}

/// What a reaction toggle did.
#[derive(Debug, PartialEq, Eq)]
pub enum Toggle {
    Added,
    Removed,
    /// A cap would be passed: why.
    Refused(String),
}

/// Protocol views for rows, with author names and reactions, in the rows' order.
pub fn views(conn: &mut DbConnection, rows: Vec<MessageRow>) -> Result<Vec<MessageView>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut author_ids: Vec<UserId> = rows.iter().map(|r| r.author_id).collect();
    author_ids.sort_unstable();
    author_ids.dedup();
    let names: HashMap<UserId, String> = users::table
        .filter(users::id.eq_any(&author_ids))
        .select((users::id, users::username))
        .load::<(UserId, String)>(conn)?
        .into_iter()
        .collect();
    let ids: Vec<MessageId> = rows.iter().map(|r| r.id).collect();
    let mut reactions_by_message: HashMap<MessageId, Vec<ReactionView>> = HashMap::new();
    let all: Vec<(MessageId, UserId, String)> = reactions::table
        .filter(reactions::message_id.eq_any(&ids))
        .order((
            reactions::message_id,
            reactions::created_at,
            reactions::user_id,
        ))
        .select((reactions::message_id, reactions::user_id, reactions::emoji))
        .load(conn)?;
    for (message, user, emoji) in all {
        let list = reactions_by_message.entry(message).or_default();
        match list.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => {
                r.count += 1;
                r.users.push(user);
            }
            None => list.push(ReactionView {
                emoji,
                count: 1,
                users: vec![user],
            }),
        }
    }
    let mut views: Vec<MessageView> = rows
        .into_iter()
        .map(|r| {
            let username = names.get(&r.author_id).cloned().unwrap_or_default();
            MessageView {
                id: r.id,
                room: r.room_id,
                seq: r.seq,
                kind: MessageKind::parse(&r.kind),
                author: UserRef {
                    id: r.author_id,
                    username,
                },
                deleted: r.deleted_at.is_some(),
                body: r.body,
                thread: r.thread_id,
                created_at: r.created_at,
                edited_at: r.edited_at,
                reactions: reactions_by_message.remove(&r.id).unwrap_or_default(),
                reply_count: r.reply_count,
                last_reply_at: r.last_reply_at,
                also_in_room: r.also_in_room,
                emoji: Vec::new(),
                attachments: Vec::new(),
            }
        })
        .collect();
    super::emoji::resolve(conn, &mut views)?;
    super::uploads::resolve(conn, &mut views)?;
    Ok(views)
}

pub fn view(conn: &mut DbConnection, id: MessageId) -> Result<Option<MessageView>, DbError> {
    let Some(row) = find(conn, id)? else {
        return Ok(None);
    };
    Ok(views(conn, vec![row])?.pop())
}

/// These messages (those that exist), in no particular order.
pub fn by_ids(conn: &mut DbConnection, ids: &[MessageId]) -> Result<Vec<MessageRow>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(messages::table
        .filter(messages::id.eq_any(ids))
        .select(MessageRow::as_select())
        .load(conn)?)
}

/// Replies under `root` with seq > `after`, oldest first.
pub fn thread_replies(
    conn: &mut DbConnection,
    root: MessageId,
    after: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    Ok(messages::table
        .filter(messages::thread_id.eq(root))
        .filter(messages::seq.gt(after))
        .order(messages::seq.asc())
        .limit(limit)
        .select(MessageRow::as_select())
        .load(conn)?)
}
