//! Where a bundle comes from, checked rather than claimed.
//!
//! `bundle build --source KIND --ref REF [--commit SHA]` states a claim;
//! this module holds it against what the payload's git repository says
//! ([`RepoFacts`], read by [`super::git`]): a release tag must exist and
//! point at HEAD, a branch must be the one checked out, a commit must be
//! HEAD, and the tree must be clean unless `--allow-dirty`. Outside git the
//! operator must say `--no-git`, and the bundle says its provenance is
//! unverified. The checks are plain functions over facts, so every rule has
//! a unit test without a repository.

use serde::{Deserialize, Serialize};

use super::Source;
use crate::error::{Error, Result};
use crate::types::SourceKind;

/// How the manifest's `source` was established.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Read from the payload's git repository and checked.
    Git,
    /// Stated by the operator (`--no-git`), not checked.
    Unverified,
}

/// What the repository says, for one claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepoFacts {
    /// HEAD's commit, full hex.
    pub head: String,
    /// The checked-out branch (`None`: detached HEAD).
    pub branch: Option<String>,
    /// The commit `refs/tags/<ref>` peels to, when that tag exists.
    pub tag_commit: Option<String>,
    /// The tip of `refs/heads/<ref>`, when that branch exists.
    pub branch_tip: Option<String>,
    /// Tracked files differ from HEAD, or payload files are untracked.
    pub dirty: Vec<String>,
    /// `remote.origin.url`, credentials removed.
    pub remote: Option<String>,
}

/// The operator's switches.
#[derive(Clone, Copy, Debug, Default)]
pub struct Checks {
    /// `--no-git`: the payload is not in a git repository.
    pub no_git: bool,
    /// `--allow-dirty`: build from uncommitted changes (recorded).
    pub allow_dirty: bool,
    /// `--include-ignored`: ship files `.gitignore` excludes.
    pub include_ignored: bool,
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// The claim checked against the facts: the manifest's `source`, or why
/// the claim is refused (denied, exit 4) with the command that fixes it.
pub fn check(claim: &Source, facts: &RepoFacts, checks: &Checks) -> Result<Source> {
    let r = &claim.reference;
    let head = &facts.head;
    match claim.kind {
        SourceKind::ReleaseTag => match &facts.tag_commit {
            None => {
                return Err(Error::denied(format!(
                    "--source release-tag --ref {r}: the repository has no tag {r:?}"
                ))
                .hint(format!(
                    "tag the commit first: git tag {r} && envpack bundle build ..."
                )));
            }
            Some(c) if c != head => {
                return Err(Error::denied(format!(
                    "--source release-tag --ref {r}: tag {r} is at commit {}, but HEAD is at {}{}",
                    short(c),
                    short(head),
                    facts
                        .branch
                        .as_ref()
                        .map(|b| format!(" (branch {b})"))
                        .unwrap_or_default()
                ))
                .hint(format!(
                    "check out the tag: git checkout {r} && envpack bundle build ..., or build with the --source and --ref of what HEAD is"
                )));
            }
            Some(_) => {}
        },
        SourceKind::Main | SourceKind::FeatureBranch => {
            let on_branch = facts.branch.as_deref() == Some(r.as_str())
                || (facts.branch.is_none() && facts.branch_tip.as_deref() == Some(head.as_str()));
            if !on_branch {
                let at = match &facts.branch {
                    Some(b) => format!("branch {b:?}"),
                    None => format!("a detached HEAD ({})", short(head)),
                };
                return Err(Error::denied(format!(
                    "--source {} --ref {r}: HEAD is on {at}, not on branch {r:?}",
                    claim.kind.as_str()
                ))
                .hint(format!(
                    "check out the branch: git checkout {r} && envpack bundle build ..., or build with the --ref of the branch HEAD is on"
                )));
            }
        }
    }
    if let Some(c) = &claim.commit
        && (c.len() < 7 || !head.starts_with(&c.to_ascii_lowercase()))
    {
        return Err(Error::denied(format!(
            "--commit {c}: HEAD is at {head}; --commit must name HEAD (7 or more hex digits)"
        ))
        .hint("drop --commit (the commit is read from the repository), or check out that commit"));
    }
    if !facts.dirty.is_empty() && !checks.allow_dirty {
        let mut list: Vec<&str> = facts.dirty.iter().take(5).map(String::as_str).collect();
        if facts.dirty.len() > 5 {
            list.push("...");
        }
        return Err(Error::denied(format!(
            "the working tree has changes that are not committed ({}); a bundle would not be what commit {} holds",
            list.join(", "),
            short(head)
        ))
        .hint("commit them: git add -A && git commit, or pass --allow-dirty (recorded in the manifest as dirty)"));
    }
    Ok(Source {
        kind: claim.kind,
        reference: claim.reference.clone(),
        commit: Some(head.clone()),
        provenance: Some(Provenance::Git),
        dirty: !facts.dirty.is_empty(),
        remote: facts.remote.clone(),
    })
}

/// The claim as stated, for a payload outside git (`--no-git`).
pub fn unverified(claim: &Source) -> Source {
    Source {
        provenance: Some(Provenance::Unverified),
        dirty: false,
        remote: None,
        ..claim.clone()
    }
}

/// A remote URL without credentials: `https://user:token@host/x` ->
/// `https://host/x`, so a token in a clone URL never lands in a manifest.
pub fn strip_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        // scp-like `git@host:path` carries a user name, not a secret.
        None => url.to_string(),
    }
}

