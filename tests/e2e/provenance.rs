//! Issue 12 (items 4-6): bundle provenance read from git and checked,
//! ignored files kept out, immutable and reproducible bundles, secret
//! scanning at build and at verify, and signatures checked at deploy and
//! promote. The tests set repositories up with the `git` CLI; the product
//! reads them with gix.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use envpack_e2e::{Env, build_pack};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

#[path = "provenance/secrets.rs"]
mod secrets;
use secrets::hand_made;

/// Runs git in `dir` with a fixed identity and no user or system config.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A repository on `main` with a site, a `.gitignore` and ignored files.
fn repo(env: &Env) -> PathBuf {
    let dir = env.home().join("repo");
    fs::create_dir_all(dir.join("build")).unwrap();
    fs::write(dir.join("index.html"), "hello\n").unwrap();
    fs::write(dir.join(".gitignore"), "*.log\nbuild/\n").unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    git(
        &dir,
        &[
            "remote",
            "add",
            "origin",
            "https://ci:hunter2token@git.example.invalid/site.git",
        ],
    );
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "site"]);
    // Ignored: never in a payload unless --include-ignored.
    fs::write(dir.join("debug.log"), "noise\n").unwrap();
    fs::write(dir.join("build/app.js"), "built\n").unwrap();
    dir
}

fn build_args<'a>(dir: &'a str, out: &'a str, source: &'a str, r: &'a str) -> Vec<&'a str> {
    vec![
        "bundle",
        "build",
        dir,
        "--name",
        "site",
        "--version",
        "1.0.0",
        "--source",
        source,
        "--ref",
        r,
        "--out",
        out,
    ]
}

