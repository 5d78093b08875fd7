//! `envpack bundle ...`

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::cli::Ctx;
use crate::cli::args::BundleCommand;
use crate::cli::commands::answers::{Input, input, missing};
use crate::cli::output::Report;
use crate::deploy::bundle::{self, BuildSpec, Checks, Provenance, Source, signature};
use crate::env::Session;
use crate::error::{Error, Result};

/// Answers for `envpack bundle build`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleAnswers {
    /// The payload directory.
    pub dir: PathBuf,
    /// Bundle name.
    pub name: String,
    /// Version (semver).
    pub version: String,
    /// Where the bundle was built from.
    pub source: crate::env::SourceKind,
    /// Branch or tag name.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Commit SHA; must be HEAD.
    pub commit: Option<String>,
    /// The payload is not in a git repository.
    #[serde(default)]
    pub no_git: bool,
    /// Build from uncommitted changes.
    #[serde(default)]
    pub allow_dirty: bool,
    /// Ship files .gitignore excludes.
    #[serde(default)]
    pub include_ignored: bool,
    /// Replace an existing `out`.
    #[serde(default)]
    pub force: bool,
    /// Evidence files to include and require.
    #[serde(default)]
    pub evidence: Vec<PathBuf>,
    /// Target-specific settings `KEY=VALUE`.
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Payload paths allowed although they look like secrets.
    #[serde(default)]
    pub allow_secrets: Vec<String>,
    /// The bundle file to write.
    pub out: Option<PathBuf>,
}

/// Dispatches `envpack bundle`.
pub fn run(ctx: &Ctx, cmd: BundleCommand) -> Result<Report> {
    match cmd {
        BundleCommand::Build(a) => match a.from_kinetic.clone() {
            Some(solution) => kinetic_release(ctx, *a, solution),
            None => build(*a, ctx.dry_run),
        },
        BundleCommand::Verify { file } => {
            let v = bundle::open(&file, None)?;
            let human = format!(
                "bundle {} {} is valid\n  id        {}\n  files     {} (checksums match)\n  evidence  {} required, all present",
                v.manifest.name,
                v.manifest.version,
                v.id,
                v.manifest.files.len(),
                v.manifest.required_evidence.len()
            );
            Ok(Report::new(human, &v).with_names(vec![v.id.to_string()]))
        }
        BundleCommand::Sign {
            bundle: file,
            key,
            key_secret,
        } => sign(ctx, &file, key.as_deref(), key_secret.as_deref()),
        BundleCommand::Push {
            bundle: file,
            destination,
            insecure,
        } => super::registry::bundle_push(ctx, &file, &destination, insecure),
        BundleCommand::Pull {
            reference,
            out,
            insecure,
        } => super::registry::bundle_pull(ctx, &reference, out.as_deref(), insecure),
        BundleCommand::Keygen { out } if ctx.dry_run => {
            let public = PathBuf::from(format!("{}.pub", out.display()));
            if out.exists() || public.exists() {
                return Err(Error::conflict(format!(
                    "{} or {} exists",
                    out.display(),
                    public.display()
                )));
            }
            Ok(Report::new(
                format!(
                    "would write private key {} and public key {}\ndry run: nothing was written",
                    out.display(),
                    public.display()
                ),
                &serde_json::json!({"private_key": out, "public_key_file": public, "dry_run": true}),
            ))
        }
        BundleCommand::Keygen { out } => {
            let (public, path) = signature::keygen(&out)?;
            let human = format!(
                "wrote private key {} (keep it secret) and public key {}\n  key id  {}\n  trust it: envpack env policy ENV --trust-key {}",
                out.display(),
                path.display(),
                public.key_id,
                path.display()
            );
            Ok(Report::new(
                human,
                &serde_json::json!({"private_key": out, "public_key_file": path, "public_key": public}),
            ))
        }
    }
}

