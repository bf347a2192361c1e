//! Storage: one diesel code base over PostgreSQL and SQLite.
//!
//! [`DbConnection`] is a `MultiConnection` enum; [`pool::connect`] picks the variant from the URL
//! rather than letting diesel try each, and sets SQLite up for a server (WAL, busy timeout, foreign
//! keys). Queries live in one module per table group and take `&mut DbConnection`.

pub mod analytics;
pub mod audit;
pub mod autodj;
pub mod blocks;
pub mod bot_commands;
pub mod bots;
pub mod chat_store;
mod chat_writes;
mod conversation_commit;
pub mod conversations;
pub mod emoji;
pub mod error;
pub mod follows;
pub mod message_commit;
pub mod messages;
pub mod migrations;
pub mod notifications;
pub mod oauth;
pub mod openssl_exit;
pub mod outgoing_webhooks;
pub mod pins;
pub mod playlists;
pub mod pool;
pub mod rooms;
pub mod schedules;
pub mod schema;
pub mod search;
pub mod sessions;
pub mod streams;
pub mod tracks;
pub mod two_factor;
pub mod unread;
pub mod uploads;
pub mod users;
pub mod webhook_deliveries;
pub mod webhook_outbox;
pub mod webhooks;
pub mod write_txn;

pub use error::DbError;
pub use pool::{Backend, DbPool};

/// A connection to either backend; diesel queries written against it run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}
