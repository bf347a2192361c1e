//! SQLite: backup and restore through SQLite's online backup API on raw handles opened for the
//! purpose (diesel does not expose its own).
//!
//! The copy is made in one `sqlite3_backup_step(-1)`: one read transaction, so the file is a
//! snapshot of one moment even while the server writes (in WAL mode a reader never blocks the
//! writer, and the writer never invalidates a running read).

use super::BackupError;
use libsqlite3_sys as ffi;
use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long to wait for a lock the server holds for a moment (a checkpoint, a write on a
/// rollback-journal database) before giving up.
const BUSY_TIMEOUT_MS: c_int = 10_000;

/// The file path a `sqlite://` URL names.
pub(super) fn path_of(url: &str) -> Result<PathBuf, BackupError> {
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    if path.is_empty() || path == ":memory:" || path.contains("mode=memory") {
        return Err(BackupError::InMemory);
    }
    Ok(PathBuf::from(path))
}

/// Copies the live database at `db` to `dest` (a new file), as one consistent snapshot, then
/// makes the copy a single self-contained file (rollback journal, no `-wal`) and checks it.
pub(super) fn backup(db: &Path, dest: &Path) -> Result<(), BackupError> {
    if !db.is_file() {
        return Err(BackupError::NoDatabase(db.to_owned()));
    }
    // Read-write but never create: a WAL database needs its shared-memory file, which a
    // read-only handle may be unable to make.
    let source = Handle::open(db, ffi::SQLITE_OPEN_READWRITE)?;
    let mut copy = Handle::open(dest, ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE)?;
    copy.copy_from(&source)?;
    drop(source);
    copy.exec("PRAGMA journal_mode = DELETE")?;
    copy.check_integrity()?;
    Ok(())
}

/// Replaces the content of the database at `db` with the SQLite backup `input`.
pub(super) fn restore(db: &Path, input: &Path, force: bool) -> Result<(), BackupError> {
    refuse_if_open_elsewhere(db)?;
    // Work on a private copy of the input beside the target: the input stays untouched (no
    // `-wal`/`-shm` made next to it) and is checked before anything of the target changes.
    let dir = db
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(BackupError::io(dir))?;
    let staged = Staged(dir.join(format!(".veza-restore-{}.db", std::process::id())));
    std::fs::copy(input, &staged.0).map_err(BackupError::io(input))?;
    let source = open_checked(&staged.0).map_err(|e| e.about(input))?;

    let mut target = Handle::open(db, ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE)?;
    if !force {
        let users = target.users()?;
        if users > 0 {
            return Err(BackupError::NotEmpty { users });
        }
    }
    // The server runs in WAL mode; keep the target in it, so the copy goes through the WAL and
    // the target is never half-written on disk.
    target.exec("PRAGMA journal_mode = WAL")?;
    target.copy_from(&source)?;
    drop(source);
    target.exec("PRAGMA wal_checkpoint(TRUNCATE)")?;
    target.check_integrity()?;
    Ok(())
}

/// The staged copy of a backup, opened, integrity-checked and known to be a Veza database.
fn open_checked(staged: &Path) -> Result<Handle, BackupError> {
    let mut source = Handle::open(staged, ffi::SQLITE_OPEN_READWRITE)?;
    source.check_integrity()?;
    let migrations = source
        .count("SELECT count(*) FROM sqlite_master WHERE name = '__diesel_schema_migrations'")?;
    if migrations == 0 {
        return Err(BackupError::NotVeza(staged.to_owned()));
    }
    Ok(source)
}

impl BackupError {
    /// The same error told about `input` (the file the operator named) instead of its staged copy.
    fn about(self, input: &Path) -> Self {
        let path = input.to_owned();
        match self {
            BackupError::Sqlite { op, message, .. } => BackupError::Sqlite { op, path, message },
            BackupError::Corrupt { detail, .. } => BackupError::Corrupt { path, detail },
            BackupError::NotVeza(_) => BackupError::NotVeza(path),
            other => other,
        }
    }
}

/// A staged copy, removed on every way out.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _best_effort = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

/// Every connection to a WAL database holds a shared lock on the "DMS" byte of its `-shm` file
/// for as long as it is open (SQLite's unix VFS: byte 128, after the 120-byte header and the 8 lock
/// bytes). Asking whether an exclusive lock there would conflict tells whether another process has
/// the database open, without taking any lock.
#[cfg(unix)]
fn refuse_if_open_elsewhere(db: &Path) -> Result<(), BackupError> {
    use std::os::unix::io::AsRawFd;
    const DMS_BYTE: libc::off_t = 128;
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    let shm = PathBuf::from(shm);
    let file = match std::fs::OpenOptions::new().read(true).open(&shm) {
        Ok(f) => f,
        // No shared-memory file: no connection has it open.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(BackupError::Io {
                path: shm,
                cause: e,
            })
        }
    };
    // SAFETY: `flock` is plain data; F_GETLK only fills it in, on a descriptor we own.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    lock.l_start = DMS_BYTE;
    lock.l_len = 1;
    // SAFETY: a valid descriptor and a valid pointer to a `flock` for the call's duration.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    if rc != 0 {
        return Err(BackupError::Io {
            path: shm,
            cause: std::io::Error::last_os_error(),
        });
    }
    if lock.l_type as c_int != libc::F_UNLCK as c_int {
        return Err(BackupError::InUse {
            path: db.to_owned(),
            pid: lock.l_pid,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_if_open_elsewhere(_db: &Path) -> Result<(), BackupError> {
    Ok(())
}

/// A raw SQLite connection, closed on drop.
struct Handle {
    db: *mut ffi::sqlite3,
    path: PathBuf,
}

impl Handle {
    fn open(path: &Path, flags: c_int) -> Result<Self, BackupError> {
        let c_path =
            CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| BackupError::Sqlite {
                op: "open",
                path: path.to_owned(),
                message: "the path contains a NUL byte".into(),
            })?;
        let mut db = std::ptr::null_mut();
        // SAFETY: a NUL-terminated path and an out-pointer; on failure SQLite may still hand back
        // a handle (for its message), which the `Handle` below closes.
        let rc = unsafe {
            ffi::sqlite3_open_v2(
                c_path.as_ptr(),
                &mut db,
                flags | ffi::SQLITE_OPEN_URI,
                std::ptr::null(),
            )
        };
        let handle = Handle {
            db,
            path: path.to_owned(),
        };
        if rc != ffi::SQLITE_OK {
            return Err(handle.error("open"));
        }
        // SAFETY: an open handle.
        unsafe { ffi::sqlite3_busy_timeout(handle.db, BUSY_TIMEOUT_MS) };
        Ok(handle)
    }

    /// The handle's last error as a [`BackupError`].
    fn error(&self, op: &'static str) -> BackupError {
        let message = if self.db.is_null() {
            "out of memory".to_owned()
        } else {
            // SAFETY: an open (or failed-open) handle; SQLite owns the returned string.
            unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db)) }
                .to_string_lossy()
                .into_owned()
        };
        BackupError::Sqlite {
            op,
            path: self.path.clone(),
            message,
        }
    }

    /// Runs statements, discarding their rows.
    fn exec(&mut self, sql: &str) -> Result<(), BackupError> {
        self.rows(sql).map(|_| ())
    }

    /// Runs one statement and returns the first column of every row, as text.
    fn rows(&mut self, sql: &str) -> Result<Vec<String>, BackupError> {
        let c_sql = CString::new(sql).map_err(|_| BackupError::Sqlite {
            op: "prepare",
            path: self.path.clone(),
            message: "the statement contains a NUL byte".into(),
        })?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: an open handle, a NUL-terminated statement (-1: read to the NUL), out-pointers.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(self.db, c_sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error("prepare"));
        }
        let mut out = Vec::new();
        let result = loop {
            // SAFETY: a prepared statement of this handle, finalized below.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => {
                    // SAFETY: a row is current; the text lives until the next step.
                    let text = unsafe { ffi::sqlite3_column_text(stmt, 0) };
                    if !text.is_null() {
                        // SAFETY: SQLite returns NUL-terminated UTF-8.
                        let text = unsafe { CStr::from_ptr(text.cast()) };
                        out.push(text.to_string_lossy().into_owned());
                    }
                }
                ffi::SQLITE_DONE => break Ok(out),
                _ => break Err(self.error("query")),
            }
        };
        // SAFETY: finalized once, after its last use.
        unsafe { ffi::sqlite3_finalize(stmt) };
        result
    }

    fn count(&mut self, sql: &str) -> Result<i64, BackupError> {
        let rows = self.rows(sql)?;
        Ok(rows
            .first()
            .and_then(|n| n.parse().ok())
            .unwrap_or_default())
    }

    /// How many users the database holds (0 if it has no `users` table yet).
    fn users(&mut self) -> Result<i64, BackupError> {
        if self
            .count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'")?
            == 0
        {
            return Ok(0);
        }
        self.count("SELECT count(*) FROM users")
    }

    fn check_integrity(&mut self) -> Result<(), BackupError> {
        let rows = self.rows("PRAGMA integrity_check")?;
        if rows.len() == 1 && rows[0] == "ok" {
            Ok(())
        } else {
            Err(BackupError::Corrupt {
                path: self.path.clone(),
                detail: rows.join("; "),
            })
        }
    }

    /// Replaces this database's content with `source`'s, as one snapshot of it.
    fn copy_from(&mut self, source: &Handle) -> Result<(), BackupError> {
        let main = c"main";
        // SAFETY: two open handles of this process, neither used elsewhere while the backup runs.
        let backup =
            unsafe { ffi::sqlite3_backup_init(self.db, main.as_ptr(), source.db, main.as_ptr()) };
        if backup.is_null() {
            return Err(self.error("backup"));
        }
        // A lock the other side holds for a moment (BUSY/LOCKED) is retried, for a while.
        let deadline = Instant::now() + Duration::from_millis(BUSY_TIMEOUT_MS as u64);
        let step = loop {
            // SAFETY: a live backup object; -1 copies every page in one step (one snapshot).
            match unsafe { ffi::sqlite3_backup_step(backup, -1) } {
                ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                rc => break rc,
            }
        };
        // SAFETY: finished exactly once; its result is the backup's overall outcome.
        let finish = unsafe { ffi::sqlite3_backup_finish(backup) };
        if step != ffi::SQLITE_DONE || finish != ffi::SQLITE_OK {
            return Err(self.error("backup"));
        }
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: closes the handle once; its statements and backups are all finalized by then.
        unsafe { ffi::sqlite3_close(self.db) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_urls_have_nothing_to_copy() {
        assert!(matches!(
            path_of("sqlite://:memory:"),
            Err(BackupError::InMemory)
        ));
        assert_eq!(
            path_of("sqlite://./data/veza.db").unwrap(),
            PathBuf::from("./data/veza.db")
        );
    }

    #[test]
    fn a_copy_is_a_checked_standalone_file_with_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        let mut db =
            Handle::open(&live, ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE).unwrap();
        db.exec("PRAGMA journal_mode = WAL").unwrap();
        db.exec("CREATE TABLE t (x INTEGER)").unwrap();
        db.exec("INSERT INTO t VALUES (1), (2), (3)").unwrap();
        // The live handle stays open, as a server's would.
        let out = dir.path().join("copy.db");
        backup(&live, &out).unwrap();
        let mut copy = Handle::open(&out, ffi::SQLITE_OPEN_READWRITE).unwrap();
        assert_eq!(copy.count("SELECT sum(x) FROM t").unwrap(), 6);
        assert_eq!(copy.rows("PRAGMA journal_mode").unwrap(), vec!["delete"]);
    }
}
