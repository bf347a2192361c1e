//! Stream schedules (issue 14): weekly and one-off slots in a time zone (`slot`), conflicts
//! between a stream's slots (`conflict`), and the ticker that announces each occurrence once
//! across the cluster (`ticker`, `event`).

pub mod conflict;
pub mod event;
pub mod slot;
pub mod ticker;

use crate::db::DbError;

/// What the schedule layer refuses or fails with (mapped to HTTP in `http::error`).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A field is malformed or out of range (422).
    #[error("{0}")]
    Invalid(String),
    /// The slot overlaps another slot of the stream (409 `schedule_conflict`).
    #[error("overlaps slot {slot} (its occurrence at {at})")]
    Conflict { slot: i64, at: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ScheduleError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ScheduleError::Invalid(message.into())
    }
}

impl From<diesel::result::Error> for ScheduleError {
    fn from(e: diesel::result::Error) -> Self {
        ScheduleError::Db(e.into())
    }
}
