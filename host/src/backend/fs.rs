//! The filesystem backend: the embedded default, the layout homes have
//! always had.
//!
//! ```text
//! envs/<name>/
//!   env.json, lock.json           records; <file>.bak keeps the previous version
//!   deployments/<name>.json       one record per deployment (+ .bak)
//!   deployments/.lock             lease: deployment verbs
//!   .lock, state.lock, secrets.lock   leases: env writers, state and secrets writes
//!   audit.jsonl, history.jsonl    journals
//! audit.jsonl                     the home's own audit log (env init/rm, pack install/remove)
//!   bundles/<hex>.tgz             stored release bundles
//!   promotions/<at>-<id>.json     promotion reports
//!   changes                       the change token, rewritten by every record write
//!   packs/, packs-kv/, revisions/, ingress.key   this machine's working files
//! ```
//!
//! Every write takes the protocol of [`crate::fsutil`]: temp file, fsync,
//! rename, fsync the directory. Compare-and-swap is checked under the lease
//! of the record's scope, which every writer holds.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{
    Backend, BlobKey, ChangeToken, Etag, Journal, Lease, LockScope, Precondition, RecordKey, Stored,
};
use crate::error::{Error, Result};
use crate::fsutil::{self, LockGuard};
use crate::types::EnvName;

/// The home's own audit log, beside the environments' directories.
const HOME_AUDIT: &str = "audit.jsonl";

/// Appends `line` and a newline to `path`, then syncs it.
fn append_line(path: &Path, line: &[u8], what: &str) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new().create(true).append(true).open(path)?;
        let mut bytes = line.to_vec();
        bytes.push(b'\n');
        f.write_all(&bytes)?;
        f.sync_data()
    };
    write().map_err(|e| {
        let err = Error::io(&format!("write the {what}"), path, e);
        match err.hint_text() {
            Some(_) => err,
            None => err.hint(format!("ls -ld {}", path.display())),
        }
    })
}

