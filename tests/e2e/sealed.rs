//! `greentic.secrets.sealed`: secrets encrypted at rest with age for the
//! environment's recipients. A round trip; the storage holding no
//! plaintext (and, as a control, the dev-store's storage holding it);
//! rotation re-sealing every value so a removed identity opens none, proved
//! with the reference `age` tool (Debian's `age` package); the secrets
//! conformance suite; the dev-store refused for production environments,
//! and the explicit override kept in the audit.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

use envpack_e2e::Env;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

const SEALED: &str = "greentic.secrets.sealed@^0.1";

/// A secret value distinctive enough to grep for.
const VALUE: &str = "pa55-Z3bra-unique-4711";

/// An environment `dev` whose secrets slot is the sealed store, sealed for
/// this home's identity.
fn sealed_env() -> Env {
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    env.json(&["env", "bind", "dev", "secrets", SEALED, "--grant-requested"]);
    let added = env.json(&["secrets", "recipients", "add", "--env", "dev", "--mine"]);
    assert!(added["identity_created"].as_str().is_some(), "{added}");
    env
}

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_containing(&path, needle));
        } else if let Ok(bytes) = std::fs::read(&path)
            && bytes.windows(needle.len()).any(|w| w == needle)
        {
            out.push(path.display().to_string());
        }
    }
    out
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// What the environment's storage holds for `name`: the sealed pack's kv
/// value, read raw through the state slot it lives in.
fn stored(env: &Env, name: &str) -> String {
    let key = format!("packs/greentic.secrets.sealed/kv/sealed/{name}");
    env.json(&["state", "get", "--env", "dev", &key])["value"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `age -d -i identity` on `ciphertext`: the plaintext, or `None` when the
/// identity opens nothing.
fn age_decrypt(identity: &Path, ciphertext: &str, dir: &Path) -> Option<String> {
    let file = dir.join("ciphertext.age");
    std::fs::write(&file, ciphertext).unwrap();
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run age (scripts/bootstrap installs it): {e}"));
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

/// A fresh identity from `age-keygen`: (file, public key).
fn keygen(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let file = dir.join(name);
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run age-keygen (scripts/bootstrap installs age): {e}"));
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&file).unwrap();
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_string();
    (file, public)
}

#[test]
fn a_round_trip_leaves_no_plaintext_in_storage() {
    let env = sealed_env();
    env.json(&["secrets", "put", "--env", "dev", "DB_PASSWORD", VALUE]);
    let got = env.json(&["secrets", "get", "--env", "dev", "DB_PASSWORD"]);
    assert_eq!(got["value"], VALUE);
    assert_eq!(
        env.json(&["secrets", "list", "--env", "dev"]),
        serde_json::json!(["DB_PASSWORD"])
    );
    // What the storage holds is an age file.
    let sealed = stored(&env, "DB_PASSWORD");
    assert!(
        sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{sealed}"
    );
    // No file of the environment holds the value, plain or hex, nor this
    // home's private key: only config/ does.
    let envs = env.home().join("envs");
    for needle in [VALUE.to_string(), hex(VALUE)] {
        assert_eq!(
            files_containing(&envs, needle.as_bytes()),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert_eq!(
        files_containing(&envs, b"AGE-SECRET-KEY-"),
        Vec::<String>::new()
    );
    // (The pack files in store/ hold the prefix as a string constant.)
    let identity = env.home().join("config/age-identity.txt");
    let store = env.home().join("store").display().to_string();
    let holders: Vec<String> = files_containing(env.home(), b"AGE-SECRET-KEY-")
        .into_iter()
        .filter(|f| !f.starts_with(&store))
        .collect();
    assert_eq!(holders, vec![identity.display().to_string()]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&identity).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "identity mode {mode:o}");
    }
    // The control: the same search finds the dev-store's value, so the
    // search would have found a sealed one stored in the clear.
    env.ok(&["env", "init", "plain"]);
    env.json(&["secrets", "put", "--env", "plain", "DB_PASSWORD", VALUE]);
    let found = files_containing(&envs, hex(VALUE).as_bytes());
    assert!(
        found.iter().all(|f| f.contains("/plain/")) && !found.is_empty(),
        "{found:?}"
    );
}

#[test]
fn removing_a_recipient_reseals_every_value_without_it() {
    let env = sealed_env();
    let tmp = tempfile::tempdir().unwrap();
    let (other, other_key) = keygen(tmp.path(), "other.txt");
    env.json(&["secrets", "recipients", "add", "--env", "dev", &other_key]);
    let list = env.json(&["secrets", "recipients", "list", "--env", "dev"]);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[0]["this_home"], true, "{list}");
    assert_eq!(list[1]["recipient"], other_key.as_str(), "{list}");
    env.json(&["secrets", "put", "--env", "dev", "API_KEY", VALUE]);
    env.json(&["secrets", "put", "--env", "dev", "TOKEN", "second-value"]);
    // The other operator's identity opens it, with the reference age tool.
    let before = stored(&env, "API_KEY");
    assert_eq!(
        age_decrypt(&other, &before, tmp.path()).as_deref(),
        Some(VALUE)
    );

    let removed = env.json(&["secrets", "recipients", "rm", "--env", "dev", &other_key]);
    assert_eq!(
        removed["resealed"],
        serde_json::json!(["API_KEY", "TOKEN"]),
        "{removed}"
    );
    for name in ["API_KEY", "TOKEN"] {
        let after = stored(&env, name);
        assert_ne!(after, before);
        assert_eq!(age_decrypt(&other, &after, tmp.path()), None, "{name}");
    }
    // This home still opens both.
    let got = env.json(&["secrets", "get", "--env", "dev", "TOKEN"]);
    assert_eq!(got["value"], "second-value");
    // The old ciphertext is gone from the storage, not kept beside.
    let envs = env.home().join("envs");
    let line = before.lines().nth(1).unwrap();
    assert_eq!(
        files_containing(&envs, line.as_bytes()),
        Vec::<String>::new()
    );
    // Both changes are in the audit.
    let audit = env.json(&["audit", "--env", "dev", "--verb", "secrets.recipients"]);
    let verbs: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"] == "ok")
        .map(|e| e["verb"].as_str().unwrap())
        .collect();
    assert_eq!(
        verbs,
        [
            "secrets.recipients.add",
            "secrets.recipients.add",
            "secrets.recipients.rm"
        ],
        "{audit}"
    );
    // A home whose identity is not a recipient cannot read: denied, with
    // the command its operator needs someone to run.
    std::fs::copy(&other, env.home().join("config/age-identity.txt")).unwrap();
    let err = env.fails(4, &["secrets", "get", "--env", "dev", "TOKEN"]);
    assert!(
        err["message"].as_str().unwrap().contains(&other_key),
        "{err}"
    );
    // The last recipient cannot be removed.
    let mine = list[0]["recipient"].as_str().unwrap();
    let err = env.fails(2, &["secrets", "recipients", "rm", "--env", "dev", mine]);
    assert!(
        err["message"].as_str().unwrap().contains("last recipient"),
        "{err}"
    );
}

#[test]
fn passes_the_secrets_conformance_suite() {
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    let tmp = tempfile::tempdir().unwrap();
    let (identity, public) = keygen(tmp.path(), "id.txt");
    let identity = std::fs::read_to_string(identity).unwrap();
    let result = env.json(&[
        "pack",
        "test",
        "greentic.secrets.sealed",
        "--config",
        &format!("recipients={public}"),
        "--secret",
        &format!("ENVPACK_IDENTITY={identity}"),
    ]);
    let cases = result["cases"].as_array().unwrap();
    let not_passed: Vec<&Value> = cases.iter().filter(|c| c["status"] != "pass").collect();
    assert!(not_passed.is_empty(), "{not_passed:#?}");
    assert!(cases.len() >= 8, "{result}");
}

/// The events of `env`'s audit (`None`: the home's) with `verb`.
fn audit_of(env: &Env, name: Option<&str>, verb: &str) -> Vec<Value> {
    let mut args = vec!["audit", "--verb", verb];
    match name {
        Some(n) => args.extend(["--env", n]),
        None => args.push("--all"),
    }
    env.json(&args).as_array().unwrap().clone()
}

#[test]
fn the_dev_store_is_refused_in_production_unless_allowed_explicitly() {
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    // Creating a production environment, whose default secrets pack is the
    // dev-store: refused, naming both fixes.
    let err = env.fails(4, &["env", "init", "prod", "--production"]);
    assert_eq!(err["kind"], "denied", "{err}");
    let hint = err["hint"].as_str().unwrap();
    assert!(
        hint.contains("envpack env init prod --production --secrets greentic.secrets.sealed@^0.1"),
        "{hint}"
    );
    assert!(
        hint.contains("envpack env init prod --production --allow-dev-secrets"),
        "{hint}"
    );
    assert!(env.fails(3, &["env", "show", "prod"])["kind"] == "not-found");
    // The first fix: sealed secrets from the start.
    let made = env.json(&["env", "init", "prod", "--production", "--secrets", SEALED]);
    let bound = &made["env"]["lock"]["slots"]["secrets"]["descriptor"];
    assert!(
        bound
            .as_str()
            .unwrap()
            .starts_with("greentic.secrets.sealed@"),
        "{made}"
    );
    // Binding the dev-store into it: refused.
    let err = env.fails(
        4,
        &[
            "--yes",
            "env",
            "bind",
            "prod",
            "secrets",
            "greentic.secrets.dev-store@^0.1",
        ],
    );
    assert!(
        err["hint"]
            .as_str()
            .unwrap()
            .contains("envpack env policy prod --allow-dev-secrets"),
        "{err}"
    );
    // Making a dev-store environment production: refused too.
    env.ok(&["env", "init", "staging"]);
    let err = env.fails(4, &["--yes", "env", "policy", "staging", "--production"]);
    assert!(
        err["hint"]
            .as_str()
            .unwrap()
            .contains("envpack env policy staging --production --allow-dev-secrets"),
        "{err}"
    );
    // The second fix: the operator says so, and the audit keeps it.
    env.json(&[
        "--yes",
        "env",
        "policy",
        "staging",
        "--production",
        "--allow-dev-secrets",
    ]);
    let policy = audit_of(&env, Some("staging"), "env.policy");
    assert!(
        policy
            .iter()
            .any(|e| e["result"] == "ok" && e["after"]["allow_dev_secrets"] == true),
        "{policy:?}"
    );
    env.json(&[
        "env",
        "init",
        "legacy",
        "--production",
        "--allow-dev-secrets",
    ]);
    let init = audit_of(&env, None, "env.init");
    assert!(
        init.iter().any(|e| e["target"] == "legacy"
            && e["result"] == "ok"
            && e["after"]["allow_dev_secrets"] == true),
        "{init:?}"
    );
    let shown = env.json(&["env", "show", "legacy"]);
    assert_eq!(
        shown["meta"]["policy"]["allow_dev_secrets"], true,
        "{shown}"
    );
}
