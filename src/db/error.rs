//! The storage layer's error type.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum DbError {
    /// The URL names no backend we support.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("could not prepare the database directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// The database answered something that cannot be (fewer rows than a statement must return).
    #[error("inconsistent answer from the database: {0}")]
    Inconsistent(String),
}

impl DbError {
    /// True when the error is a unique-constraint violation (a duplicate key).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}
