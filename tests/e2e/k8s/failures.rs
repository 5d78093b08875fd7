//! Acceptance 3: a rollout that never becomes available fails the deploy
//! with the pods' reason; RBAC denying a verb fails `env validate` (and
//! the deploy) naming the verb and the fix; a wrong token is `denied`
//! naming the secret, never its value.

use envpack_e2e::k8s_double::{PodFailure, RolloutMatch};

use super::*;

#[test]
fn a_rollout_that_never_becomes_available_fails_the_deploy_with_the_reason() {
    let c = Cluster::new();
    c.double.fail_rollout(
        RolloutMatch::Image("registry.example/broken".into()),
        PodFailure::ImagePullBackOff,
    );
    let bad = c.bundle("1.0.0", "main", &image("broken", 'b'), &[]);
    let out = c
        .env
        .cmd()
        .env("ENVPACK_WARM_TIMEOUT_MS", "4000")
        .args(["--json", "deploy", bad.to_str().unwrap(), "--env", "dev"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("ImagePullBackOff"), "{message}");
    assert!(message.contains("not healthy"), "{message}");
    // The failed revision was torn down: nothing of it is left.
    let left = c.get(&[
        "deployments,services",
        "-l",
        "envpack.greentic.dev/environment=dev",
    ]);
    assert_eq!(left["items"].as_array().unwrap().len(), 0, "{left}");
    let revisions = c.env.json(&["revisions", "list", "--env", "dev", "--all"]);
    assert!(revisions.to_string().contains("failed"), "{revisions}");
}

#[test]
fn a_wrong_token_is_denied_naming_the_secret_never_its_value() {
    let c = Cluster::new();
    let wrong = "not-the-token-5f3a9c";
    c.env
        .json(&["secrets", "put", "--env", "dev", "K8S_TOKEN", wrong]);
    let v1 = c.bundle("1.0.0", "main", &image("web", '1'), &[]);
    let err = c
        .env
        .fails(4, &["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    let text = err.to_string();
    assert_eq!(err["kind"], "denied", "{err}");
    assert!(text.contains("K8S_TOKEN") && text.contains("401"), "{text}");
    assert!(
        text.contains("envpack secrets put --env dev K8S_TOKEN"),
        "{text}"
    );
    assert!(!text.contains(wrong), "the token's value leaked: {text}");
    let checks = c.env.run(&["--json", "env", "validate", "dev"]);
    assert_eq!(checks.code, 10, "{}{}", checks.stdout, checks.stderr);
    assert!(checks.stdout.contains("K8S_TOKEN"), "{}", checks.stdout);
    assert!(!checks.stdout.contains(wrong), "{}", checks.stdout);
    // Nothing of the token reached the records either.
    let audit = c.env.ok(&["audit", "--env", "dev"]);
    assert!(!audit.contains(wrong));
}

#[test]
fn rbac_denial_names_the_verb_and_the_fix() {
    let c = Cluster::new();
    let ok = c.env.json(&["env", "validate", "dev"]);
    assert!(
        ok.to_string().contains("rbac:patch/deployments.apps"),
        "{ok}"
    );
    c.double.deny("patch", "deployments");
    let checks = c.env.run(&["--json", "env", "validate", "dev"]);
    assert_eq!(checks.code, 10, "{}{}", checks.stdout, checks.stderr);
    let text = checks.stdout;
    assert!(
        text.contains("RBAC denies patch on deployments.apps"),
        "{text}"
    );
    assert!(
        text.contains("kubectl -n dev create role envpack-deployer"),
        "{text}"
    );
    let v1 = c.bundle("1.0.0", "main", &image("web", '1'), &[]);
    let err = c
        .env
        .fails(4, &["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("RBAC denies patch on deployments.apps"),
        "{message}"
    );
}
