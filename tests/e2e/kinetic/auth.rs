//! Acceptance 6: an expired token mid-run is refreshed once and the command
//! succeeds; a wrong API key is `denied`, naming the secret and the fix,
//! never the key.

use envpack_e2e::kinetic_double::Fault;

use super::setup::Kinetic;

fn token_calls(k: &Kinetic) -> usize {
    k.double
        .journal()
        .iter()
        .filter(|e| e.service.as_deref() == Some("TokenResource.svc"))
        .count()
}

#[test]
fn an_expired_token_is_refreshed_once() {
    let k = Kinetic::new();
    k.ok(&["solutions", "list"]);
    assert_eq!(token_calls(&k), 1);
    // The next command reuses the cached token.
    k.ok(&["solutions", "list"]);
    assert_eq!(token_calls(&k), 1);
    k.double.expire_tokens();
    k.double.clear_journal();
    let v = k.ok(&["solutions", "list", "--company", "EPIC06"]);
    assert_eq!(v["solutions"].as_array().unwrap().len(), 2);
    let statuses: Vec<u16> = k.double.journal().iter().map(|e| e.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(token_calls(&k), 1, "refreshed once");
    // The token request carried the credentials as headers.
    let token = k
        .double
        .journal()
        .into_iter()
        .find(|e| e.service.as_deref() == Some("TokenResource.svc"))
        .unwrap();
    for h in ["username", "password", "x-api-key"] {
        assert!(
            token.header_names.iter().any(|n| n == h),
            "{:?}",
            token.header_names
        );
    }
    // Not in the host's most verbose logs either.
    let traced = k
        .env
        .cmd()
        .env("RUST_LOG", "trace")
        .args(["-vv", "--env", "kin", "kinetic", "inventory"])
        .output()
        .unwrap();
    assert!(
        traced.status.success(),
        "{}",
        String::from_utf8_lossy(&traced.stderr)
    );
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&traced.stdout),
        String::from_utf8_lossy(&traced.stderr)
    );
    assert!(logs.contains("outbound http"), "trace logging is on");
    for value in [super::setup::API_KEY, super::setup::PASSWORD] {
        assert!(!logs.contains(value), "a credential value is in the logs");
    }
    k.assert_no_secret_leaked();
}

#[test]
fn a_server_that_keeps_refusing_is_denied_after_one_refresh() {
    let k = Kinetic::new();
    k.ok(&["solutions", "list"]);
    k.double.clear_journal();
    k.double
        .inject(Fault::status("Ice.BO.ExportPackageSvc/GetList", 5, 401));
    let (code, v) = k.run(&["solutions", "list"]);
    assert_eq!(code, 4, "{v}");
    assert_eq!(
        k.double
            .journal()
            .iter()
            .filter(|e| e.route().ends_with("GetList"))
            .count(),
        2,
        "one retry"
    );
}

#[test]
fn a_wrong_api_key_is_denied_naming_the_secret_not_the_key() {
    const WRONG: &str = "wrong-key-5d3e91";
    let k = Kinetic::new();
    k.env
        .ok(&["secrets", "put", "KINETIC_API_KEY", WRONG, "--env", "kin"]);
    let (code, v) = k.run(&["solutions", "list"]);
    assert_eq!(code, 4, "denied: {v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("KINETIC_API_KEY"), "{message}");
    // The fix names this environment: the pack wrote `<env>`, the host
    // filled it in and made it the hint.
    assert_eq!(
        v["error"]["hint"], "envpack secrets put --env kin KINETIC_API_KEY",
        "{v}"
    );
    assert!(!v.to_string().contains("<env>"), "{v}");
    assert!(!v.to_string().contains(WRONG), "the key is not shown: {v}");
    // People see it on a `help:` line.
    let text = k.env.run(&["--env", "kin", "kinetic", "solutions", "list"]);
    assert!(
        text.stderr
            .contains("help: envpack secrets put --env kin KINETIC_API_KEY"),
        "{}",
        text.stderr
    );
    assert!(!text.stderr.contains(WRONG));
    k.assert_no_secret_leaked();
    let mut home = String::new();
    for f in super::setup::find_files(k.env.home(), "") {
        if !f.to_string_lossy().contains("secrets.dev-store") {
            home.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
        }
    }
    assert!(!home.contains(WRONG));
}

/// A renamed secret that is not granted names the grant; granted but not
/// set, it names `envpack secrets put`.
#[test]
fn a_missing_secret_says_how_to_fix_it() {
    let k = Kinetic::new();
    let pack = "greentic.kinetic.rest";
    k.env
        .ok(&["env", "config", "kin", pack, "user_secret", "OTHER_USER"]);
    let (code, v) = k.run(&["solutions", "list"]);
    assert_eq!(code, 4, "{v}");
    let hint = v["error"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("envpack env bind kin kinetic")
            && hint.contains("--grant credential:OTHER_USER"),
        "{v}"
    );

    k.env.ok(&[
        "env",
        "bind",
        "kin",
        "kinetic",
        "greentic.kinetic.rest@^1",
        "--grant",
        "credential:OTHER_USER",
    ]);
    let (code, v) = k.run(&["solutions", "list"]);
    assert_ne!(code, 0, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("OTHER_USER"), "{message}");
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .starts_with("envpack secrets put --env kin "),
        "{v}"
    );
}
