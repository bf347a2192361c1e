//! Full-text search over a room's messages: PostgreSQL `tsvector` with a GIN index, SQLite FTS5.
//! One trait, one implementation per backend; [`search`] picks by connection.

use super::messages::MessageRow;
use super::{DbConnection, DbError};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use veza_actors::RoomId;

/// Searches one room's live (not deleted) messages, best match first.
pub trait FullTextSearch {
    fn search_room(
        &mut self,
        room: RoomId,
        query: &str,
        limit: i64,
    ) -> Result<Vec<MessageRow>, DbError>;
}

impl FullTextSearch for diesel::PgConnection {
    fn search_room(
        &mut self,
        room: RoomId,
        query: &str,
        limit: i64,
    ) -> Result<Vec<MessageRow>, DbError> {
        // websearch_to_tsquery accepts any user text (quotes, OR, -word) without syntax errors.
        Ok(diesel::sql_query(
            "SELECT m.* FROM messages m \
             WHERE m.room_id = $1 AND m.deleted_at IS NULL \
             AND to_tsvector('simple', m.body) @@ websearch_to_tsquery('simple', $2) \
             ORDER BY ts_rank(to_tsvector('simple', m.body), websearch_to_tsquery('simple', $2)) DESC, m.seq DESC \
             LIMIT $3",
        )
        .bind::<BigInt, _>(room)
        .bind::<Text, _>(query)
        .bind::<BigInt, _>(limit)
        .load(self)?)
    }
}

impl FullTextSearch for diesel::SqliteConnection {
    fn search_room(
        &mut self,
        room: RoomId,
        query: &str,
        limit: i64,
    ) -> Result<Vec<MessageRow>, DbError> {
        let Some(fts_query) = fts5_query(query) else {
            return Ok(Vec::new());
        };
        Ok(diesel::sql_query(
            "SELECT m.* FROM messages_fts f JOIN messages m ON m.id = f.rowid \
             WHERE messages_fts MATCH ? AND m.room_id = ? AND m.deleted_at IS NULL \
             ORDER BY f.rank, m.seq DESC LIMIT ?",
        )
        .bind::<Text, _>(fts_query)
        .bind::<BigInt, _>(room)
        .bind::<BigInt, _>(limit)
        .load(self)?)
    }
}

/// User text as an FTS5 query that cannot be a syntax error: every word a quoted phrase, all
/// required. `None` if nothing searchable is left.
fn fts5_query(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

pub fn search(
    conn: &mut DbConnection,
    room: RoomId,
    query: &str,
    limit: i64,
) -> Result<Vec<MessageRow>, DbError> {
    match conn {
        DbConnection::Postgres(pg) => pg.search_room(room, query, limit),
        DbConnection::Sqlite(lite) => lite.search_room(room, query, limit),
    }
}

#[cfg(test)]
mod tests {
    use super::fts5_query;

    #[test]
    fn user_text_becomes_quoted_terms() {
        assert_eq!(
            fts5_query("hello world").as_deref(),
            Some("\"hello\" \"world\"")
        );
        assert_eq!(
            fts5_query("say \"hi\" OR *").as_deref(),
            Some("\"say\" \"\"\"hi\"\"\" \"OR\" \"*\"")
        );
        assert_eq!(fts5_query("   "), None);
    }
}
