//! The r2d2 pool and the connection manager that picks the backend from the URL.

use super::{DbConnection, DbError};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::path::Path;
use std::time::Duration;

/// Which store a URL points at; reported by `/api/v2/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where to connect, parsed once from the configured URL.
#[derive(Debug, Clone)]
enum Target {
    Postgres(String),
    /// A file path (or `:memory:`), with the `sqlite://` prefix removed.
    Sqlite(String),
}

impl Target {
    fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Target::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::UnsupportedUrl(url.to_owned()));
            }
            Ok(Target::Sqlite(path.to_owned()))
        } else {
            Err(DbError::UnsupportedUrl(url.to_owned()))
        }
    }
}

/// The backend a URL selects, or an error naming the URL.
pub fn backend_of(url: &str) -> Result<Backend, DbError> {
    Ok(match Target::parse(url)? {
        Target::Postgres(_) => Backend::Postgres,
        Target::Sqlite(_) => Backend::Sqlite,
    })
}

/// r2d2 manager for [`DbConnection`]: connects to the one backend the URL names.
#[derive(Debug)]
pub struct Manager {
    target: Target,
}

/// SQLite tuned for a server: readers do not block the writer (WAL), a busy writer is waited for
/// instead of failing at once, and foreign keys are enforced as on PostgreSQL.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;";

impl r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        match &self.target {
            Target::Postgres(url) => Ok(DbConnection::Postgres(diesel::PgConnection::establish(
                url,
            )?)),
            Target::Sqlite(path) => {
                let mut conn = diesel::SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_PRAGMAS)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::from)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// A pool of connections to one backend.
#[derive(Clone)]
pub struct DbPool {
    pool: r2d2::Pool<Manager>,
    backend: Backend,
}

pub type PooledConnection = r2d2::PooledConnection<Manager>;

impl DbPool {
    /// Opens a pool of up to `size` connections to `url`, creating the SQLite file's directory if
    /// needed. Fails fast (within `connect_timeout`) if the store cannot be reached.
    pub fn connect(url: &str, size: u32, connect_timeout: Duration) -> Result<Self, DbError> {
        let target = Target::parse(url)?;
        let backend = match &target {
            Target::Postgres(_) => {
                super::openssl_exit::skip_openssl_exit_cleanup();
                Backend::Postgres
            }
            Target::Sqlite(path) => {
                prepare_sqlite_dir(path)?;
                Backend::Sqlite
            }
        };
        // An in-memory SQLite database exists per connection: share one, or tables vanish.
        let size = match &target {
            Target::Sqlite(path) if path == ":memory:" => 1,
            _ => size.max(1),
        };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .connection_timeout(connect_timeout)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(Manager { target })?;
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connections open and idle right now (for metrics).
    pub fn connections(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        self.pool.max_size()
    }

    /// A connection from the pool. Blocking: call it from a blocking thread, never an async arbiter.
    pub fn get(&self) -> Result<PooledConnection, DbError> {
        Ok(self.pool.get()?)
    }
}

fn prepare_sqlite_dir(path: &str) -> Result<(), DbError> {
    if path == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    match Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
                path: dir.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_their_backend() {
        assert_eq!(
            backend_of("sqlite://./data/veza.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(
            backend_of("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(backend_of("mysql://x").is_err());
        assert!(backend_of("sqlite://").is_err());
        assert!(backend_of("./veza.db").is_err());
    }
}
