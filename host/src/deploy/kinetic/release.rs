//! A Kinetic solution release in one step: `envpack --env dev bundle build
//! --from-kinetic SOLUTION ...`.
//!
//! The environment's kinetic pack backs the solution up, builds it and
//! pre-flights the build; a build the pre-flight refuses is not released.
//! The result is a normal release bundle: the package is its payload
//! (`kinetic.package` names it, which makes the bundle a Kinetic release for
//! `deploy`, `promote` and `rollback`), and the build log, the server's
//! hash, the backup the package was built from and the pre-flight verdict
//! are its required evidence. A solution lives on the server, not in git,
//! so the bundle's provenance is the operator's claim (`--source`,
//! `--ref`), recorded as unverified.
//!
//! The build changes the server (a new build iteration), so it is audited
//! in the environment it ran in; a dry run backs up and checks only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use envpack_descriptor::Slot;
use serde::Serialize;
use serde_json::json;

use crate::deploy::bundle::{self, BuildSpec, Built, Checks, Source};
use crate::deploy::target::KINETIC_PACKAGE;
use crate::env::{Session, audit};
use crate::error::{Error, Kind, Result};
use crate::runtime::slots::kinetic::{BuiltPackage, PreflightReport, RecordKind, SolutionBackup};

/// The bundle attribute naming the solution a release holds.
pub const KINETIC_SOLUTION: &str = "kinetic.solution";

/// What to release, and the bundle's identity.
#[derive(Clone, Debug)]
pub struct ReleaseSpec {
    /// The solution id (`PackageID`).
    pub solution: String,
    /// Bundle name.
    pub name: String,
    /// Version.
    pub version: semver::Version,
    /// The claimed source (kind, ref, commit): recorded as unverified.
    pub source: Source,
    /// Extra attributes (install options such as
    /// `kinetic.only-current-company=true`).
    pub attributes: BTreeMap<String, String>,
    /// Where to write the bundle.
    pub out: PathBuf,
    /// Replace an existing `out`.
    pub force: bool,
    /// Back up and check only: no build, nothing written.
    pub dry_run: bool,
}

