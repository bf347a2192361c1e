//! `veza backup` and `veza restore`: a consistent copy of the configured store in one file, and
//! that file put back.
//!
//! SQLite uses its online backup API (a snapshot read while the server keeps writing in WAL mode);
//! PostgreSQL uses `pg_dump --format=custom` and `pg_restore`, found on PATH. A backup is written
//! to a temporary file beside the output and renamed at the end, so a failed one never leaves a
//! truncated file under the final name. A restore checks the file's kind by its magic bytes, refuses
//! to replace a database that holds users unless forced, and then runs the migrations, so a backup
//! taken by an older version comes up to date.

mod error;
mod postgres;
mod sqlite;

pub use error::BackupError;

use crate::config::Config;
use crate::db::pool::backend_of;
use crate::db::schema::{messages, rooms, users};
use crate::db::Backend;
use diesel::prelude::*;
use slog::Logger;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What `veza backup` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub backend: Backend,
}

/// What `veza restore` put back, counted in the restored and migrated store.
#[derive(Debug, Clone)]
pub struct Restored {
    pub backend: Backend,
    pub users: i64,
    pub rooms: i64,
    pub messages: i64,
    /// Migrations the backup lacked (it came from an older version).
    pub migrations_applied: usize,
}

/// Writes a consistent copy of the configured store to `output`. Safe while servers run.
pub fn backup(config: &Config, output: &Path) -> Result<Written, BackupError> {
    let backend = backend_of(&config.database_url).map_err(BackupError::Url)?;
    let partial = Partial::beside(output)?;
    match backend {
        Backend::Sqlite => {
            let db = sqlite::path_of(&config.database_url)?;
            if same_file(&db, output) {
                return Err(BackupError::OutputIsDatabase(output.to_owned()));
            }
            sqlite::backup(&db, partial.path())?;
        }
        Backend::Postgres => postgres::backup(&config.database_url, partial.path())?,
    }
    let bytes = partial.commit(output)?;
    Ok(Written {
        path: output.to_owned(),
        bytes,
        backend,
    })
}

/// Replaces the configured store's content with the backup in `input`, then migrates it.
/// Refuses a file of the other backend or of no known kind, a SQLite database open in another
/// process or (unless `ignore_sessions`) a PostgreSQL database other sessions use, and (unless
/// `force`) a database that holds users.
pub fn restore(
    config: &Config,
    input: &Path,
    force: bool,
    ignore_sessions: bool,
    log: &Logger,
) -> Result<Restored, BackupError> {
    let backend = backend_of(&config.database_url).map_err(BackupError::Url)?;
    let found = FileKind::of(input)?;
    match (found, backend) {
        (FileKind::Unknown, _) => return Err(BackupError::Unrecognised(input.to_owned())),
        (FileKind::Sqlite, Backend::Postgres) | (FileKind::PgDump, Backend::Sqlite) => {
            return Err(BackupError::WrongKind {
                path: input.to_owned(),
                found: found.name(),
                target: error::kind_name(backend),
            })
        }
        (FileKind::Sqlite, Backend::Sqlite) => {
            sqlite::restore(&sqlite::path_of(&config.database_url)?, input, force)?
        }
        (FileKind::PgDump, Backend::Postgres) => {
            postgres::restore(&config.database_url, input, force, ignore_sessions)?
        }
    }
    // As `veza migrate` does: a backup from an older version comes up to date.
    let pool =
        crate::db::DbPool::connect(&config.database_url, 1, std::time::Duration::from_secs(10))?;
    let mut conn = pool.get()?;
    let applied = crate::db::migrations::run(&mut conn)?;
    slog::info!(log, "store restored"; "backend" => backend.as_str(), "migrations_applied" => applied.len());
    let count = |q: Result<i64, diesel::result::Error>| q.map_err(crate::db::DbError::from);
    Ok(Restored {
        backend,
        users: count(users::table.count().get_result(&mut *conn))?,
        rooms: count(rooms::table.count().get_result(&mut *conn))?,
        messages: count(messages::table.count().get_result(&mut *conn))?,
        migrations_applied: applied.len(),
    })
}