/// `envpack bundle sign`: verifies the bundle, signs its id with the key
/// from a file or from a secret of the environment's secrets pack, writes
/// `BUNDLE.sig`.
fn sign(
    ctx: &Ctx,
    file: &std::path::Path,
    key: Option<&std::path::Path>,
    key_secret: Option<&str>,
) -> Result<Report> {
    let v = bundle::open(file, None)?;
    let sig = match (key, key_secret) {
        (Some(path), _) => signature::sign(&v.id, path)?,
        (None, Some(name)) => {
            let env = ctx.env_name()?;
            let text = Session::scoped(&ctx.home, ctx.runtime()?, &env, |session| {
                session.with_secrets(false, |i| i.secrets()?.get(name))
            })?
            .ok_or_else(|| {
                Error::not_found(format!("environment {env} has no secret {name:?}"))
                    .hint(format!(
                        "store the key file there: envpack secrets put --env {env} {name} --from-file release.key"
                    ))
            })?;
            signature::sign_with(&v.id, text.as_bytes(), &format!("secret {name} of {env}"))?
        }
        (None, None) => return Err(missing("--key or --key-secret")),
    };
    let path = signature::path_for(file);
    if ctx.dry_run {
        let human = format!(
            "would sign bundle {} with key {} -> {}\ndry run: nothing was written",
            v.id,
            sig.key_id,
            path.display()
        );
        return Ok(Report::new(
            human,
            &serde_json::json!({"bundle": v.id, "signature_file": path, "key_id": sig.key_id, "dry_run": true}),
        ));
    }
    signature::write(&path, &sig)?;
    let human = format!(
        "signed bundle {} {} -> {}\n  id      {}\n  key id  {}",
        v.manifest.name,
        v.manifest.version,
        path.display(),
        v.id,
        sig.key_id
    );
    Ok(Report::new(
        human,
        &serde_json::json!({"bundle": v.id, "signature_file": path, "signature": sig}),
    ))
}

/// The build's answers as the library's [`BuildSpec`].
fn spec(x: BundleAnswers, dry_run: bool) -> Result<BuildSpec> {
    let BundleAnswers {
        dir,
        name,
        version,
        source,
        reference,
        commit,
        no_git,
        allow_dirty,
        include_ignored,
        force,
        evidence,
        attributes,
        allow_secrets,
        out,
    } = x;
    let version = self::version(&version)?;
    let attrs = self::attributes(&attributes)?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{name}-{version}.bundle.tgz")));
    Ok(BuildSpec {
        dir,
        name,
        version,
        source: Source::claim(source, reference, commit),
        checks: Checks {
            no_git,
            allow_dirty,
            include_ignored,
        },
        force,
        evidence,
        attributes: attrs,
        allow_secrets: allow_secrets.into_iter().collect::<BTreeSet<_>>(),
        out,
        dry_run,
    })
}

/// `envpack bundle build`.
fn build(a: crate::cli::args::BundleBuildArgs, dry_run: bool) -> Result<Report> {
    let x = match input::<BundleAnswers>(&a.answers)? {
        Input::Schema(r) => return Ok(r),
        Input::Answers(x) => x,
        Input::Flags => BundleAnswers {
            dir: a.dir.ok_or_else(|| missing("DIR"))?,
            name: a.name.ok_or_else(|| missing("--name"))?,
            version: a.version.ok_or_else(|| missing("--version"))?,
            source: a.source.ok_or_else(|| missing("--source"))?,
            reference: a.reference.ok_or_else(|| missing("--ref"))?,
            commit: a.commit,
            no_git: a.no_git,
            allow_dirty: a.allow_dirty,
            include_ignored: a.include_ignored,
            force: a.force,
            evidence: a.evidence,
            attributes: a.attributes,
            allow_secrets: a.allow_secrets,
            out: a.out,
        },
    };
    let built = bundle::build(&spec(x, dry_run)?)?;
    let src = &built.manifest.source;
    let provenance = match (src.provenance, &src.commit) {
        (Some(Provenance::Git), Some(c)) => {
            format!("git {c}{}", if src.dirty { " (dirty)" } else { "" })
        }
        _ => "unverified (--no-git)".to_string(),
    };
    let human = format!(
        "{} bundle {} {} -> {}\n  id          {}\n  files       {}\n  source      {} {}\n  provenance  {provenance}{}",
        if built.dry_run {
            "would build"
        } else {
            "built"
        },
        built.manifest.name,
        built.manifest.version,
        built.path.display(),
        built.id,
        built.manifest.files.len(),
        src.kind.as_str(),
        src.reference,
        if built.dry_run {
            "\ndry run: nothing was written"
        } else {
            ""
        }
    );
    Ok(Report::new(human, &built).with_names(vec![built.id.to_string()]))
}

