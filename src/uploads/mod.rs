//! Attachments: files uploaded into a room and carried by messages.
//!
//! The bytes go to a [`storage::BlobStore`] (local disk under `data_dir/uploads/` today) under a
//! key made from the upload's id; the row (`db::uploads`) keeps the cleaned filename, the type
//! sniffed from the bytes ([`sniff`]), size, SHA-256 and the thumbnail's key ([`thumbnail`]).
//! A message takes uploads in its own commit (`db::chat_store`); deleting it starts a grace
//! period, after which [`sweeper`] deletes the row and then the files. REST is in
//! `http::routes::uploads`.

pub mod filename;
pub mod finish;
pub mod receive;
pub mod sniff;
pub mod storage;
pub mod sweeper;
pub mod thumbnail;

use crate::config::uploads::Uploads as UploadsConfig;
use crate::db::DbError;
use std::sync::Arc;
use storage::{BlobStore, LocalDisk, StorageError};
use thiserror::Error;

/// How long an upload that no message took is kept (a draft abandoned in a closed tab).
pub const UNATTACHED_TTL_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Error)]
pub enum UploadError {
    #[error("the file is larger than {max} bytes, the most one upload may carry")]
    TooLarge { max: u64 },
    #[error(
        "this upload would take your files past your storage quota of {quota} bytes ({used} used); \
         delete some first"
    )]
    QuotaExceeded { quota: u64, used: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("no such upload")]
    NotFound,
    #[error("the upload was cut off before its end")]
    Aborted,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for UploadError {
    fn from(e: diesel::result::Error) -> Self {
        UploadError::Db(DbError::Query(e))
    }
}

/// The node's uploads: where blobs go, the limits, and the sweeper's handle (it stops when the
/// last clone of this is dropped).
#[derive(Clone)]
pub struct Uploads {
    pub store: Arc<dyn BlobStore>,
    pub config: UploadsConfig,
    /// Places among the thumbnails made at once ([`thumbnail::MAX_AT_ONCE`]).
    pub thumbnails: Arc<tokio::sync::Semaphore>,
    /// With several nodes (Redis configured): this node's public URL, recorded on its uploads so
    /// the other nodes redirect their downloads here and leave their sweeping to it.
    pub origin: Option<String>,
    _sweeper: sweeper::Running,
}

impl Uploads {
    /// Blobs on local disk under `data_dir/uploads`, swept by a thread of this node.
    pub fn start(
        config: &crate::config::Config,
        pool: crate::db::DbPool,
        log: slog::Logger,
    ) -> Self {
        let store: Arc<dyn BlobStore> = Arc::new(LocalDisk::new(config.data_dir.join("uploads")));
        let origin = config
            .redis_url
            .as_ref()
            .map(|_| config.base_url().trim_end_matches('/').to_owned());
        let sweeper = sweeper::start(
            pool,
            store.clone(),
            config.uploads.grace(),
            origin.clone(),
            log,
        );
        Uploads {
            store,
            config: config.uploads.clone(),
            thumbnails: Arc::new(tokio::sync::Semaphore::new(thumbnail::MAX_AT_ONCE)),
            origin,
            _sweeper: sweeper,
        }
    }
}
