//! What the payload directory's git repository says, read with `gix` (no
//! `git` process: the host must not depend on what is on `PATH` or its
//! version; no hook ever runs; nothing is fetched or written).
//!
//! Read: HEAD's commit and time, the checked-out branch, the commit a tag
//! peels to, a branch's tip, `remote.origin.url`, whether tracked files
//! differ from HEAD (`gix` status), and which payload paths `.gitignore`
//! excludes or the index does not track. `.gitignore` is read through the
//! repository's own exclude stack (`gix` excludes), so `.git/info/exclude`,
//! `core.excludesFile` and nested `.gitignore` files all count, exactly as
//! `git status` sees them.

use std::path::{Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};

use super::provenance::{RepoFacts, strip_credentials};
use crate::error::{Error, Result};

/// How many changed files a refusal lists at most.
const MAX_LISTED: usize = 20;

/// An open repository and where the payload sits in its work tree.
pub struct Repo {
    repo: gix::Repository,
    /// The payload directory relative to the work tree root, `/`-separated
    /// (empty: the root).
    prefix: String,
}

fn git_error(what: &str, dir: &Path, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "cannot read the git repository of {} ({what}): {e}",
        dir.display()
    ))
    .hint("check the repository: git status && git fsck")
}

/// The repository holding `dir`, if any: a `.git` in `dir` or a parent
/// (looked for first, so "not in git" is told apart from a broken
/// repository).
pub fn discover(dir: &Path) -> Result<Option<Repo>> {
    let here = dir
        .canonicalize()
        .map_err(|e| Error::io("resolve", dir, e))?;
    if !here.ancestors().any(|a| a.join(".git").exists()) {
        return Ok(None);
    }
    let repo = gix::discover(&here).map_err(|e| git_error("open", dir, e))?;
    let Some(workdir) = repo.workdir().map(Path::to_path_buf) else {
        return Err(Error::invalid(format!(
            "{} is inside a bare git repository, which has no files to bundle",
            dir.display()
        )));
    };
    let canonical =
        |p: &Path| -> Result<PathBuf> { p.canonicalize().map_err(|e| Error::io("resolve", p, e)) };
    let root = canonical(&workdir)?;
    let prefix = here
        .strip_prefix(&root)
        .map_err(|_| git_error("locate", dir, "the payload is outside the work tree"))?
        .to_string_lossy()
        .replace('\\', "/");
    Ok(Some(Repo { repo, prefix }))
}

impl Repo {
    /// The work tree path of a payload path.
    fn in_tree(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    fn peel(&self, name: &str, dir: &Path) -> Result<Option<String>> {
        let found = self
            .repo
            .try_find_reference(name)
            .map_err(|e| git_error(&format!("find {name}"), dir, e))?;
        match found {
            None => Ok(None),
            Some(mut r) => {
                let id = r
                    .peel_to_id()
                    .map_err(|e| git_error(&format!("peel {name}"), dir, e))?;
                Ok(Some(id.to_string()))
            }
        }
    }

    /// The facts a claim for `reference` is checked against; `dirty` lists
    /// changed tracked files, `untracked` is added by the caller.
    pub fn facts(&self, reference: &str, dir: &Path) -> Result<(RepoFacts, Option<i64>)> {
        let head = self.repo.head_commit().map_err(|e| {
            Error::invalid(format!(
                "the git repository of {} has no commit at HEAD ({e})",
                dir.display()
            ))
            .hint("commit the payload first: git add -A && git commit -m release")
        })?;
        let time = head.time().ok().map(|t| t.seconds);
        let branch = self
            .repo
            .head_name()
            .map_err(|e| git_error("read HEAD", dir, e))?
            .map(|n| n.shorten().to_string());
        let remote = self
            .repo
            .config_snapshot()
            .string("remote.origin.url")
            .map(|u| strip_credentials(&u.to_str_lossy()));
        let facts = RepoFacts {
            head: head.id.to_string(),
            branch,
            tag_commit: self.peel(&format!("refs/tags/{reference}"), dir)?,
            branch_tip: self.peel(&format!("refs/heads/{reference}"), dir)?,
            dirty: self.changed(dir)?,
            remote,
        };
        Ok((facts, time))
    }

    /// Tracked files whose content or mode differs from HEAD, staged or
    /// not (at most [`MAX_LISTED`]; untracked files are the walk's).
    fn changed(&self, dir: &Path) -> Result<Vec<String>> {
        let items = self
            .repo
            .status(gix::progress::Discard)
            .and_then(|s| {
                s.untracked_files(gix::status::UntrackedFiles::None)
                    .index_worktree_rewrites(None)
                    .into_iter(Vec::new())
            })
            .map_err(|e| git_error("status", dir, e))?;
        let mut changed = Vec::new();
        for item in items {
            let item = item.map_err(|e| git_error("status", dir, e))?;
            // Index entries whose stat data is merely stale are not changes.
            if let gix::status::Item::IndexWorktree(change) = &item
                && change.summary().is_none()
            {
                continue;
            }
            changed.push(format!("changed {}", item.location()));
            if changed.len() >= MAX_LISTED {
                break;
            }
        }
        Ok(changed)
    }

    /// A filter answering, for payload paths, whether `.gitignore` excludes
    /// them and whether the index tracks them.
    pub fn filter(&self, dir: &Path) -> Result<Filter<'_>> {
        let index = self
            .repo
            .index_or_empty()
            .map_err(|e| git_error("read the index", dir, e))?;
        let excludes = self
            .repo
            .excludes(
                &index,
                None,
                gix::worktree::stack::state::ignore::Source::WorktreeThenIdMappingIfNotSkipped,
            )
            .map_err(|e| git_error("read .gitignore", dir, e))?;
        Ok(Filter {
            repo: self,
            index,
            excludes,
            dir: dir.to_path_buf(),
        })
    }
}

/// See [`Repo::filter`].
pub struct Filter<'r> {
    repo: &'r Repo,
    index: gix::worktree::Index,
    excludes: gix::AttributeStack<'r>,
    dir: PathBuf,
}

impl Filter<'_> {
    /// Whether `.gitignore` (or another exclude source) excludes the
    /// payload path `rel`.
    pub fn is_ignored(&mut self, rel: &str, is_dir: bool) -> Result<bool> {
        let path = self.repo.in_tree(rel);
        let mode = if is_dir {
            gix::index::entry::Mode::DIR
        } else {
            gix::index::entry::Mode::FILE
        };
        let platform = self
            .excludes
            .at_path(Path::new(&path), Some(mode))
            .map_err(|e| git_error(&format!("match {path} against .gitignore"), &self.dir, e))?;
        Ok(platform.is_excluded())
    }

    /// Whether `.gitignore` excludes the payload directory itself or one of
    /// its parents in the work tree (`dist/` is often build output).
    pub fn root_ignored(&mut self) -> Result<bool> {
        let prefix = self.repo.prefix.clone();
        let mut at = String::new();
        for part in prefix.split('/').filter(|p| !p.is_empty()) {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            let platform = self
                .excludes
                .at_path(Path::new(&at), Some(gix::index::entry::Mode::DIR))
                .map_err(|e| git_error(&format!("match {at} against .gitignore"), &self.dir, e))?;
            if platform.is_excluded() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the index tracks the payload file `rel`.
    pub fn is_tracked(&self, rel: &str) -> bool {
        let path = self.repo.in_tree(rel);
        let path: &BStr = path.as_bytes().as_bstr();
        self.index.entry_by_path(path).is_some()
    }
}
