//! Durable, concurrency-safe file writes.
//!
//! Every state change follows the same protocol: take an exclusive lock,
//! write a temp file in the target directory, fsync it, rename it over the
//! target, fsync the directory. A crash at any point leaves either the old or
//! the new file, never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Creates `dir` and its parents.
pub fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))
}

/// Writes `bytes` to `path` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent_dir(path);
    create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .tempfile_in(dir)
        .map_err(|e| Error::io("create a temporary file in", dir, e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io("write", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replace", path, e.error))?;
    sync_dir(dir)
}

/// Bytes held by the files under `dir` (0 when it does not exist);
/// unreadable entries count as empty.
pub fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// Temp files are named `.tmp-<pid>-<random>`, so a later write can tell
/// one whose writer died from one being written right now.
pub fn temp_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

const TEMP_PREFIX: &str = ".tmp-";

/// A temp file older than this is stale whoever wrote it: writes take
/// milliseconds. (Covers names without a pid, and reused pids.)
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Removes temp files of our naming in `dir` whose writer process is gone
/// or that are older than [`STALE_AFTER`]; returns how many. Never fails:
/// what cannot be removed is left for the next try. Called where envpack
/// owns the directory (records, the pack store), never in a user's.
pub fn clean_stale_temps(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        // Only names exactly of our pattern: `<pid>-<6 random>`, or
        // `<6 random>` as written before the pid was part of the name.
        let (pid, random) = match rest.split_once('-') {
            Some((pid, random)) => (pid.parse::<i32>().ok(), random),
            None => (None, rest),
        };
        let ours = random.len() == 6 && random.chars().all(|c| c.is_ascii_alphanumeric());
        if !ours || (pid.is_none() && rest.contains('-')) {
            continue;
        }
        let writer_gone = pid.is_some_and(|pid| !process_alive(pid));
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if (writer_gone || old) && e.file_type().is_ok_and(|t| t.is_file()) {
            removed += usize::from(fs::remove_file(e.path()).is_ok());
        }
    }
    removed
}

/// Whether a process with this id exists (signal 0; "not permitted" means
/// it exists and belongs to someone else).
fn process_alive(pid: i32) -> bool {
    #[cfg(unix)]
    {
        match rustix::process::Pid::from_raw(pid) {
            Some(p) => !matches!(
                rustix::process::test_kill_process(p),
                Err(rustix::io::Errno::SRCH)
            ),
            None => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Moves a finished temp file into place durably.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("sync", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("move into place", path, e.error))?;
    sync_dir(parent_dir(path))
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fsyncs a directory so a rename inside it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("sync directory", dir, e))
}

/// Whether the filesystem holding `dir` has (next to) no space left for
/// an unprivileged writer. Used to explain a pack's write error: inside the
/// sandbox a full disk reaches the pack as a bare I/O error.
pub fn is_full(dir: &Path) -> bool {
    #[cfg(unix)]
    {
        rustix::fs::statvfs(dir)
            .is_ok_and(|s| s.f_bavail.saturating_mul(s.f_frsize.max(1)) < 64 * 1024)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        false
    }
}

/// Makes a directory owner-only (0700) so secrets and state inside it are
/// not readable by other users.
pub fn restrict(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("restrict permissions of", dir, e))?;
    }
    Ok(())
}

/// An exclusive advisory lock on a file, released on drop. Serialises
/// `envpack` processes that change the same state.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
}

impl LockGuard {
    /// Blocks until the lock at `path` is held.
    pub fn acquire(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open lock file", path, e))?;
        file.lock().map_err(|e| Error::io("lock", path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first just makes
        // the release prompt.
        let _ = self.file.unlock();
    }
}

/// Gives the owner write access back under `dir` (directories only), so a
/// read-only tree (a revision payload) can be removed with its environment.
pub fn make_removable(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = fs::symlink_metadata(dir) else {
            return;
        };
        if meta.is_dir() {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                make_removable(&e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a/b.json");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let leftovers: Vec<_> = fs::read_dir(p.parent().expect("parent"))
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn stale_temps_are_cleaned_live_ones_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let dead = d.join(".tmp-2147483646-dEad01");
        let live = d.join(format!(".tmp-{}-live01", std::process::id()));
        let not_ours = d.join(".tmp-notes-old");
        let unknown_new = d.join(".tmp-abcdef");
        let unknown_old = d.join(".tmp-ghijkl");
        let other = d.join("keep.json");
        for p in [&dead, &live, &unknown_new, &unknown_old, &other, &not_ours] {
            fs::write(p, b"x").expect("write");
        }
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for p in [&unknown_old, &not_ours] {
            File::options()
                .write(true)
                .open(p)
                .and_then(|f| f.set_modified(hour_ago))
                .expect("age");
        }
        assert_eq!(clean_stale_temps(d), 2);
        assert!(!dead.exists() && !unknown_old.exists());
        assert!(live.exists() && unknown_new.exists() && other.exists() && not_ours.exists());
    }

    #[test]
    fn lock_serialises_threads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lock = dir.path().join("x.lock");
        let counter = dir.path().join("n");
        write_atomic(&counter, b"0").expect("init");
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20 {
                        let _g = LockGuard::acquire(&lock).expect("lock");
                        let n: u32 = fs::read_to_string(&counter)
                            .expect("read")
                            .parse()
                            .expect("num");
                        write_atomic(&counter, (n + 1).to_string().as_bytes()).expect("write");
                    }
                });
            }
        });
        assert_eq!(fs::read_to_string(&counter).expect("read"), "160");
    }
}
