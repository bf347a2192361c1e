//! Embedded migrations, one set per backend, run at start and by `veza migrate`.

use super::{DbConnection, DbError};
use diesel::connection::SimpleConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const POSTGRES: EmbeddedMigrations = embed_migrations!("schema/postgres");
pub const SQLITE: EmbeddedMigrations = embed_migrations!("schema/sqlite");

/// An arbitrary constant: the PostgreSQL advisory lock that keeps two nodes starting at once from
/// running the same migrations twice.
const MIGRATION_LOCK: i64 = 0x0076_657a_616d_6967; // "vezamig"

/// Runs every pending migration; returns the versions applied (empty when already current).
pub fn run(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConnection::Postgres(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let result = pg.run_pending_migrations(POSTGRES).map(versions);
            pg.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            result
        }
        DbConnection::Sqlite(lite) => lite.run_pending_migrations(SQLITE).map(versions),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// How many migrations have not been applied yet (0 when the schema is current).
pub fn pending_count(conn: &mut DbConnection) -> Result<usize, DbError> {
    let pending = match conn {
        DbConnection::Postgres(pg) => pg.pending_migrations(POSTGRES).map(|m| m.len()),
        DbConnection::Sqlite(lite) => lite.pending_migrations(SQLITE).map(|m| m.len()),
    };
    pending.map_err(|e| DbError::Migration(e.to_string()))
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