/// Builds; `extra` flags appended; `code` 0 returns the result, else the
/// error.
fn build(env: &Env, dir: &Path, source: &str, r: &str, extra: &[&str], code: i32) -> Value {
    let out = env.home().join(format!("out-{}.tgz", rand_name()));
    let (d, o) = (dir.to_str().unwrap(), out.to_str().unwrap());
    let mut args = build_args(d, o, source, r);
    args.extend_from_slice(extra);
    if code == 0 {
        env.json(&args)
    } else {
        env.fails(code, &args)
    }
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

fn paths(built: &Value) -> Vec<String> {
    built["manifest"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn msg(err: &Value) -> String {
    format!(
        "{} / {}",
        err["message"].as_str().unwrap_or_default(),
        err["hint"].as_str().unwrap_or_default()
    )
}

#[test]
fn provenance_is_read_from_git_and_checked() {
    let env = Env::new(BIN);
    let dir = repo(&env);
    let head = git(&dir, &["rev-parse", "HEAD"]);

    // On main: the commit, remote and commit time come from the repository.
    let built = build(&env, &dir, "main", "main", &[], 0);
    let src = &built["manifest"]["source"];
    assert_eq!(src["commit"], head.as_str());
    assert_eq!(src["provenance"], "git");
    assert_eq!(src["remote"], "https://git.example.invalid/site.git");
    assert!(src.get("dirty").is_none(), "clean: {src}");
    assert_eq!(built["manifest"]["created"], "2026-11-01T10:00:00Z");
    // .git/ and ignored files stay out...
    assert_eq!(paths(&built), [".gitignore", "index.html"]);
    // ...unless asked for.
    let all = build(&env, &dir, "main", "main", &["--include-ignored"], 0);
    assert_eq!(
        paths(&all),
        [".gitignore", "build/app.js", "debug.log", "index.html"]
    );
    // A payload directory .gitignore excludes (build output) needs
    // --include-ignored, and its files do not make the tree dirty.
    let e = build(&env, &dir.join("build"), "main", "main", &[], 2);
    assert!(msg(&e).contains("--include-ignored"), "{e}");
    let out = build(
        &env,
        &dir.join("build"),
        "main",
        "main",
        &["--include-ignored"],
        0,
    );
    assert_eq!(paths(&out), ["app.js"]);
    assert!(out["manifest"]["source"].get("dirty").is_none(), "{out}");
    // --commit is a check.
    build(&env, &dir, "main", "main", &["--commit", &head[..8]], 0);
    let e = build(&env, &dir, "main", "main", &["--commit", "deadbeef"], 4);
    assert!(msg(&e).contains("--commit must name HEAD"), "{e}");
    // --no-git inside a repository is refused: provenance is read.
    build(&env, &dir, "main", "main", &["--no-git"], 2);
}

#[test]
fn claims_git_contradicts_are_refused() {
    let env = Env::new(BIN);
    let dir = repo(&env);
    let head = git(&dir, &["rev-parse", "HEAD"]);
    // A feature branch claiming to be a release tag is refused.
    git(&dir, &["checkout", "-q", "-b", "feat/login"]);
    let e = build(&env, &dir, "release-tag", "v1.0.0", &[], 4);
    assert!(msg(&e).contains("no tag \"v1.0.0\""), "{e}");
    assert!(
        msg(&e).contains("git tag v1.0.0 && envpack bundle build"),
        "{e}"
    );
    let e = build(&env, &dir, "main", "main", &[], 4);
    assert!(msg(&e).contains("not on branch \"main\""), "{e}");
    let b = build(&env, &dir, "feature-branch", "feat/login", &[], 0);
    assert_eq!(b["manifest"]["source"]["kind"], "feature-branch");

    // At a tag (annotated: peeled to its commit) the commit is recorded;
    // once HEAD moves on, refused.
    git(&dir, &["tag", "-a", "v1.0.0", "-m", "release"]);
    let tagged = build(&env, &dir, "release-tag", "v1.0.0", &[], 0);
    assert_eq!(tagged["manifest"]["source"]["commit"], head.as_str());
    fs::write(dir.join("index.html"), "v2\n").unwrap();
    git(&dir, &["commit", "-q", "-am", "v2"]);
    let e = build(&env, &dir, "release-tag", "v1.0.0", &[], 4);
    assert!(msg(&e).contains("git checkout v1.0.0"), "{e}");
}

#[test]
fn dirty_trees_are_refused_unless_allowed_and_recorded() {
    let env = Env::new(BIN);
    let dir = repo(&env);
    // A dirty tree is refused, accepted with --allow-dirty and recorded.
    fs::write(dir.join("index.html"), "uncommitted\n").unwrap();
    let e = build(&env, &dir, "main", "main", &[], 4);
    assert!(msg(&e).contains("--allow-dirty"), "{e}");
    assert!(msg(&e).contains("changed index.html"), "{e}");
    // Staged but not committed is dirty too.
    git(&dir, &["add", "index.html"]);
    let e = build(&env, &dir, "main", "main", &[], 4);
    assert!(msg(&e).contains("changed index.html"), "{e}");
    let d = build(&env, &dir, "main", "main", &["--allow-dirty"], 0);
    assert_eq!(d["manifest"]["source"]["dirty"], true);
    git(&dir, &["reset", "-q", "--hard"]);
    build(&env, &dir, "main", "main", &[], 0);
    // An untracked (not ignored) payload file makes the tree dirty too.
    fs::write(dir.join("new.html"), "new\n").unwrap();
    let e = build(&env, &dir, "main", "main", &[], 4);
    assert!(msg(&e).contains("untracked new.html"), "{e}");
}

#[test]
fn outside_git_the_operator_says_so() {
    let env = Env::new(BIN);
    let dir = env.home().join("plain");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), "hi\n").unwrap();
    let e = build(&env, &dir, "main", "main", &[], 2);
    assert!(msg(&e).contains("not inside a git repository"), "{e}");
    assert!(msg(&e).contains("--no-git"), "{e}");
    let b = build(&env, &dir, "main", "main", &["--no-git"], 0);
    assert_eq!(b["manifest"]["source"]["provenance"], "unverified");
    assert!(b["manifest"].get("created").is_none(), "no clock: {b}");
}

#[test]
fn bundles_are_immutable_and_reproducible() {
    let env = Env::new(BIN);
    let dir = repo(&env);
    let out = env.home().join("site.tgz");
    let other = env.home().join("again.tgz");
    let (d, o, o2) = (
        dir.to_str().unwrap(),
        out.to_str().unwrap(),
        other.to_str().unwrap(),
    );
    let first = env.json(&build_args(d, o, "main", "main"));
    let mut again = build_args(d, o, "main", "main");
    let e = env.fails(5, &again);
    assert!(msg(&e).contains("--force"), "{e}");
    again.push("--force");
    let forced = env.json(&again);
    assert_eq!(forced["id"], first["id"]);
    let second = env.json(&build_args(d, o2, "main", "main"));
    assert_eq!(second["id"], first["id"], "same tree, same id");
    assert_eq!(
        fs::read(&out).unwrap(),
        fs::read(&other).unwrap(),
        "same tree, same bytes"
    );
    // A bundle written inside its own payload never packs itself.
    let inside = dir.join("site.tgz");
    let mut args = build_args(d, inside.to_str().unwrap(), "main", "main");
    args.push("--force");
    let a = env.json(&args);
    let b = env.json(&args);
    assert_eq!(a["id"], first["id"]);
    assert_eq!(b["id"], first["id"], "{b}");
    // Outside git too, with SOURCE_DATE_EPOCH or without a time at all.
    let plain = env.home().join("plain");
    fs::create_dir_all(&plain).unwrap();
    fs::write(plain.join("a.txt"), "a\n").unwrap();
    let ids: Vec<Value> = (0..2)
        .map(|_| build(&env, &plain, "main", "main", &["--no-git"], 0)["id"].clone())
        .collect();
    assert_eq!(ids[0], ids[1]);
    stale_signatures_go_with_the_file_they_signed(&env, &plain);
    let dated = |out: &str| -> Value {
        let run = env
            .cmd()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["--json", "bundle", "build", plain.to_str().unwrap()])
            .args(["--name", "p", "--version", "1.0.0", "--source", "main"])
            .args(["--ref", "main", "--no-git", "--out", out])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&run.stdout).unwrap()["result"].clone()
    };
    let (d1, d2) = (env.home().join("d1.tgz"), env.home().join("d2.tgz"));
    let (x, y) = (dated(d1.to_str().unwrap()), dated(d2.to_str().unwrap()));
    assert_eq!(x["manifest"]["created"], "2023-11-14T22:13:20Z", "{x}");
    assert_eq!(x["id"], y["id"]);
}