/// `--version`, checked.
pub(crate) fn version(version: &str) -> Result<semver::Version> {
    version.parse().map_err(|e| {
        Error::invalid(format!(
            "--version {version:?} is not a semantic version: {e}"
        ))
    })
}

/// `--attr KEY=VALUE` entries as a map.
pub(crate) fn attributes(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut attrs = BTreeMap::new();
    for a in list {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("--attr {a:?} is not KEY=VALUE")))?;
        attrs.insert(k.to_string(), v.to_string());
    }
    Ok(attrs)
}

/// `envpack --env E bundle build --from-kinetic SOLUTION`: a Kinetic
/// solution release, built by the environment's kinetic pack. The build
/// changes the server, so a production environment confirms it first.
fn kinetic_release(
    ctx: &Ctx,
    a: crate::cli::args::BundleBuildArgs,
    solution: String,
) -> Result<Report> {
    use crate::deploy::kinetic::release::{ReleaseSpec, release};
    let env = ctx.env_name()?;
    let name = a.name.ok_or_else(|| missing("--name"))?;
    let version = self::version(&a.version.ok_or_else(|| missing("--version"))?)?;
    let spec = ReleaseSpec {
        source: Source::claim(
            a.source.ok_or_else(|| missing("--source"))?,
            a.reference.ok_or_else(|| missing("--ref"))?,
            a.commit,
        ),
        attributes: attributes(&a.attributes)?,
        out: a
            .out
            .unwrap_or_else(|| PathBuf::from(format!("{name}-{version}.bundle.tgz"))),
        solution,
        name,
        version,
        force: a.force,
        dry_run: ctx.dry_run,
    };
    if !spec.dry_run {
        ctx.confirm(&env, "kinetic.release", &spec.solution, || {
            Ok(format!(
                "build {} on the Kinetic server of {env} (a new build iteration) and release it as {}",
                spec.solution,
                spec.out.display()
            ))
        })?;
    }
    let r = Session::scoped(&ctx.home, ctx.runtime()?, &env, |session| {
        release(session, &spec)
    })?;
    let human = match &r.bundle {
        None => format!(
            "would back up, build and pre-flight {} in company {} (backup {}) and release it as {}\ndry run: nothing was built or written",
            r.solution,
            r.company,
            r.backup_digest,
            spec.out.display()
        ),
        Some(b) => format!(
            "built Kinetic release {} {} -> {}\n  id          {}\n  solution    {} built in company {}\n  package     {} (hash {})\n  pre-flight  {}\n  evidence    {}\n  provenance  unverified (claimed {} {})",
            b.manifest.name,
            b.manifest.version,
            b.path.display(),
            b.id,
            r.solution,
            r.company,
            r.package.as_deref().unwrap_or("-"),
            if r.hash.is_empty() { "-" } else { &r.hash },
            r.preflight.as_ref().map_or("-", |p| p.summary.as_str()),
            b.manifest.required_evidence.join(", "),
            b.manifest.source.kind.as_str(),
            b.manifest.source.reference,
        ),
    };
    let names = r.bundle.iter().map(|b| b.id.to_string()).collect();
    Ok(Report::new(human, &r).with_names(names))
}