/// `created`: `SOURCE_DATE_EPOCH` when set, else the commit's time, else
/// nothing; never the clock, so two builds of one tree get one id.
pub fn created(commit_time: Option<i64>) -> Result<String> {
    let secs = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(v.trim().parse::<i64>().map_err(|_| {
            Error::invalid(format!(
                "SOURCE_DATE_EPOCH={v:?} is not a number of seconds since 1970"
            ))
            .hint("unset SOURCE_DATE_EPOCH")
        })?),
        Err(_) => commit_time,
    };
    Ok(match secs.and_then(|s| u64::try_from(s).ok()) {
        Some(s) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(s),
        )
        .to_string(),
        None => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "3f2a9c1d0e4b5a6978877665544332211ffeeddc";

    fn claim(kind: SourceKind, r: &str, commit: Option<&str>) -> Source {
        Source {
            kind,
            reference: r.into(),
            commit: commit.map(str::to_string),
            provenance: None,
            dirty: false,
            remote: None,
        }
    }

    fn facts(branch: Option<&str>, tag: Option<&str>) -> RepoFacts {
        RepoFacts {
            head: HEAD.into(),
            branch: branch.map(str::to_string),
            tag_commit: tag.map(str::to_string),
            ..Default::default()
        }
    }

    /// Claim x repository state -> accepted or refused.
    #[test]
    fn claims() {
        use SourceKind::*;
        let other = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for (c, f, ok) in [
            (claim(ReleaseTag, "v1", None), facts(None, Some(HEAD)), true),
            (
                claim(ReleaseTag, "v1", None),
                facts(Some("main"), Some(HEAD)),
                true,
            ),
            (
                claim(ReleaseTag, "v1", None),
                facts(Some("feat/x"), None),
                false,
            ),
            (
                claim(ReleaseTag, "v1", None),
                facts(Some("main"), Some(other)),
                false,
            ),
            (claim(Main, "main", None), facts(Some("main"), None), true),
            (
                claim(Main, "main", None),
                facts(Some("feat/x"), None),
                false,
            ),
            (
                claim(FeatureBranch, "feat/x", None),
                facts(Some("feat/x"), None),
                true,
            ),
            (
                claim(FeatureBranch, "feat/x", None),
                facts(None, None),
                false,
            ),
            (
                claim(Main, "main", Some("3f2a9c1")),
                facts(Some("main"), None),
                true,
            ),
            (
                claim(Main, "main", Some("3F2A9C1")),
                facts(Some("main"), None),
                true,
            ),
            (
                claim(Main, "main", Some("3f2a")),
                facts(Some("main"), None),
                false,
            ),
            (
                claim(Main, "main", Some("deadbeef")),
                facts(Some("main"), None),
                false,
            ),
        ] {
            let got = check(&c, &f, &Checks::default());
            assert_eq!(got.is_ok(), ok, "{c:?} {f:?}: {got:?}");
            if let Ok(s) = got {
                assert_eq!(s.commit.as_deref(), Some(HEAD));
                assert_eq!(s.provenance, Some(Provenance::Git));
            }
        }
        let mut detached = facts(None, None);
        detached.branch_tip = Some(HEAD.into());
        assert!(check(&claim(Main, "main", None), &detached, &Checks::default()).is_ok());
    }

    #[test]
    fn dirty_trees() {
        let mut f = facts(Some("main"), None);
        f.dirty = vec!["index.html".into()];
        let c = claim(SourceKind::Main, "main", None);
        let err = check(&c, &f, &Checks::default()).expect_err("dirty");
        assert!(err.hint_text().is_some_and(|h| h.contains("--allow-dirty")));
        let allow = Checks {
            allow_dirty: true,
            ..Default::default()
        };
        assert!(check(&c, &f, &allow).expect("allowed").dirty);
    }

    #[test]
    fn credentials_are_stripped() {
        for (url, want) in [
            (
                "https://x:tok@github.com/a/b.git",
                "https://github.com/a/b.git",
            ),
            ("https://github.com/a/b.git", "https://github.com/a/b.git"),
            ("git@github.com:a/b.git", "git@github.com:a/b.git"),
            ("ssh://git@host", "ssh://host"),
        ] {
            assert_eq!(strip_credentials(url), want);
        }
    }
}
