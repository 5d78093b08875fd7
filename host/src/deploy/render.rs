//! `env render`: the manifests an environment's deployer applies, read
//! from the plans the host recorded for its revisions (the `manifest`
//! attribute of each step). Nothing runs and nothing is written, so the
//! output is byte-identical between runs; the host does not interpret the
//! manifests, it only prints what the deployer put in its plans.

use serde::Serialize;

use super::model::RevState;
use super::records::DeploymentRecords;
use crate::env::{EnvName, EnvRecords};
use crate::error::Result;
use crate::home::Home;

/// The plan step attribute holding a step's manifest.
pub const MANIFEST: &str = "manifest";

/// One step's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenderedManifest {
    /// Deployment.
    pub deployment: String,
    /// Revision.
    pub revision: String,
    /// The plan step id.
    pub step: String,
    /// The step's resource address.
    pub resource: String,
    /// The manifest, as the deployer wrote it.
    pub manifest: String,
}

/// The manifests of every revision expected to run (ready or warming),
/// by deployment, revision and plan order; only `deployment`'s if given.
pub fn render(
    home: &Home,
    env: &EnvName,
    deployment: Option<&str>,
) -> Result<Vec<RenderedManifest>> {
    let records = EnvRecords::new(home, env);
    records.load()?;
    let deployments = DeploymentRecords::new(&records);
    let all = match deployment {
        Some(_) => vec![deployments.find(deployment)?],
        None => deployments.all()?,
    };
    let mut out = Vec::new();
    for dep in all {
        let mut revisions: Vec<_> = dep
            .revisions
            .iter()
            .filter(|r| matches!(r.state, RevState::Ready | RevState::Warming))
            .collect();
        revisions.sort_by(|a, b| a.id.cmp(&b.id));
        for r in revisions {
            for step in r.plan.iter().flat_map(|p| &p.steps) {
                for (_, manifest) in step.attributes.iter().filter(|(k, _)| k == MANIFEST) {
                    out.push(RenderedManifest {
                        deployment: dep.name.clone(),
                        revision: r.id.clone(),
                        step: step.id.clone(),
                        resource: step.resource.clone(),
                        manifest: manifest.clone(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The manifests as one YAML stream: each document starts with `---` and a
/// comment naming its deployment, revision and resource.
pub fn yaml_stream(manifests: &[RenderedManifest]) -> String {
    let mut out = String::new();
    for m in manifests {
        out.push_str(&format!(
            "---\n# deployment {} revision {} {}\n",
            m.deployment, m.revision, m.resource
        ));
        out.push_str(&m.manifest);
        if !m.manifest.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_documents_in_order() {
        let m = |rev: &str, manifest: &str| RenderedManifest {
            deployment: "web".into(),
            revision: rev.into(),
            step: "deployment".into(),
            resource: format!("deployments.apps/apps/web-{rev}"),
            manifest: manifest.into(),
        };
        assert_eq!(
            yaml_stream(&[m("r1", "kind: A\n"), m("r2", "kind: B")]),
            "---\n# deployment web revision r1 deployments.apps/apps/web-r1\nkind: A\n---\n# deployment web revision r2 deployments.apps/apps/web-r2\nkind: B\n"
        );
        assert_eq!(yaml_stream(&[]), "");
    }
}
