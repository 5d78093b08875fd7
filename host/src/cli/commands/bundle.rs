//! `envpack bundle ...`

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::cli::args::BundleCommand;
use crate::cli::output::Report;
use crate::deploy::bundle::{self, BuildSpec, Source};
use crate::error::{Error, Result};

/// Dispatches `envpack bundle`.
pub fn run(cmd: BundleCommand) -> Result<Report> {
    match cmd {
        BundleCommand::Build {
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
        } => {
            let version: semver::Version = version.parse().map_err(|e| {
                Error::invalid(format!(
                    "--version {version:?} is not a semantic version: {e}"
                ))
            })?;
            let mut attrs = BTreeMap::new();
            for a in attributes {
                let (k, v) = a
                    .split_once('=')
                    .ok_or_else(|| Error::invalid(format!("--attr {a:?} is not KEY=VALUE")))?;
                attrs.insert(k.to_string(), v.to_string());
            }
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
