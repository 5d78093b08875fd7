//! `envpack bundle ...`

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::cli::args::BundleCommand;
use crate::cli::commands::answers::{Input, input, missing};
use crate::cli::output::Report;
use crate::deploy::bundle::{self, BuildSpec, Source};
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
    /// Commit SHA.
    pub commit: Option<String>,
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
pub fn run(cmd: BundleCommand) -> Result<Report> {
    match cmd {
        BundleCommand::Build(a) => build(*a),
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
            Ok(Report::new(human, &v))
        }
    }
}

/// `envpack bundle build`.
fn build(a: crate::cli::args::BundleBuildArgs) -> Result<Report> {
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
            evidence: a.evidence,
            attributes: a.attributes,
            allow_secrets: a.allow_secrets,
            out: a.out,
        },
    };
    let BundleAnswers {
        dir,
        name,
        version,
        source,
        reference,
        commit,
        evidence,
        attributes,
        allow_secrets,
        out,
    } = x;
    let version = self::version(&version)?;
    let attrs = self::attributes(&attributes)?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{name}-{version}.bundle.tgz")));
    let built = bundle::build(&BuildSpec {
        dir,
        name,
        version,
        source: Source {
            kind: source,
            reference,
            commit,
        },
        evidence,
        attributes: attrs,
        allow_secrets: allow_secrets.into_iter().collect::<BTreeSet<_>>(),
        out,
    })?;
    let human = format!(
        "built bundle {} {} -> {}\n  id      {}\n  files   {}\n  source  {} {}",
        built.manifest.name,
        built.manifest.version,
        built.path.display(),
        built.id,
        built.manifest.files.len(),
        built.manifest.source.kind.as_str(),
        built.manifest.source.reference
    );
    Ok(Report::new(human, &built))
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
