//! The HTTPRoute attaches to the Gateway the operator configured:
//! `env validate` fails (with the fix) until that Gateway exists, and the
//! routes carry it as their parent and the configured hostname.

use super::*;

const GATEWAY: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: edge
  namespace: infra
spec:
  gatewayClassName: envpack-double
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: All
";

#[test]
fn routes_attach_to_the_configured_gateway() {
    let c = Cluster::new();
    c.config("dev", "gateway", "edge");
    c.config("dev", "gateway_namespace", "infra");
    c.config("dev", "hostname", "web.example.com");
    let r = c.env.run(&["--json", "env", "validate", "dev"]);
    assert_eq!(r.code, 10, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Gateway infra/edge answered 404"),
        "{}",
        r.stdout
    );

    c.kubectl(&["create", "namespace", "infra"]);
    let file = c.env.home().join("gateway.yaml");
    std::fs::write(&file, GATEWAY).unwrap();
    c.kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
    c.env.json(&["env", "validate", "dev"]);

    let r1 = c.deploy("dev", &c.bundle("1.0.0", "main", &image("web", '1'), &[]));
    let route = c.get(&["httproute", "web-dev"]);
    let parent = &route["spec"]["parentRefs"][0];
    assert_eq!(
        (parent["name"].as_str(), parent["namespace"].as_str()),
        (Some("edge"), Some("infra"))
    );
    assert_eq!(route["spec"]["hostnames"][0], "web.example.com");
    assert_eq!(route_weights(&route), [(object(&r1), 10000)]);
}
