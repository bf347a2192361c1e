//! The process and its machine, read at each scrape: resident memory against the memory it may
//! use (the cgroup's limit, or the machine's RAM), and the free space of the data directory's file
//! system. Linux files; elsewhere the families are left out.

use crate::metrics::gauge;
use std::path::Path;

/// Writes the families this platform can read.
pub fn render(out: &mut String, data_dir: &Path) {
    if let Some(rss) = resident_bytes() {
        gauge(
            out,
            "veza_process_resident_memory_bytes",
            "Resident memory of this process.",
            rss,
        );
    }
    if let Some(limit) = memory_limit_bytes() {
        gauge(
            out,
            "veza_memory_limit_bytes",
            "Memory this process may use: its cgroup's limit, else the machine's RAM.",
            limit,
        );
    }
    if let Some((free, size)) = disk_bytes(data_dir) {
        gauge(
            out,
            "veza_data_dir_free_bytes",
            "Bytes available on the file system holding the data directory.",
            free,
        );
        gauge(
            out,
            "veza_data_dir_size_bytes",
            "Size of the file system holding the data directory.",
            size,
        );
    }
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// The cgroup v2 (`memory.max`) or v1 (`memory.limit_in_bytes`) limit when one is set, else the
/// machine's `MemTotal`.
fn memory_limit_bytes() -> Option<u64> {
    let machine = machine_memory();
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|s| s.trim().parse::<u64>().ok());
    match (cgroup, machine) {
        // v1 writes a huge number for "no limit".
        (Some(limit), Some(ram)) => Some(limit.min(ram)),
        (limit, ram) => limit.or(ram),
    }
}

fn machine_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// (available, size) of the file system holding `dir` (or, before it is made, its nearest
/// existing parent).
fn disk_bytes(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let dir = dir
        .ancestors()
        .find(|d| d.exists())
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` is written by statvfs before it is read
    // (only when it returns 0).
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return None;
        }
        stat.assume_init()
    };
    let frsize = stat.f_frsize as u64;
    Some((stat.f_bavail as u64 * frsize, stat.f_blocks as u64 * frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_reports_memory_and_disk() {
        let mut out = String::new();
        render(&mut out, &std::env::temp_dir());
        for name in [
            "veza_process_resident_memory_bytes ",
            "veza_memory_limit_bytes ",
            "veza_data_dir_free_bytes ",
            "veza_data_dir_size_bytes ",
        ] {
            let value: f64 = out
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {out}"));
            assert!(value > 0.0, "{name}{value}");
        }
    }
}
