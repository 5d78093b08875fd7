//! Issue 16 (packs and bundles through an OCI registry): two homes, one
//! real registry (Debian's docker-registry, started on loopback by
//! `scripts/services`). A pack pushed from one home is installed by
//! descriptor in the other; what the registry stores is the Wasm OCI
//! artifact layout; a tampered blob is refused with exit 6; a bundle built
//! in one home is pulled by digest, deployed and promoted in the other; a
//! tag that moves under an environment is reported as drift and never
//! installed; logins come from the environment and are never printed.
//!
//! Needs `ENVPACK_TEST_REGISTRY`, `ENVPACK_TEST_REGISTRY_DATA` and
//! `ENVPACK_TEST_REGISTRY_AUTH` (and `ENVPACK_TEST_POSTGRES` for the
//! shared-backend test; `.ci/run` starts them all with `scripts/services`);
//! without them the tests here fail saying so.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[path = "ingress_common.rs"]
mod common;

use envpack_e2e::{
    Env, build_pack, leb128 as leb, postgres_url, registry_addr, registry_auth, registry_data,
    unique_repo,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn packs() -> (PathBuf, PathBuf) {
    (
        build_pack(BIN, "acme-state-memory"),
        build_pack(BIN, "acme-state-memory-v13"),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `GET /v2/<repo>/manifests/<reference>` on the open registry.
fn raw_manifest(repo: &str, reference: &str) -> Value {
    let addr: SocketAddr = registry_addr().parse().unwrap();
    let r = common::get_at(
        addr,
        &format!("/v2/{repo}/manifests/{reference}"),
        &[("Accept", OCI_MANIFEST)],
    );
    assert_eq!(r.status, 200, "manifest {repo}:{reference}: {}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// `dev`, its state slot bound to acme.state.memory at `req`.
fn dev_on_memory(home: &Env, req: &str) {
    home.json(&["env", "init", "dev"]);
    home.json(&["env", "bind", "dev", "state", req, "--grant-requested"]);
}

/// The repository path of `oci://HOST/REPO`.
fn repo_of(oci: &str) -> &str {
    oci.strip_prefix("oci://")
        .unwrap()
        .split_once('/')
        .unwrap()
        .1
}

/// Where the registry's filesystem driver keeps the blob `digest`.
fn blob_file(digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    registry_data().join(format!(
        "docker/registry/v2/blobs/sha256/{}/{hex}/data",
        &hex[..2]
    ))
}

/// A copy of `pack` with a custom section of its own appended: the same
/// pack, other bytes, so blobs this test tampers with are its alone (a
/// registry stores each blob once, whatever repositories name it).
fn unique_copy(pack: &Path, tag: &str) -> PathBuf {
    let name = b"envpack-test-nonce";
    let nonce = unique_repo(tag);
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(nonce.as_bytes());
    let mut bytes = std::fs::read(pack).unwrap();
    bytes.push(0);
    leb(body.len(), &mut bytes);
    bytes.extend_from_slice(&body);
    let dir = tempfile::tempdir().unwrap().keep();
    let out = dir.join(pack.file_name().unwrap());
    std::fs::write(&out, bytes).unwrap();
    out
}

/// Flips one byte in the middle of a stored blob (same length, other hash).
fn tamper(digest: &str) {
    let path = blob_file(digest);
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn a_pack_pushed_from_one_home_is_installed_by_descriptor_in_another() {
    let (v12, v13) = packs();
    let prefix = format!("oci://{}/{}", registry_addr(), unique_repo("share"));
    let a = Env::new(BIN);
    let added = a.json(&["registry", "add", "team", &prefix]);
    assert_eq!(added["registry"]["url"], prefix.as_str());
    let pushed12 = a.json(&["pack", "push", s(&v12), "team"]);
    let pushed13 = a.json(&["pack", "push", s(&v13), "team"]);
    assert_eq!(pushed12["descriptor"], "acme.state.memory@1.2.0");
    let manifest12 = pushed12["manifest"].as_str().unwrap().to_string();
    assert!(
        pushed12["reference"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/acme.state.memory:1.2.0@{manifest12}")),
        "{pushed12}"
    );
    // Pushing the same file again is the same manifest: the tag stays.
    let again = a.json(&["pack", "push", s(&v12), "team"]);
    assert_eq!(again["manifest"], manifest12.as_str());

    // What the registry holds is the Wasm OCI artifact layout.
    let repo = format!("{}/acme.state.memory", repo_of(&prefix));
    let m = raw_manifest(&repo, "1.2.0");
    assert_eq!(m["mediaType"], OCI_MANIFEST, "{m}");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{m}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], pushed12["digest"]);
    let notes = &m["annotations"];
    assert_eq!(notes["dev.envpack.descriptor"], "acme.state.memory@1.2.0");
    assert!(notes["dev.envpack.api-version"].as_str().is_some(), "{m}");
    assert_eq!(
        notes["org.opencontainers.image.title"],
        v12.file_name().unwrap().to_str().unwrap()
    );

    let tags = a.json(&["registry", "tags", &format!("{prefix}/acme.state.memory")]);
    assert_eq!(
        tags["tags"],
        serde_json::json!(["1.2.0", "1.3.0"]),
        "{tags}"
    );

    // Home B knows the registry by name and installs by descriptor: the
    // highest version tag matching the requirement.
    let b = Env::new(BIN);
    b.json(&["registry", "add", "team", &prefix]);
    let list = b.json(&["registry", "list"]);
    assert_eq!(list[0]["name"], "team", "{list}");
    let newest = b.json(&["pack", "install", "acme.state.memory@^1.2"]);
    assert_eq!(
        newest[0]["descriptor"], "acme.state.memory@1.3.0",
        "{newest}"
    );
    assert_eq!(newest[0]["outcome"], "installed");
    assert_eq!(newest[0]["origin"]["manifest"], pushed13["manifest"]);
    // 1.3.0 does not meet ~1.2: pulled too.
    let got = b.json(&["pack", "install", "acme.state.memory@~1.2"]);
    assert_eq!(got[0]["descriptor"], "acme.state.memory@1.2.0", "{got}");
    assert_eq!(got[0]["outcome"], "installed");
    assert_eq!(got[0]["origin"]["manifest"], manifest12.as_str());
    assert_eq!(got[0]["digest"], pushed12["digest"]);
    // Met locally now: nothing is pulled again.
    let met = b.json(&["pack", "install", "acme.state.memory@^1.2"]);
    assert_eq!(met[0]["outcome"], "unchanged", "{met}");

    // The pulled pack runs, and an environment binding it pins its origin.
    let call = b.json(&[
        "pack",
        "call",
        "acme.state.memory@1.2.0",
        "put(\"k\", [104, 105], none)",
        "get(\"k\")",
        "--grant-requested",
    ]);
    assert!(
        call["calls"][1]["result"].as_str().unwrap().contains("104"),
        "{call}"
    );
    dev_on_memory(&b, "acme.state.memory@~1.2");
    let lock = b.json(&["env", "show", "dev"])["lock"]["slots"]["state"].clone();
    assert_eq!(lock["origin"]["manifest"], manifest12.as_str(), "{lock}");
    let doctor = b.json(&["env", "doctor", "dev"]);
    assert!(
        !doctor["findings"].to_string().contains("\"tag\""),
        "an unmoved tag is no finding: {doctor}"
    );
    // 1.3.0 is in the registry and ~1.2 does not accept it: nothing to do.
    let calm = b.run(&["--json", "pack", "outdated", "--env", "dev"]);
    assert_eq!(calm.code, 0, "{}", calm.stdout);

    // A third home pulls by digest alone, without any registry configured.
    let c = Env::new(BIN);
    let by_digest = format!("{prefix}/acme.state.memory@{manifest12}");
    let pinned = c.json(&["pack", "install", &by_digest]);
    assert_eq!(pinned[0]["descriptor"], "acme.state.memory@1.2.0");
    assert_eq!(pinned[0]["origin"]["reference"], by_digest.as_str());
    let listed = c.json(&["pack", "list"]).to_string();
    assert!(
        listed.contains(&manifest12),
        "pack list shows the origin: {listed}"
    );

    // Without a registry, a descriptor that is not installed is not found,
    // with the command that adds one.
    let none = c.fails(3, &["pack", "install", "acme.state.memory@^9"]);
    assert!(
        none["hint"].as_str().unwrap().contains("registry add"),
        "{none}"
    );
    // With one that has no such version: not found, naming what it has.
    let missing = b.fails(3, &["pack", "install", "acme.state.memory@^9"]);
    assert!(
        missing["message"].as_str().unwrap().contains("1.3.0"),
        "{missing}"
    );

    b.json(&["registry", "rm", "team"]);
    assert_eq!(b.json(&["registry", "list"]), serde_json::json!([]));
    b.fails(3, &["registry", "rm", "team"]);
}

#[test]
fn a_tampered_blob_in_the_registry_is_refused_with_exit_6() {
    let (v12, v13) = packs();
    let (v12, v13) = (unique_copy(&v12, "layer"), unique_copy(&v13, "manifest"));
    let prefix = format!("oci://{}/{}", registry_addr(), unique_repo("tamper"));
    let a = Env::new(BIN);
    let layer = a.json(&["pack", "push", s(&v12), &format!("{prefix}/layer:1.2.0")]);
    let manifest = a.json(&["pack", "push", s(&v13), &format!("{prefix}/manifest:1.3.0")]);

    // A layer whose bytes changed in storage.
    tamper(layer["digest"].as_str().unwrap());
    let b = Env::new(BIN);
    let e = b.fails(6, &["pack", "install", &format!("{prefix}/layer:1.2.0")]);
    assert_eq!(e["kind"], "integrity");
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("tampered") && msg.contains(layer["digest"].as_str().unwrap()),
        "{e}"
    );
    assert_eq!(
        b.json(&["pack", "list"]),
        serde_json::json!([]),
        "nothing was installed"
    );

    // A manifest whose bytes changed: refused by tag and by digest.
    tamper(manifest["manifest"].as_str().unwrap());
    let by_tag = b.fails(6, &["pack", "install", &format!("{prefix}/manifest:1.3.0")]);
    assert_eq!(by_tag["kind"], "integrity", "{by_tag}");
    let pinned = manifest["reference"]
        .as_str()
        .unwrap()
        .replace(":1.3.0@", "@");
    let by_digest = b.fails(6, &["pack", "install", &pinned]);
    assert_eq!(by_digest["kind"], "integrity", "{by_digest}");
    assert_eq!(b.json(&["pack", "list"]), serde_json::json!([]));
}

/// A bundle of `web` built (and signed) in `home`; returns (file, key.pub).
fn signed_bundle(home: &Env) -> (PathBuf, PathBuf) {
    let dir = home.home().join("site");
    std::fs::create_dir_all(&dir).unwrap();
    // Unique content: the test tampers with this bundle's blob.
    std::fs::write(dir.join("index.html"), unique_repo("hello from A")).unwrap();
    let out = home.home().join("web-1.0.0.bundle.tgz");
    home.json(&[
        "bundle",
        "build",
        "--no-git",
        s(&dir),
        "--name",
        "web",
        "--version",
        "1.0.0",
        "--source",
        "main",
        "--ref",
        "main",
        "--out",
        s(&out),
    ]);
    let key = home.home().join("release.key");
    home.json(&["bundle", "keygen", "--out", s(&key)]);
    home.json(&["bundle", "sign", s(&out), "--key", s(&key)]);
    (out, home.home().join("release.key.pub"))
}

#[test]
fn a_bundle_built_in_one_home_is_pulled_by_digest_and_promoted_in_another() {
    let a = Env::new(BIN);
    let (bundle, public) = signed_bundle(&a);
    let dest = format!("oci://{}/{}/web", registry_addr(), unique_repo("bundle"));
    let pushed = a.json(&["bundle", "push", s(&bundle), &dest]);
    assert_eq!(pushed["signed"], true, "{pushed}");
    let id = pushed["bundle"].as_str().unwrap().to_string();
    let manifest = pushed["manifest"].as_str().unwrap().to_string();

    // Home B: its own ladder, staging requiring a signature by A's key.
    let b = Env::new(BIN);
    let deployer = build_pack(BIN, "test-deployer");
    b.json(&["pack", "install", s(&deployer)]);
    b.json(&["env", "init", "dev"]);
    b.json(&["env", "init", "staging", "--after", "dev"]);
    for e in ["dev", "staging"] {
        b.json(&[
            "env",
            "bind",
            e,
            "deployer",
            "acme.deployer.recorder@0.1.0",
            "--grant-requested",
        ]);
    }
    let trusted = b.home().join("a.pub");
    std::fs::copy(&public, &trusted).unwrap();
    b.json(&[
        "env",
        "policy",
        "staging",
        "--require-signature",
        "--trust-key",
        s(&trusted),
    ]);

    let out = b.home().join("pulled.tgz");
    let pulled = b.json(&[
        "bundle",
        "pull",
        &format!("{dest}@{manifest}"),
        "--out",
        s(&out),
    ]);
    assert_eq!(pulled["bundle"], id.as_str(), "{pulled}");
    assert_eq!(pulled["signed"], true);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&bundle).unwrap()
    );
    assert!(b.home().join("pulled.tgz.sig").is_file());
    let verified = b.json(&["bundle", "verify", s(&out)]);
    assert_eq!(verified["id"], id.as_str());

    // Deployed straight from the registry by digest (pulled and verified
    // as above), then promoted by its bundle id.
    let deployed = b.json(&["deploy", &format!("{dest}@{manifest}"), "--env", "dev"]);
    assert_eq!(deployed["bundle"], id.as_str(), "{deployed}");
    let promoted = b.json(&["promote", &id, "--to", "staging"]);
    assert!(promoted.to_string().contains(&id), "{promoted}");
    let status = b.json(&["status", "--env", "staging"]).to_string();
    assert!(status.contains("web"), "{status}");

    // A bundle is no pack: refused as such, with how packs are pushed.
    let not_a_pack = b.fails(2, &["pack", "install", &format!("{dest}@{manifest}")]);
    assert!(
        not_a_pack["message"]
            .as_str()
            .unwrap()
            .contains("not a Wasm pack artifact"),
        "{not_a_pack}"
    );

    // A tampered bundle layer is refused before anything is written.
    let layers = raw_manifest(repo_of(&dest), &manifest)["layers"].clone();
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.envpack.bundle.v1.tar+gzip"
    );
    tamper(layers[0]["digest"].as_str().unwrap());
    let again = b.home().join("again.tgz");
    let e = b.fails(
        6,
        &[
            "bundle",
            "pull",
            &format!("{dest}@{manifest}"),
            "--out",
            s(&again),
        ],
    );
    assert_eq!(e["kind"], "integrity", "{e}");
    assert!(!again.exists(), "nothing written for a refused pull");
}

#[test]
fn a_tag_moved_under_an_environment_is_drift_never_an_upgrade() {
    let (v12, v13) = packs();
    let tag = format!(
        "oci://{}/{}/acme.state.memory:stable",
        registry_addr(),
        unique_repo("moved")
    );
    let a = Env::new(BIN);
    let first = a.json(&["pack", "push", s(&v12), &tag]);

    let b = Env::new(BIN);
    b.json(&["pack", "install", &tag]);
    dev_on_memory(&b, "acme.state.memory@^1");
    let before = b.json(&["env", "show", "dev"])["lock"]["slots"]["state"].clone();
    assert_eq!(before["origin"]["manifest"], first["manifest"], "{before}");

    // A moves the tag to another pack.
    let second = a.json(&["pack", "push", s(&v13), &tag]);
    assert_ne!(first["manifest"], second["manifest"]);

    let doctor = b.json(&["env", "doctor", "dev"]);
    let findings = doctor["findings"].as_array().unwrap();
    let moved = findings
        .iter()
        .find(|f| f["check"] == "tag")
        .unwrap_or_else(|| panic!("no tag finding: {doctor}"));
    let msg = moved["message"].as_str().unwrap();
    assert!(msg.contains("drift"), "{moved}");
    assert!(
        msg.contains(second["manifest"].as_str().unwrap()),
        "{moved}"
    );
    assert!(msg.contains(first["manifest"].as_str().unwrap()), "{moved}");
    assert!(
        moved["fix"].as_str().unwrap().contains("pack install"),
        "{moved}"
    );

    // `pack outdated` says the same, exit 2 with an ok envelope.
    let out = b.run(&["--json", "pack", "outdated", "--env", "dev"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let report = out.envelope();
    assert_eq!(report["ok"], true, "{report}");
    let state = report["result"]["packs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["slot"] == "state")
        .cloned()
        .unwrap();
    assert_eq!(state["tag"]["current"], second["manifest"], "{state}");
    assert_eq!(state["tag"]["pinned"], first["manifest"], "{state}");

    // Nothing moved in the environment or the store.
    let after = b.json(&["env", "show", "dev"])["lock"]["slots"]["state"].clone();
    assert_eq!(after, before);
    let met = b.json(&["pack", "install", "acme.state.memory@^1"]);
    assert_eq!(met[0]["descriptor"], "acme.state.memory@1.2.0", "{met}");
    assert_eq!(met[0]["outcome"], "unchanged");
}

#[test]
fn logins_come_from_the_environment_or_a_file_and_are_never_printed() {
    let (v12, _) = packs();
    let (user, password, addr) = registry_auth();
    let prefix = format!("oci://{addr}/{}", unique_repo("login"));
    let a = Env::new(BIN);

    // No login: the registry refuses, and the error says how to log in.
    let anon = a.fails(4, &["pack", "push", s(&v12), &format!("{prefix}/x:1")]);
    assert_eq!(anon["kind"], "denied", "{anon}");

    a.json(&[
        "registry",
        "add",
        "sec",
        &prefix,
        "--username",
        &user,
        "--password-env",
        "SEC_PW",
    ]);
    // The variable is not set: said so, naming it.
    let unset = a.fails(2, &["pack", "push", s(&v12), "sec"]);
    assert!(
        unset["message"].as_str().unwrap().contains("SEC_PW"),
        "{unset}"
    );
    // A wrong password: denied.
    let out = a
        .cmd()
        .args(["--json", "pack", "push", s(&v12), "sec"])
        .env("SEC_PW", "not-the-password")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = a
        .cmd()
        .args(["--json", "pack", "push", s(&v12), "sec"])
        .env("SEC_PW", &password)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stdout.contains(&password) && !stderr.contains(&password));
    let pushed: Value = serde_json::from_str(&stdout).unwrap();
    let manifest = pushed["result"]["manifest"].as_str().unwrap().to_string();

    // Listing shows where the password comes from, never the password.
    let listed = a.ok(&["registry", "list"]) + &a.ok(&["--json", "registry", "list"]);
    assert!(
        listed.contains("$SEC_PW") && !listed.contains(&password),
        "{listed}"
    );
    let stored = std::fs::read_to_string(a.home().join("registries.toml")).unwrap();
    assert!(!stored.contains(&password), "{stored}");

    // Home B: the password from a file.
    let b = Env::new(BIN);
    let pw_file = b.home().join("registry-password");
    std::fs::write(&pw_file, format!("{password}\n")).unwrap();
    b.json(&[
        "registry",
        "add",
        "sec",
        &prefix,
        "--username",
        &user,
        "--password-file",
        s(&pw_file),
    ]);
    let got = b.json(&["pack", "install", "acme.state.memory@1.2.0"]);
    assert_eq!(got[0]["origin"]["manifest"], manifest.as_str(), "{got}");

    // Home C: no registry configured, the login from ENVPACK_REGISTRY_*.
    let c = Env::new(BIN);
    let out = c
        .cmd()
        .args([
            "--json",
            "pack",
            "install",
            &format!("{prefix}/acme.state.memory@{manifest}"),
        ])
        .env("ENVPACK_REGISTRY_USERNAME", &user)
        .env("ENVPACK_REGISTRY_PASSWORD", &password)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(!stdout.contains(&password));
}

#[test]
fn a_home_sharing_the_backend_pulls_the_pinned_pack_it_lacks() {
    let (v12, _) = packs();
    let url = postgres_url("registry");
    let tag = format!(
        "oci://{}/{}/acme.state.memory:1.2.0",
        registry_addr(),
        unique_repo("shared")
    );
    let a = Env::new(BIN);
    a.json(&["backend", "set", &url]);
    a.json(&["backend", "migrate"]);
    let pushed = a.json(&["pack", "push", s(&v12), &tag]);
    a.json(&["pack", "install", &tag]);
    dev_on_memory(&a, "acme.state.memory@1.2.0");

    // B shares the backend, has never installed the pack, and uses dev's
    // state: the pack is pulled by the pinned manifest digest.
    let b = Env::new(BIN);
    b.json(&["backend", "set", &url]);
    assert_eq!(b.json(&["pack", "list"]), serde_json::json!([]));
    b.json(&["state", "put", "--env", "dev", "app/mode", "blue"]);
    let got = b
        .json(&["state", "get", "--env", "dev", "app/mode"])
        .to_string();
    assert!(got.contains("blue"), "{got}");
    let list = b.json(&["pack", "list"]);
    let pulled = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["descriptor"] == "acme.state.memory@1.2.0")
        .unwrap_or_else(|| panic!("not pulled: {list}"));
    assert_eq!(pulled["digest"], pushed["digest"]);
    // The lock's origin, tag and pinned manifest, so B sees a moved tag too.
    assert_eq!(pulled["origin"]["reference"], tag.as_str());
    assert_eq!(pulled["origin"]["manifest"], pushed["manifest"]);
}
