//! What the HTTP suites share: a double with namespace `prod`, a client
//! for it, and a Deployment manifest.

use envpack_k8s_double::{K8sDouble, Options};
use serde_json::Value;

use crate::http::{self, Client};

pub const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments";

pub fn start() -> (K8sDouble, Client) {
    let double = K8sDouble::start(Options {
        namespaces: vec!["prod".into()],
        ..Options::default()
    })
    .expect("double starts");
    let client = Client::new(double.addr(), &double.token());
    (double, client)
}

pub fn deployment(name: &str, replicas: u64, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n    envpack.dev/revision: r1\n\
         spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n\
         \x20   spec:\n      containers:\n      - name: app\n        image: {image}\n        ports:\n        - containerPort: 8080\n"
    )
}

pub fn apply(c: &Client, name: &str, manager: &str, force: bool, body: &str) -> http::Response {
    c.apply(
        &format!("{DEPLOY}/{name}?fieldManager={manager}&force={force}"),
        body,
    )
}

pub fn condition<'a>(d: &'a Value, kind: &str) -> &'a Value {
    d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .expect("condition present")
}
