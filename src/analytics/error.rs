//! The analytics layer's errors (the endpoint's store errors are `DbError`s, mapped in
//! `http::error`).

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// Another node deleted some of the sessions this fold had read: it is folding them; this
    /// node's transaction is rolled back and leaves them to it.
    #[error("another node is folding these sessions")]
    Claimed,
}

impl From<diesel::result::Error> for AnalyticsError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}
