//! What happens to an upload once its bytes are in the store: the thumbnail of an image, the row
//! (under the owner's quota, checked again inside the transaction), or the blobs thrown away when
//! it is refused. Blocking: run these off the async workers.

use super::storage::{BlobKey, BlobStore};
use super::thumbnail::{self, ThumbnailError};
use super::UploadError;
use crate::db::uploads::{self as rows, NewUpload, UploadRow};
use crate::db::write_txn::write_transaction;
use crate::db::DbConnection;
use std::io::{BufReader, Write};

/// An image's size (from its header) and the key of its stored thumbnail, when one could be made.
#[derive(Debug, Default)]
pub struct Pictured {
    pub size: Option<(i64, i64)>,
    pub thumbnail: Option<BlobKey>,
}

/// Makes and stores the thumbnail of image upload `id`. An image that cannot be decoded (or is
/// too large to) is kept without one: it is served as it came, with its sniffed type.
pub fn picture(store: &dyn BlobStore, id: i64, content_type: &str) -> Pictured {
    let key = BlobKey::upload(id);
    let open = || {
        store
            .open(&key)
            .map(|b| BufReader::new(b.file))
            .map_err(std::io::Error::other)
    };
    match thumbnail::make(open, content_type) {
        Ok(thumb) => {
            let size = Some((i64::from(thumb.original.0), i64::from(thumb.original.1)));
            let thumb_key = BlobKey::thumbnail(id, thumb.format);
            let stored = store.put(&thumb_key).and_then(|mut w| {
                w.write_all(&thumb.bytes)
                    .map_err(super::StorageError::from)?;
                w.commit()
            });
            Pictured {
                size,
                thumbnail: stored.is_ok().then_some(thumb_key),
            }
        }
        Err(ThumbnailError::TooManyPixels(w, h)) => Pictured {
            size: Some((i64::from(w), i64::from(h))),
            thumbnail: None,
        },
        Err(_) => Pictured::default(),
    }
}

/// Inserts the row if the owner's uploads stay within `quota` bytes (0: no quota). The owner's
/// row is locked first, so concurrent uploads of one user are counted one after the other.
pub fn record(
    conn: &mut DbConnection,
    row: &NewUpload<'_>,
    quota: u64,
) -> Result<UploadRow, UploadError> {
    write_transaction(conn, |conn| {
        rows::lock_owner(conn, row.owner_id)?;
        if quota > 0 {
            let used = rows::used_bytes(conn, row.owner_id)?.max(0) as u64;
            if used.saturating_add(row.size_bytes.max(0) as u64) > quota {
                return Err(UploadError::QuotaExceeded { quota, used });
            }
        }
        rows::insert(conn, row)?;
        rows::find(conn, row.id)?.ok_or(UploadError::NotFound)
    })
}

/// Deletes an upload's blobs (best effort: what fails to go is unreachable without its row).
pub fn discard(store: &dyn BlobStore, keys: impl IntoIterator<Item = BlobKey>) {
    for key in keys {
        let _unreachable_without_a_row = store.delete(&key);
    }
}
