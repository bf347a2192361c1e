//! The blocking half of an upload: chunks arrive from the request over a bounded channel (the
//! async half counts them and stops at the limit, so nothing is buffered whole) and are written
//! to the blob store as they come, hashed and sampled for sniffing on the way.

use super::sniff::SAMPLE_BYTES;
use super::storage::BlobWriter;
use super::storage::{BlobKey, BlobStore};
use super::UploadError;
use actix_multipart::Field;
use bytes::Bytes;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;
use tokio::sync::mpsc::{self, Receiver};

/// Chunks in flight between the request and the blocking writer.
const CHANNEL: usize = 8;

/// How much one upload may still bring: the size limit, and what is left of the quota.
pub struct Budget {
    pub max: u64,
    /// What is left of the owner's quota (`u64::MAX`: no quota).
    pub left: u64,
    pub quota: u64,
    pub used: u64,
}

impl Budget {
    /// The refusal for a file of (at least) `size` bytes, if it is one.
    pub fn refuse(&self, size: u64) -> Option<UploadError> {
        if size > self.max {
            Some(UploadError::TooLarge { max: self.max })
        } else if size > self.left {
            Some(UploadError::QuotaExceeded {
                quota: self.quota,
                used: self.used,
            })
        } else {
            None
        }
    }
}

/// Streams the part's bytes to a blocking writer, counting them: past the budget the request is
/// refused at once and the partial blob thrown away.
pub async fn stream_into_store(
    mut field: Field,
    blobs: Arc<dyn BlobStore>,
    id: i64,
    budget: &Budget,
) -> Result<Received, UploadError> {
    let (tx, rx) = mpsc::channel(CHANNEL);
    let writing = actix_web::web::block(move || {
        let writer = blobs.put(&BlobKey::upload(id))?;
        write_all(writer, rx)
    });
    let mut size = 0u64;
    let mut failed: Option<UploadError> = None;
    while let Some(chunk) = field.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                failed = Some(UploadError::BadRequest(format!(
                    "the upload could not be read: {e}"
                )));
                break;
            }
        };
        size += chunk.len() as u64;
        if let Some(refusal) = budget.refuse(size) {
            failed = Some(refusal);
            break;
        }
        if tx.send(Chunk::Data(chunk)).await.is_err() {
            break; // the writer failed: its error is below
        }
    }
    if failed.is_none() {
        let _writer_error_follows = tx.send(Chunk::End).await;
    }
    drop(tx);
    let written = writing.await;
    match failed {
        Some(e) => Err(e),
        None => written.map_err(|_| UploadError::Aborted)?,
    }
}

/// What the request sends the writer.
#[derive(Debug)]
pub enum Chunk {
    Data(Bytes),
    /// The part ended: commit. A channel closed without it means the request failed: the
    /// partial blob is thrown away.
    End,
}

/// A blob written whole.
#[derive(Debug)]
pub struct Received {
    pub size: u64,
    pub sha256: String,
    /// Its first [`SAMPLE_BYTES`].
    pub head: Vec<u8>,
}

/// Writes what arrives on `chunks` into `writer` until [`Chunk::End`], then commits it. Blocking:
/// run it on a blocking thread.
pub fn write_all(
    mut writer: Box<dyn BlobWriter>,
    mut chunks: Receiver<Chunk>,
) -> Result<Received, UploadError> {
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(SAMPLE_BYTES);
    let mut size = 0u64;
    loop {
        match chunks.blocking_recv() {
            Some(Chunk::Data(bytes)) => {
                if head.len() < SAMPLE_BYTES {
                    let take = (SAMPLE_BYTES - head.len()).min(bytes.len());
                    head.extend_from_slice(&bytes[..take]);
                }
                hasher.update(&bytes);
                writer
                    .write_all(&bytes)
                    .map_err(|e| UploadError::Storage(e.into()))?;
                size += bytes.len() as u64;
            }
            Some(Chunk::End) => break,
            None => return Err(UploadError::Aborted),
        }
    }
    writer.commit()?;
    Ok(Received {
        size,
        sha256: hex::encode(hasher.finalize()),
        head,
    })
}