/// What a file holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Starts with `SQLite format 3\0`.
    Sqlite,
    /// Starts with `PGDMP`: pg_dump's custom (or directory-toc) format.
    PgDump,
    Unknown,
}

impl FileKind {
    const SQLITE_MAGIC: &'static [u8] = b"SQLite format 3\0";
    const PG_MAGIC: &'static [u8] = b"PGDMP";

    pub fn of(path: &Path) -> Result<Self, BackupError> {
        let mut head = Vec::with_capacity(16);
        File::open(path)
            .and_then(|f| f.take(16).read_to_end(&mut head))
            .map_err(BackupError::io(path))?;
        Ok(Self::of_bytes(&head))
    }

    pub fn of_bytes(head: &[u8]) -> Self {
        if head.starts_with(Self::SQLITE_MAGIC) {
            FileKind::Sqlite
        } else if head.starts_with(Self::PG_MAGIC) {
            FileKind::PgDump
        } else {
            FileKind::Unknown
        }
    }

    fn name(self) -> &'static str {
        match self {
            FileKind::Sqlite => "SQLite",
            FileKind::PgDump => "PostgreSQL",
            FileKind::Unknown => "unknown",
        }
    }
}

/// A temporary file beside the final output, removed unless committed: a failed backup leaves
/// nothing under the final name, and no half-written file behind.
struct Partial {
    path: PathBuf,
    committed: bool,
}

impl Partial {
    fn beside(output: &Path) -> Result<Self, BackupError> {
        let name = output
            .file_name()
            .ok_or_else(|| BackupError::Io {
                path: output.to_owned(),
                cause: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the output must name a file",
                ),
            })?
            .to_string_lossy();
        if output.is_dir() {
            return Err(BackupError::Io {
                path: output.to_owned(),
                cause: std::io::Error::new(
                    std::io::ErrorKind::IsADirectory,
                    "the output is a directory: name a file in it",
                ),
            });
        }
        let dir = output
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(BackupError::Io {
                path: dir.to_owned(),
                cause: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the output's directory does not exist",
                ),
            });
        }
        let path = output.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        // Left over from a crashed run with the same pid: not ours to keep.
        let _stale = std::fs::remove_file(&path);
        // Made empty and private before anything writes it: a backup holds password hashes and
        // sealed secrets (SQLite takes an empty file as a new database; pg_dump truncates it).
        private_empty_file(&path)?;
        Ok(Partial {
            path,
            committed: false,
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes the file to disk and renames it to `output`; returns its size.
    fn commit(mut self, output: &Path) -> Result<u64, BackupError> {
        let file = File::open(&self.path).map_err(BackupError::io(&self.path))?;
        file.sync_all().map_err(BackupError::io(&self.path))?;
        let bytes = file.metadata().map_err(BackupError::io(&self.path))?.len();
        std::fs::rename(&self.path, output).map_err(BackupError::io(output))?;
        self.committed = true;
        // The rename itself is durable once the directory is synced.
        if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _best_effort = d.sync_all();
            }
        }
        Ok(bytes)
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        // SQLite may leave its journal beside a copy it was writing when it failed.
        let suffixes: &[&str] = if self.committed {
            &["-journal"]
        } else {
            &["", "-journal", "-wal", "-shm"]
        };
        for suffix in suffixes {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            let _best_effort = std::fs::remove_file(PathBuf::from(path));
        }
    }
}

/// Creates `path` empty, readable by its owner only.
fn private_empty_file(path: &Path) -> Result<(), BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(BackupError::io(path))
}

/// True when both paths name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_told_by_their_magic_bytes() {
        assert_eq!(
            FileKind::of_bytes(b"SQLite format 3\0\x10\x00"),
            FileKind::Sqlite
        );
        assert_eq!(FileKind::of_bytes(b"PGDMP\x01\x0e\x00"), FileKind::PgDump);
        assert_eq!(FileKind::of_bytes(b"SQLite format 3"), FileKind::Unknown);
        assert_eq!(FileKind::of_bytes(b""), FileKind::Unknown);
        assert_eq!(FileKind::of_bytes(b"-- PostgreSQL dump"), FileKind::Unknown);
    }
}