/// `--force` keeps a signature of the same id and removes one of another.
fn stale_signatures_go_with_the_file_they_signed(env: &Env, plain: &Path) {
    let key = env.home().join("k");
    env.json(&["bundle", "keygen", "--out", key.to_str().unwrap()]);
    let out = env.home().join("signed.tgz");
    let sig = env.home().join("signed.tgz.sig");
    let (p, o) = (plain.to_str().unwrap(), out.to_str().unwrap());
    let mut args = build_args(p, o, "main", "main");
    args.extend(["--no-git", "--force"]);
    env.json(&args);
    env.json(&["bundle", "sign", o, "--key", key.to_str().unwrap()]);
    env.json(&args);
    assert!(sig.exists(), "same id: the signature still holds");
    fs::write(plain.join("a.txt"), "changed\n").unwrap();
    env.json(&args);
    assert!(!sig.exists(), "another id: the old signature is removed");
}

/// dev -> staging on the recorder deployer.
fn ladder() -> Env {
    let deployer = build_pack(BIN, "test-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "init", "staging", "--after", "dev"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    for e in ["dev", "staging"] {
        env.json(&[
            "env",
            "bind",
            e,
            "deployer",
            "acme.deployer.recorder@0.1.0",
            "--grant-requested",
        ]);
        env.json(&[
            "env",
            "config",
            e,
            "greentic.telemetry.stdout",
            "level",
            "warn",
        ]);
    }
    env
}

fn deploy_fails(env: &Env, file: &Path, code: i32) -> String {
    msg(&env.fails(code, &["deploy", file.to_str().unwrap(), "--env", "dev"]))
}

/// The ladder, both rungs trusting `release.key` and requiring signatures;
/// also `other.key`, trusted nowhere. Returns the env, the key id of
/// `release.key` and an unsigned bundle.
fn signing_ladder() -> (Env, String, PathBuf) {
    let env = ladder();
    let key = env.home().join("release.key");
    let other = env.home().join("other.key");
    let k = env.json(&["bundle", "keygen", "--out", key.to_str().unwrap()]);
    env.json(&["bundle", "keygen", "--out", other.to_str().unwrap()]);
    let key_id = k["public_key"]["key_id"].as_str().unwrap().to_string();
    let pubfile = format!("{}.pub", key.display());
    for e in ["dev", "staging"] {
        env.json(&[
            "env",
            "policy",
            e,
            "--trust-key",
            &pubfile,
            "--require-signature",
        ]);
    }
    let file = plain_bundle(&env, "main", "main");
    (env, key_id, file)
}

