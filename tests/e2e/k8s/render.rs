//! Acceptance 5: `env render` prints the manifests of the recorded plans,
//! byte-identical between runs (a snapshot of their shape), and the double
//! accepts them with `kubectl apply --server-side --dry-run=server`.

use super::*;

/// The rendered stream with the ids that change between test runs (the
/// revision id, the bundle digest) replaced, so it compares with a fixed
/// snapshot.
fn normalised(text: &str, rev: &str, bundle: &str) -> String {
    text.replace(rev, "REV").replace(bundle, "BUNDLE")
}

const SNAPSHOT: &str = "---
# deployment web revision REV configmaps/dev/web-REV
apiVersion: v1
data:
  MODE: blue
kind: ConfigMap
metadata:
  annotations:
    envpack.greentic.dev/bundle: BUNDLE
  labels:
    app.kubernetes.io/managed-by: envpack
    envpack.greentic.dev/deployment: web
    envpack.greentic.dev/environment: dev
    envpack.greentic.dev/revision: REV
  name: web-REV
  namespace: dev
---
# deployment web revision REV deployments.apps/dev/web-REV
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations:
    envpack.greentic.dev/bundle: BUNDLE
  labels:
    app.kubernetes.io/managed-by: envpack
    envpack.greentic.dev/deployment: web
    envpack.greentic.dev/environment: dev
    envpack.greentic.dev/revision: REV
  name: web-REV
  namespace: dev
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/managed-by: envpack
      envpack.greentic.dev/deployment: web
      envpack.greentic.dev/environment: dev
      envpack.greentic.dev/revision: REV
  template:
    metadata:
      annotations:
        envpack.greentic.dev/bundle: BUNDLE
      labels:
        app.kubernetes.io/managed-by: envpack
        envpack.greentic.dev/deployment: web
        envpack.greentic.dev/environment: dev
        envpack.greentic.dev/revision: REV
    spec:
      containers:
      - env:
        - name: LOG
          value: debug
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef:
              key: password
              name: web-db
        envFrom:
        - configMapRef:
            name: web-REV
        image: registry.example/web@sha256:1111111111111111111111111111111111111111111111111111111111111111
        name: app
        ports:
        - containerPort: 9090
          name: http
          protocol: TCP
        readinessProbe:
          httpGet:
            path: /healthz
            port: 9090
---
# deployment web revision REV services/dev/web-REV
apiVersion: v1
kind: Service
metadata:
  annotations:
    envpack.greentic.dev/bundle: BUNDLE
  labels:
    app.kubernetes.io/managed-by: envpack
    envpack.greentic.dev/deployment: web
    envpack.greentic.dev/environment: dev
    envpack.greentic.dev/revision: REV
  name: web-REV
  namespace: dev
spec:
  ports:
  - name: http
    port: 9090
    protocol: TCP
    targetPort: 9090
  selector:
    app.kubernetes.io/managed-by: envpack
    envpack.greentic.dev/deployment: web
    envpack.greentic.dev/environment: dev
    envpack.greentic.dev/revision: REV
";

#[test]
fn render_is_stable_and_the_api_server_accepts_it() {
    let c = Cluster::new();
    let v1 = c.bundle(
        "1.0.0",
        "main",
        &image("web", '1'),
        &[
            "replicas=2",
            "port=9090",
            "health=/healthz",
            "env.LOG=debug",
            "config.MODE=blue",
            "secret.DB_PASSWORD=web-db/password",
        ],
    );
    let bundle = c.env.json(&["bundle", "verify", v1.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rev = c.deploy("dev", &v1);

    let first = c.env.ok(&["env", "render", "dev"]);
    let second = c.env.ok(&["env", "render", "dev", "--deployment", "web"]);
    assert_eq!(first, second, "render is byte-identical between runs");
    assert_eq!(normalised(&first, &rev, &bundle), SNAPSHOT);
    // The secret is referenced by name; no Secret object is rendered.
    assert!(!first.contains("kind: Secret"));
    let json = c.env.json(&["env", "render", "dev"]);
    assert_eq!(json["manifests"].as_array().unwrap().len(), 3, "{json}");

    let file = c.env.home().join("rendered.yaml");
    std::fs::write(&file, &first).unwrap();
    let applied = c.kubectl(&[
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert!(
        applied.contains("serverside-applied (server dry run)"),
        "{applied}"
    );
}
