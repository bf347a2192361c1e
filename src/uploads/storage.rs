//! Where upload bytes live: a small [`BlobStore`] port (put, open with a length, delete) and its
//! local-disk implementation under `data_dir/uploads/`. Keys are made by the server from the
//! upload's id ([`BlobKey`]), never from anything a client sent, so no filename can reach the
//! file system. An S3-compatible store can implement the same trait later; several nodes need
//! either that or one shared data dir (docs/operations.md).

use rand::Rng;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("no such blob")]
    NotFound,
    #[error("blob store I/O: {0}")]
    Io(#[from] io::Error),
}

/// A blob's name in the store: `ab/cd/<id>` (two levels of fan-out from the id's low bits, so no
/// directory holds millions of files), `.thumb.png` / `.thumb.jpg` appended for a thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobKey(String);

/// What kind of thumbnail a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbFormat {
    Png,
    Jpeg,
}

impl ThumbFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ThumbFormat::Png => "image/png",
            ThumbFormat::Jpeg => "image/jpeg",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            ThumbFormat::Png => ".thumb.png",
            ThumbFormat::Jpeg => ".thumb.jpg",
        }
    }
}

impl BlobKey {
    /// The key of upload `id`'s bytes.
    pub fn upload(id: i64) -> Self {
        let bits = id as u64;
        BlobKey(format!(
            "{:02x}/{:02x}/{id}",
            bits & 0xff,
            (bits >> 8) & 0xff
        ))
    }

    /// The key of upload `id`'s thumbnail.
    pub fn thumbnail(id: i64, format: ThumbFormat) -> Self {
        BlobKey(format!("{}{}", Self::upload(id).0, format.suffix()))
    }

    /// A key read back from the store's rows: accepted only in the shape this module makes
    /// (defence in depth: a tampered row cannot name `../` anything).
    pub fn stored(text: &str) -> Option<Self> {
        let mut parts = text.split('/');
        let (a, b, name) = (parts.next()?, parts.next()?, parts.next()?);
        let hex2 = |s: &str| s.len() == 2 && s.bytes().all(|c| c.is_ascii_hexdigit());
        let id = name
            .strip_suffix(ThumbFormat::Png.suffix())
            .or_else(|| name.strip_suffix(ThumbFormat::Jpeg.suffix()))
            .unwrap_or(name);
        let well_formed = parts.next().is_none()
            && hex2(a)
            && hex2(b)
            && !id.is_empty()
            && id.bytes().all(|c| c.is_ascii_digit());
        well_formed.then(|| BlobKey(text.to_owned()))
    }

    /// The thumbnail format this key names, if it is a thumbnail's.
    pub fn thumb_format(&self) -> Option<ThumbFormat> {
        if self.0.ends_with(ThumbFormat::Png.suffix()) {
            Some(ThumbFormat::Png)
        } else if self.0.ends_with(ThumbFormat::Jpeg.suffix()) {
            Some(ThumbFormat::Jpeg)
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A blob being written: nothing is visible under its key until [`BlobWriter::commit`]; dropped
/// without it, whatever was written is thrown away.
pub trait BlobWriter: Write + Send {
    fn commit(self: Box<Self>) -> Result<(), StorageError>;
}

/// A stored blob opened for reading, with its length (for ranges and `Content-Length`).
#[derive(Debug)]
pub struct Blob {
    pub file: File,
    /// Where it is, for the file responder's ETag and Last-Modified.
    pub path: PathBuf,
    pub len: u64,
}

/// The blob store port. Blocking: call it off the async workers.
pub trait BlobStore: Send + Sync {
    /// Starts writing `key`.
    fn put(&self, key: &BlobKey) -> Result<Box<dyn BlobWriter>, StorageError>;
    /// Opens `key` for reading.
    fn open(&self, key: &BlobKey) -> Result<Blob, StorageError>;
    /// Deletes `key`; deleting what is not there is not an error (two sweeps may meet).
    fn delete(&self, key: &BlobKey) -> Result<(), StorageError>;
}

/// Blobs as files under one directory: `root/ab/cd/<id>`, written as `root/tmp/<random>.part`
/// and renamed into place (same file system), so a reader never sees half a file.
#[derive(Debug, Clone)]
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDisk { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.root.join(&key.0)
    }
}

struct DiskWriter {
    file: Option<File>,
    temp: PathBuf,
    target: PathBuf,
}

impl Write for DiskWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("blob already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl BlobWriter for DiskWriter {
    fn commit(mut self: Box<Self>) -> Result<(), StorageError> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
        }
        if let Some(dir) = self.target.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::rename(&self.temp, &self.target)?;
        Ok(())
    }
}

impl Drop for DiskWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            // Not committed: the part file is thrown away.
            let _gone_or_never_made = fs::remove_file(&self.temp);
        }
    }
}

impl BlobStore for LocalDisk {
    fn put(&self, key: &BlobKey) -> Result<Box<dyn BlobWriter>, StorageError> {
        let tmp = self.root.join("tmp");
        fs::create_dir_all(&tmp)?;
        let temp = tmp.join(format!("{:016x}.part", rand::thread_rng().gen::<u64>()));
        let file = File::options().write(true).create_new(true).open(&temp)?;
        Ok(Box::new(DiskWriter {
            file: Some(file),
            temp,
            target: self.path_of(key),
        }))
    }

    fn open(&self, key: &BlobKey) -> Result<Blob, StorageError> {
        let path = self.path_of(key);
        let file = File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StorageError::NotFound,
            _ => StorageError::Io(e),
        })?;
        let len = file.metadata()?.len();
        Ok(Blob { file, path, len })
    }

    fn delete(&self, key: &BlobKey) -> Result<(), StorageError> {
        match fs::remove_file(self.path_of(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn keys_come_from_the_id_and_only_that_shape_is_read_back() {
        let key = BlobKey::upload(0x1234_5678);
        assert_eq!(key.as_str(), "78/56/305419896");
        assert_eq!(BlobKey::stored(key.as_str()), Some(key.clone()));
        let thumb = BlobKey::thumbnail(0x1234_5678, ThumbFormat::Jpeg);
        assert_eq!(BlobKey::stored(thumb.as_str()), Some(thumb.clone()));
        assert_eq!(thumb.thumb_format(), Some(ThumbFormat::Jpeg));
        for bad in [
            "../../etc/passwd",
            "78/56/../1",
            "/78/56/1",
            "78/56/1/2",
            "7/56/1",
            "78/56/",
            "78/56/1.html",
        ] {
            assert_eq!(BlobKey::stored(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_blob_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDisk::new(dir.path());
        let key = BlobKey::upload(42);
        let mut w = store.put(&key).unwrap();
        w.write_all(b"hello").unwrap();
        assert!(matches!(store.open(&key), Err(StorageError::NotFound)));
        w.commit().unwrap();
        let mut blob = store.open(&key).unwrap();
        assert_eq!(blob.len, 5);
        let mut text = String::new();
        blob.file.read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        // Abandoned writes leave nothing behind.
        let mut w = store.put(&BlobKey::upload(43)).unwrap();
        w.write_all(b"half").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        store.delete(&key).unwrap();
        store.delete(&key).unwrap();
        assert!(matches!(store.open(&key), Err(StorageError::NotFound)));
    }
}