fn sign(env: &Env, file: &Path, key: &str) {
    let key = env.home().join(key);
    env.json(&[
        "bundle",
        "sign",
        file.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
}

#[test]
fn missing_untrusted_and_tampered_signatures_are_refused() {
    let (env, _, file) = signing_ladder();
    let sig = PathBuf::from(format!("{}.sig", file.display()));

    // Missing signature: denied, with the command that signs.
    let m = deploy_fails(&env, &file, 4);
    assert!(
        m.contains("has no signature") && m.contains("envpack bundle sign"),
        "{m}"
    );
    assert!(!env.home().join("envs/dev/deployments/web.json").exists());
    // Signed by a key dev does not trust: denied.
    sign(&env, &file, "other.key");
    let m = deploy_fails(&env, &file, 4);
    assert!(
        m.contains("does not trust") && m.contains("--trust-key"),
        "{m}"
    );
    // A tampered signature: integrity.
    sign(&env, &file, "release.key");
    let mut s: Value = serde_json::from_slice(&fs::read(&sig).unwrap()).unwrap();
    let good = s["signature"].as_str().unwrap().to_string();
    let flipped = if good.starts_with('0') { "1" } else { "0" };
    s["signature"] = json!(format!("{flipped}{}", &good[1..]));
    fs::write(&sig, serde_json::to_vec(&s).unwrap()).unwrap();
    let m = deploy_fails(&env, &file, 6);
    assert!(m.contains("signature") && m.contains("invalid"), "{m}");
    assert!(!env.home().join("envs/dev/deployments/web.json").exists());
}

#[test]
fn a_trusted_signature_deploys_and_travels_with_the_promotion() {
    let (env, key_id, file) = signing_ladder();
    let key = env.home().join("release.key");
    // The key comes from dev's secrets pack this time.
    env.json(&[
        "secrets",
        "put",
        "--env",
        "dev",
        "RELEASE_KEY",
        "--from-file",
        key.to_str().unwrap(),
    ]);
    let signed = env.json(&[
        "--env",
        "dev",
        "bundle",
        "sign",
        file.to_str().unwrap(),
        "--key-secret",
        "RELEASE_KEY",
    ]);
    assert_eq!(signed["signature"]["key_id"], key_id.as_str());
    let e = env.fails(
        3,
        &[
            "--env",
            "dev",
            "bundle",
            "sign",
            file.to_str().unwrap(),
            "--key-secret",
            "NOPE",
        ],
    );
    assert!(
        msg(&e).contains("envpack secrets put --env dev NOPE"),
        "{e}"
    );
    let out = env.json(&["deploy", file.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(out["signed_by"], key_id.as_str());
    let id = out["bundle"].as_str().unwrap();
    let p = env.json(&["promote", id, "--to", "staging"]);
    assert_eq!(p["deploy"]["signed_by"], key_id.as_str());
    // Untrusting the key makes staging refuse it again.
    env.json(&["env", "policy", "staging", "--untrust-key", &key_id]);
    let e = env.fails(4, &["promote", id, "--to", "staging"]);
    assert!(msg(&e).contains("does not trust"), "{e}");
}

/// A bundle at `home/site` built with `--no-git`, claiming `source`/`ref`.
fn plain_bundle(env: &Env, source: &str, r: &str) -> PathBuf {
    let dir = env.home().join("site");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), "hi\n").unwrap();
    let b = build(env, &dir, source, r, &["--no-git"], 0);
    PathBuf::from(b["path"].as_str().unwrap())
}

#[test]
fn deploy_refuses_secrets_unverified_provenance_and_unmatched_tags() {
    let env = ladder();
    // A bundle whose payload holds a secret is refused at deploy (6).
    let hand = env.home().join("hand.tgz");
    hand_made(&hand, &[("config.yml", b"password: hunter2\n")]);
    let m = deploy_fails(&env, &hand, 6);
    assert!(m.contains("password-assignment"), "{m}");

    // Provenance and tag patterns are policy.
    env.json(&[
        "env",
        "policy",
        "dev",
        "--require-provenance",
        "--tag-pattern",
        "v*",
    ]);
    let nightly = plain_bundle(&env, "release-tag", "nightly");
    let m = deploy_fails(&env, &nightly, 4);
    assert!(m.contains("requires provenance read from git"), "{m}");
    assert!(m.contains("--no-require-provenance"), "{m}");
    env.json(&["env", "policy", "dev", "--no-require-provenance"]);
    let m = deploy_fails(&env, &nightly, 4);
    assert!(m.contains("matching v*") && m.contains("--any-tag"), "{m}");
}
