//! The backup layer's error type: what `veza backup` and `veza restore` can refuse or fail on. Each
//! message says what to do about it; the CLI adds the command's context.

use crate::db::{Backend, DbError};
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BackupError {
    /// The configured URL names no backend, or SQLite in memory (nothing on disk to copy).
    #[error(transparent)]
    Url(DbError),
    #[error("an in-memory SQLite database (sqlite://:memory:) has nothing to back up or restore")]
    InMemory,
    #[error("invalid PostgreSQL URL: {0}")]
    PgUrl(String),
    #[error("no SQLite database at {0}")]
    NoDatabase(PathBuf),
    #[error("the output {0} is the configured database itself: write the backup elsewhere")]
    OutputIsDatabase(PathBuf),
    /// (`cause`, not `source`: the message already holds it, a cause chain would say it twice.)
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A call into SQLite failed; `op` says which step.
    #[error("SQLite {op} on {path}: {message}")]
    Sqlite {
        op: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error(
        "{tool} was not found on PATH: install the PostgreSQL client tools (Debian/Ubuntu package \
         `postgresql-client`, at least the server's major version)"
    )]
    ToolMissing { tool: &'static str },
    #[error("{tool} failed ({status}): {stderr}")]
    ToolFailed {
        tool: &'static str,
        status: String,
        stderr: String,
    },
    /// The input is a backup of the other backend.
    #[error(
        "{path} is a {found} backup but the configured database is {target}: restore it into a \
         {found} database (set VEZA_DATABASE_URL accordingly)"
    )]
    WrongKind {
        path: PathBuf,
        found: &'static str,
        target: &'static str,
    },
    #[error(
        "{0} is not a Veza backup: it starts neither with `SQLite format 3` (SQLite) nor `PGDMP` \
         (pg_dump custom format)"
    )]
    Unrecognised(PathBuf),
    #[error("{0} is not a backup of a Veza database (it has no Veza migrations table)")]
    NotVeza(PathBuf),
    #[error("{path} failed SQLite's integrity check: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the configured database already holds {users} user(s): a restore replaces everything in \
         it; pass --force to do so"
    )]
    NotEmpty { users: i64 },
    #[error(
        "the SQLite database {path} is open in process {pid} (a running server?): stop it first, \
         then restore"
    )]
    InUse { path: PathBuf, pid: i32 },
    /// The database is at a newer schema than the backup: `pg_restore --clean` would leave these.
    #[error(
        "the database has tables the backup lacks ({tables}): it is at a newer schema than the \
         backup; restore into an empty database instead (dropdb, then createdb)"
    )]
    TablesNotInBackup { tables: String },
    #[error(
        "{sessions} other session(s) are connected to the PostgreSQL database (running servers?): \
         stop them first, or pass --ignore-sessions if none of them is a Veza server"
    )]
    PgInUse { sessions: i64 },
    /// Opening, migrating or reading the restored store.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl BackupError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |cause| BackupError::Io { path, cause }
    }
}

/// The name a backend's backups go by in messages.
pub(crate) fn kind_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}