/// What was released.
#[derive(Clone, Debug, Serialize)]
pub struct Release {
    /// The solution.
    pub solution: String,
    /// The company it was built in.
    pub company: String,
    /// The backup's digest.
    pub backup_digest: String,
    /// The package's file name, `None` on a dry run.
    pub package: Option<String>,
    /// The server's hash of the package (empty when it gave none).
    pub hash: String,
    /// The pre-flight verdict, `None` on a dry run.
    pub preflight: Option<PreflightReport>,
    /// The bundle, `None` on a dry run (the id depends on the package).
    pub bundle: Option<Built>,
    /// Nothing was built or written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// Backs up, builds and pre-flights `spec.solution` with the kinetic pack
/// of `session`'s environment, then writes the release bundle.
pub fn release(session: &Session<'_>, spec: &ReleaseSpec) -> Result<Release> {
    let env = session.name().clone();
    let mut instance = session.instance(Slot::Kinetic).map_err(|e| {
        e.context(format!(
            "a Kinetic release is built by the kinetic pack of environment {env}"
        ))
    })?;
    let mut client = instance.kinetic()?;
    let company = client.describe()?.company;
    let backup = client.backup_solution(&spec.solution)?;
    if spec.dry_run {
        return Ok(Release {
            solution: spec.solution.clone(),
            company,
            backup_digest: backup.digest,
            package: None,
            hash: String::new(),
            preflight: None,
            bundle: None,
            dry_run: true,
        });
    }
    if !spec.force && spec.out.exists() {
        return Err(Error::conflict(format!(
            "{} already exists; bundles are immutable and never overwritten",
            spec.out.display()
        ))
        .hint("write it elsewhere with --out, or replace it with --force"));
    }
    let change = audit::Change {
        verb: "kinetic.release",
        target: format!("{} {}", spec.solution, spec.version),
        before: serde_json::Value::Null,
        after: json!({"solution": spec.solution, "company": company, "backup": backup.digest, "out": spec.out}),
    };
    audit::audited(audit::AuditLog::Env(session.records()), change, || {
        let build = client.build_solution(&spec.solution)?;
        let verdict = client.preflight(&build)?;
        if !verdict.ok {
            return Err(refused(&env, &spec.solution, &company, &verdict));
        }
        let built = write_bundle(spec, &backup, &build, &verdict, &company)?;
        Ok(Release {
            solution: spec.solution.clone(),
            company: company.clone(),
            backup_digest: backup.digest.clone(),
            package: Some(build.file_name.clone()),
            hash: build.hash.clone(),
            preflight: Some(verdict),
            bundle: Some(built),
            dry_run: false,
        })
    })
}

/// The pre-flight refused the build: nothing is released.
fn refused(
    env: &crate::env::EnvName,
    solution: &str,
    company: &str,
    verdict: &PreflightReport,
) -> Error {
    let problems: Vec<String> = verdict
        .problems
        .iter()
        .map(|p| {
            let kind = match p.kind {
                RecordKind::Error => "error",
                RecordKind::Warning => "warning",
                RecordKind::Info => "info",
            };
            format!("{kind}: {}", p.message)
        })
        .collect();
    Error::new(
        Kind::Conflict,
        format!(
            "the pre-flight of {solution} built in company {company} failed, so it is not released: {}{}",
            verdict.summary,
            if problems.is_empty() {
                String::new()
            } else {
                format!(" ({})", problems.join("; "))
            }
        ),
    )
    .hint(format!(
        "fix the solution in company {company}, then see the build's records: envpack --env {env} kinetic solutions build {solution}"
    ))
    .with_details(json!({"preflight": verdict}))
}

/// Writes the payload (the package) and the evidence into a temporary
/// directory and builds the bundle from them.
fn write_bundle(
    spec: &ReleaseSpec,
    backup: &SolutionBackup,
    build: &BuiltPackage,
    verdict: &PreflightReport,
    company: &str,
) -> Result<Built> {
    let tmp = tempfile::tempdir()
        .map_err(|e| Error::internal(format!("cannot make a temporary directory: {e}")))?;
    let payload = tmp.path().join("payload");
    let evidence = tmp.path().join("evidence");
    crate::fsutil::create_dir_all(&payload)?;
    crate::fsutil::create_dir_all(&evidence)?;
    let file_name = package_file_name(build)?;
    write(&payload.join(&file_name), &build.content)?;
    let sol = &spec.solution;
    let files = [
        (
            format!("{sol}.build.log"),
            build.build_log.clone().into_bytes(),
        ),
        (
            format!("{sol}.hash"),
            format!("{}\n", build.hash).into_bytes(),
        ),
        (
            format!("{sol}.backup.json"),
            backup.document.clone().into_bytes(),
        ),
        (format!("{sol}.preflight.json"), pretty(verdict)?),
        (
            format!("{sol}.build.json"),
            pretty(&json!({
                "solution": build.solution, "company": company, "file_name": build.file_name,
                "hash": build.hash, "has_errors": build.has_errors, "source": build.source,
                "records": build.records,
            }))?,
        ),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = evidence.join(name);
        write(&path, &bytes)?;
        paths.push(path);
    }
    let mut attributes = spec.attributes.clone();
    attributes.insert(KINETIC_PACKAGE.into(), file_name);
    attributes.insert(KINETIC_SOLUTION.into(), sol.clone());
    attributes.insert("kinetic.built-in".into(), company.to_string());
    if !build.hash.is_empty() {
        attributes.insert("kinetic.hash".into(), build.hash.clone());
    }
    bundle::build(&BuildSpec {
        dir: payload,
        name: spec.name.clone(),
        version: spec.version.clone(),
        source: spec.source.clone(),
        checks: Checks {
            no_git: true,
            allow_dirty: false,
            include_ignored: true,
        },
        force: spec.force,
        evidence: paths,
        attributes,
        allow_secrets: Default::default(),
        out: spec.out.clone(),
        dry_run: false,
    })
}

/// The package's file name, refused when it could escape the payload.
fn package_file_name(build: &BuiltPackage) -> Result<String> {
    let name = build.file_name.trim();
    let plain = !name.is_empty()
        && !name.contains(['/', '\\'])
        && name != "."
        && name != ".."
        && !name.starts_with('.');
    if plain {
        Ok(name.to_string())
    } else {
        Err(Error::new(
            Kind::PackFault,
            format!(
                "the kinetic pack named the package of {} {:?}, which is not a plain file name",
                build.solution, build.file_name
            ),
        ))
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io("write", path, e))
}

fn pretty<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value)
        .map_err(|e| Error::internal(format!("cannot encode the release evidence: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::slots::kinetic::BuildSource;

    fn named(file_name: &str) -> BuiltPackage {
        BuiltPackage {
            solution: "S".into(),
            file_name: file_name.into(),
            content: vec![],
            build_log: String::new(),
            hash: String::new(),
            records: vec![],
            has_errors: None,
            source: BuildSource::Inline,
        }
    }

    /// A pack cannot place the package outside the payload.
    #[test]
    fn the_package_name_is_a_plain_file_name() {
        assert_eq!(package_file_name(&named("S.cab")).expect("plain"), "S.cab");
        for bad in ["", "../S.cab", "a/S.cab", "..", ".hidden", "a\\b"] {
            assert!(package_file_name(&named(bad)).is_err(), "{bad:?}");
        }
    }
}
