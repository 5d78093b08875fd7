//! Issue 11: the `greentic.deployer.k8s` pack, through the real binary,
//! against the Kubernetes API double started in-process, with real
//! `kubectl` (`ENVPACK_KUBECTL`, else `kubectl` on PATH) reading back and
//! editing what the pack applied.
//!
//! - `k8s/ladder.rs`: two revisions, a 99/1 split read back as HTTPRoute
//!   weights 9900/100, promotion to a release-tag production rung,
//!   rollback, observe in sync (acceptance 1).
//! - `k8s/drift.rs`: out-of-band kubectl edits become drift (acceptance 2).
//! - `k8s/failures.rs`: a rollout that never becomes available, a wrong
//!   token, RBAC denial (acceptance 3).
//! - `k8s/updown.rs`: `env up`/`validate`/`down`/`reset` through the pack's
//!   prepare, validate and decommission.
//! - `k8s/conflicts.rs`: server-side apply as the server sees it, forced
//!   only with `force_conflicts`.
//! - `k8s/gateway.rs`: routes attach to the configured Gateway.
//! - `k8s/render.rs`: `env render` is stable and the double accepts it with
//!   `kubectl apply --server-side --dry-run=server` (acceptance 5).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use envpack_e2e::Env;
use envpack_e2e::k8s_double::{K8sDouble, Options};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// The pack under test.
const PACK: &str = "greentic.deployer.k8s";

/// An image pinned by digest; `n` picks the digest.
fn image(name: &str, n: char) -> String {
    format!(
        "registry.example/{name}@sha256:{}",
        n.to_string().repeat(64)
    )
}

/// A double, an envpack home, and kubectl pointed at the double.
struct Cluster {
    double: K8sDouble,
    env: Env,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// A double serving namespaces `dev` and `prod`, and environment `dev`
    /// bound to the pack in namespace `dev`.
    fn new() -> Self {
        let double = K8sDouble::start(Options {
            rollout_delay: Duration::from_millis(50),
            namespaces: vec!["dev".into(), "prod".into()],
            ..Options::default()
        })
        .unwrap();
        let env = Env::new(BIN);
        let kubeconfig = env.home().join("kubeconfig");
        double.write_kubeconfig(&kubeconfig, "dev").unwrap();
        let c = Self {
            double,
            env,
            kubeconfig,
        };
        c.env.json(&["env", "init", "dev", "--mode", "kubernetes"]);
        c.bind("dev", "dev");
        c
    }

    /// Binds `name`'s deployer to the pack, granting exactly the API
    /// server and the token secret, and configures it for `namespace`.
    fn bind(&self, name: &str, namespace: &str) {
        let http = format!("http:{}", self.double.addr());
        // --yes: production environments confirm every change.
        let mut args = vec![
            "--yes",
            "env",
            "bind",
            name,
            "deployer",
            "greentic.deployer.k8s@^1",
            "--grant",
            &http,
            "--grant",
            "credential:K8S_TOKEN",
            "--grant",
            "log",
            "--grant",
            "kv",
        ];
        let keys = [
            "server",
            "namespace",
            "token_secret",
            "force_conflicts",
            "gateway",
            "gateway_namespace",
            "hostname",
        ];
        let grants: Vec<String> = keys.iter().map(|k| format!("config:{k}")).collect();
        for g in &grants {
            args.extend(["--grant", g.as_str()]);
        }
        self.env.json(&args);
        self.config(name, "server", &self.double.base_url());
        self.config(name, "namespace", namespace);
        let token = self.double.token();
        self.env.json(&[
            "--yes",
            "secrets",
            "put",
            "--env",
            name,
            "K8S_TOKEN",
            &token,
        ]);
    }

    fn config(&self, env: &str, key: &str, value: &str) {
        self.env
            .json(&["--yes", "env", "config", env, PACK, key, value]);
    }

    /// A bundle `web` at `version` from `source` (`main`, `release-tag`)
    /// running `image`, with extra `--attr`s.
    fn bundle(&self, version: &str, source: &str, image: &str, attrs: &[&str]) -> PathBuf {
        let dir = self.env.home().join(format!("payload-{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("README"), format!("web {version}\n")).unwrap();
        let out = self.env.home().join(format!("web-{version}-{source}.tgz"));
        let reference = if source == "release-tag" {
            format!("v{version}")
        } else {
            source.to_string()
        };
        let image_attr = format!("image={image}");
        let mut args = vec![
            "bundle",
            "build",
            "--no-git",
            dir.to_str().unwrap(),
            "--name",
            "web",
            "--version",
            version,
            "--source",
            source,
            "--ref",
            &reference,
            "--attr",
            &image_attr,
            "--out",
            out.to_str().unwrap(),
        ];
        for a in attrs {
            args.extend(["--attr", a]);
        }
        self.env.json(&args);
        out
    }

    /// Deploys and returns the revision id.
    fn deploy(&self, env: &str, bundle: &Path) -> String {
        let out = self
            .env
            .json(&["--yes", "deploy", bundle.to_str().unwrap(), "--env", env]);
        out["revision"]["id"].as_str().unwrap().to_string()
    }

    /// Runs kubectl against the double; asserts success, returns stdout.
    fn kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl_run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn kubectl_run(&self, args: &[&str]) -> std::process::Output {
        let kubectl = kubectl_binary();
        Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}); help: bash scripts/bootstrap (installs kubectl 1.37 into target/tools/kubectl), or set ENVPACK_KUBECTL",
                    kubectl.display()
                )
            })
    }

    /// `kubectl get ... -o json`, parsed.
    fn get(&self, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl(&all)).unwrap()
    }
}

/// kubectl: `ENVPACK_KUBECTL`, else the one `scripts/bootstrap` installs
/// (`target/tools/kubectl`), else `kubectl` on PATH.
fn kubectl_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ENVPACK_KUBECTL") {
        return PathBuf::from(p);
    }
    let bootstrapped = envpack_e2e::repo_root().join("target/tools/kubectl/bin/kubectl");
    if bootstrapped.exists() {
        return bootstrapped;
    }
    PathBuf::from("kubectl")
}

/// The name of a revision's objects.
fn object(rev: &str) -> String {
    format!("web-{rev}")
}

/// `(backend service, weight)` of a route, as kubectl reads it.
fn route_weights(route: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = route["spec"]["rules"][0]["backendRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_string(),
                b["weight"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[path = "k8s/conflicts.rs"]
mod conflicts;
#[path = "k8s/drift.rs"]
mod drift;
#[path = "k8s/failures.rs"]
mod failures;
#[path = "k8s/gateway.rs"]
mod gateway;
#[path = "k8s/ladder.rs"]
mod ladder;
#[path = "k8s/render.rs"]
mod render;
#[path = "k8s/updown.rs"]
mod updown;