/// The non-empty lines of `path`, oldest first; none when it is absent.
fn read_lines(path: &Path) -> Result<Vec<Vec<u8>>> {
    let Some(bytes) = read_opt(path)? else {
        return Ok(Vec::new());
    };
    Ok(bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Environments as directories under one root.
#[derive(Clone, Debug)]
pub struct FsBackend {
    root: PathBuf,
}

impl FsBackend {
    /// Environments under `root` (a home's `envs/`).
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn dir(&self, env: &EnvName) -> PathBuf {
        self.root.join(env.as_str())
    }

    fn record_path(&self, env: &EnvName, key: &RecordKey) -> PathBuf {
        self.dir(env).join(key.to_string())
    }

    fn journal_path(&self, env: &EnvName, journal: Journal) -> PathBuf {
        self.dir(env).join(match journal {
            Journal::Audit => "audit.jsonl",
            Journal::History => "history.jsonl",
            Journal::Snapshots => "snapshots.jsonl",
            Journal::DriftAccepted => "drift-accepted.jsonl",
        })
    }

    fn blob_path(&self, env: &EnvName, key: &BlobKey) -> PathBuf {
        match key {
            BlobKey::Bundle(id) => self
                .dir(env)
                .join("bundles")
                .join(format!("{}.tgz", id.hex())),
            BlobKey::BundleSignature(id) => self
                .dir(env)
                .join("bundles")
                .join(format!("{}.sig", id.hex())),
            BlobKey::Promotion(name) => self
                .dir(env)
                .join("promotions")
                .join(format!("{name}.json")),
            BlobKey::Snapshot(id) => self
                .dir(env)
                .join("snapshots")
                .join(format!("{}.json", id.hex())),
            BlobKey::Artifact(id) => self.dir(env).join("artifacts").join(id.hex()),
        }
    }

    fn bump(&self, env: &EnvName) -> Result<()> {
        // A fresh random token, not a counter: writers under different
        // leases can never produce the same value twice.
        let token = format!("{:032x}", rand::random::<u128>());
        fsutil::write_atomic(&self.dir(env).join("changes"), token.as_bytes())
    }
}

fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn parent_of(path: &Path) -> &Path {
    path.parent().unwrap_or(path)
}

fn backup_path(path: &Path) -> PathBuf {
    path.with_extension("json.bak")
}

impl Backend for FsBackend {
    fn describe(&self) -> String {
        format!("fs:{}", self.root.display())
    }

    fn environments(&self) -> Result<Vec<EnvName>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &self.root, e)),
        };
        let mut out: Vec<EnvName> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_string_lossy().parse().ok())
            .collect();
        out.sort();
        Ok(out)
    }

    fn exists(&self, env: &EnvName) -> bool {
        self.dir(env).is_dir()
    }

    fn create(&self, env: &EnvName) -> Result<()> {
        let dir = self.dir(env);
        fsutil::create_dir_all(&dir)?;
        fsutil::restrict(&dir)
    }

    fn remove(&self, env: &EnvName) -> Result<()> {
        let dir = self.dir(env);
        // Rename first so a crash mid-delete leaves no half environment
        // behind under its name.
        let trash = self
            .root
            .join(format!(".removing-{env}-{}", std::process::id()));
        std::fs::rename(&dir, &trash).map_err(|e| Error::io("remove", &dir, e))?;
        // Revision payloads are read-only; their directories must be
        // writable again to be emptied.
        crate::fsutil::make_removable(&trash);
        std::fs::remove_dir_all(&trash).map_err(|e| Error::io("remove", &trash, e))
    }

    fn read(&self, env: &EnvName, key: &RecordKey) -> Result<Option<Stored>> {
        Ok(read_opt(&self.record_path(env, key))?.map(|bytes| Stored {
            etag: Etag::of(&bytes),
            bytes,
        }))
    }

    fn read_backup(&self, env: &EnvName, key: &RecordKey) -> Result<Option<Vec<u8>>> {
        read_opt(&backup_path(&self.record_path(env, key)))
    }

    fn write(
        &self,
        env: &EnvName,
        key: &RecordKey,
        bytes: &[u8],
        condition: Precondition,
    ) -> Result<Etag> {
        let path = self.record_path(env, key);
        let old = read_opt(&path)?;
        let holds = match (&condition, &old) {
            (Precondition::Any, _) | (Precondition::Absent, None) => true,
            (Precondition::Matches(want), Some(old)) => &Etag::of(old) == want,
            _ => false,
        };
        if !holds {
            return Err(Error::conflict(format!(
                "{key} of environment {env} changed since it was read; nothing was written"
            ))
            .hint("run the command again"));
        }
        if let Some(old) = old {
            // A damaged file never replaces a good backup.
            if serde_json::from_slice::<serde_json::Value>(&old).is_ok() {
                fsutil::write_atomic(&backup_path(&path), &old)?;
            }
        }
        fsutil::write_atomic(&path, bytes)?;
        self.bump(env)?;
        // Best effort, under the record's lease: writes that were killed
        // left temp files next to the records.
        fsutil::clean_stale_temps(parent_of(&path));
        fsutil::clean_stale_temps(&self.dir(env));
        Ok(Etag::of(bytes))
    }

    fn deployments(&self, env: &EnvName) -> Result<Vec<String>> {
        let d = self.dir(env).join("deployments");
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &d, e)),
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".json").map(str::to_string)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn append(&self, env: &EnvName, journal: Journal, line: &[u8]) -> Result<()> {
        let what = match journal {
            Journal::Audit => "audit log",
            Journal::History => "history",
            Journal::Snapshots => "snapshot index",
            Journal::DriftAccepted => "drift acceptances",
        };
        append_line(&self.journal_path(env, journal), line, what)
    }

    fn lines(&self, env: &EnvName, journal: Journal) -> Result<Vec<Vec<u8>>> {
        read_lines(&self.journal_path(env, journal))
    }

    fn append_home_audit(&self, line: &[u8]) -> Result<()> {
        fsutil::create_dir_all(&self.root)?;
        append_line(&self.root.join(HOME_AUDIT), line, "home audit log")
    }

    fn home_audit_lines(&self) -> Result<Vec<Vec<u8>>> {
        read_lines(&self.root.join(HOME_AUDIT))
    }

    fn put_blob(&self, env: &EnvName, key: &BlobKey, bytes: &[u8]) -> Result<()> {
        let path = self.blob_path(env, key);
        if path.exists() {
            return Ok(());
        }
        fsutil::write_atomic(&path, bytes)
    }

    fn blob(&self, env: &EnvName, key: &BlobKey) -> Result<Option<Vec<u8>>> {
        read_opt(&self.blob_path(env, key))
    }

    fn blobs(&self, env: &EnvName) -> Result<Vec<BlobKey>> {
        let mut out = Vec::new();
        for (sub, ext) in [
            ("bundles", ".tgz"),
            ("bundles", ".sig"),
            ("promotions", ".json"),
            ("snapshots", ".json"),
            ("artifacts", ""),
        ] {
            let dir = self.dir(env).join(sub);
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io("list", &dir, e)),
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(ext)
                        .map(str::to_string)
                })
                .collect();
            names.sort();
            let digest = |n: &str| {
                format!("sha256:{n}")
                    .parse::<envpack_manifest::Digest>()
                    .ok()
            };
            out.extend(names.iter().filter_map(|n| match (sub, ext) {
                ("bundles", ".tgz") => digest(n).map(BlobKey::Bundle),
                ("bundles", _) => digest(n).map(BlobKey::BundleSignature),
                ("promotions", _) => Some(BlobKey::Promotion(n.clone())),
                ("artifacts", _) => digest(n).map(BlobKey::Artifact),
                _ => digest(n).map(BlobKey::Snapshot),
            }));
        }
        Ok(out)
    }

    fn lock(&self, env: &EnvName, scope: LockScope) -> Result<Lease> {
        let dir = self.dir(env);
        let path = match scope {
            LockScope::Env => dir.join(".lock"),
            LockScope::Deployments => dir.join("deployments").join(".lock"),
            LockScope::State => dir.join("state.lock"),
            LockScope::Secrets => dir.join("secrets.lock"),
        };
        Ok(Lease::new(LockGuard::acquire(&path)?))
    }

    fn change_token(&self, env: &EnvName) -> Result<ChangeToken> {
        let token = read_opt(&self.dir(env).join("changes"))?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Ok(ChangeToken(token))
    }

    fn local_dir(&self, env: &EnvName) -> PathBuf {
        self.dir(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, FsBackend, EnvName) {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = FsBackend::new(dir.path().join("envs"));
        let env: EnvName = "dev".parse().expect("name");
        b.create(&env).expect("create");
        (dir, b, env)
    }

    #[test]
    fn compare_and_swap_and_backups() {
        let (_d, b, env) = setup();
        let key = RecordKey::Deployment("web".into());
        let t0 = b.change_token(&env).expect("token");
        let e1 = b
            .write(&env, &key, b"{\"v\":1}", Precondition::Absent)
            .expect("first");
        assert!(b.write(&env, &key, b"{}", Precondition::Absent).is_err());
        let e2 = b
            .write(&env, &key, b"{\"v\":2}", Precondition::Matches(e1.clone()))
            .expect("cas");
        let stale = b.write(&env, &key, b"{\"v\":3}", Precondition::Matches(e1));
        assert_eq!(
            stale.map_err(|e| e.kind()).err(),
            Some(crate::error::Kind::Conflict)
        );
        assert_eq!(b.read(&env, &key).expect("read").map(|s| s.etag), Some(e2));
        assert_eq!(
            b.read_backup(&env, &key).expect("bak").as_deref(),
            Some(&b"{\"v\":1}"[..])
        );
        assert_ne!(b.change_token(&env).expect("token"), t0);
        assert_eq!(b.deployments(&env).expect("list"), vec!["web".to_string()]);
    }

    #[test]
    fn a_damaged_record_never_replaces_a_good_backup() {
        let (_d, b, env) = setup();
        b.write(
            &env,
            &RecordKey::Meta,
            b"{\"good\":true}",
            Precondition::Any,
        )
        .expect("good");
        b.write(&env, &RecordKey::Meta, b"{not json", Precondition::Any)
            .expect("damaged");
        b.write(&env, &RecordKey::Meta, b"{}", Precondition::Any)
            .expect("again");
        assert_eq!(
            b.read_backup(&env, &RecordKey::Meta)
                .expect("bak")
                .as_deref(),
            Some(&b"{\"good\":true}"[..])
        );
    }

    #[test]
    fn journals_append() {
        let (_d, b, env) = setup();
        b.append(&env, Journal::Audit, b"{\"a\":1}")
            .expect("append");
        b.append(&env, Journal::Audit, b"{\"a\":2}")
            .expect("append");
        assert_eq!(b.lines(&env, Journal::Audit).expect("lines").len(), 2);
        assert!(b.lines(&env, Journal::History).expect("lines").is_empty());
    }
}
