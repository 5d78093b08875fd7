//! Secret scanning: one case per rule at build, the same cases in hand-made
//! bundles refused at verify, and an allowlisted false positive.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use envpack_e2e::Env;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::{BIN, build, msg};

/// One case per rule: (file, content, rule).
const SECRETS: &[(&str, &str, &str)] = &[
    (".env", "A=1", "dotenv-file"),
    ("keys/id_ed25519", "x", "ssh-private-key-file"),
    (".npmrc", "x", "credentials-file"),
    ("tls.pem", "-----BEGIN EC PRIVATE KEY-----", "private-key"),
    (
        "conf/aws.ini",
        "key = AKIAIOSFODNN7ABCDEFG",
        "aws-access-key-id",
    ),
    (
        "conf/aws2.ini",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
        "aws-secret-access-key",
    ),
    ("db.yml", "password: hunter2", "password-assignment"),
    ("db.conf", "passwd=s3cr3t!", "password-assignment"),
    (
        "auth.txt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "jwt",
    ),
    (
        "gh.txt",
        "GH=ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "github-token",
    ),
    ("gl.txt", "glpat-ABCDEFGHIJ0123456789", "gitlab-token"),
    ("slack.txt", "xoxp-1234567890-ABCDEFGHIJ", "slack-token"),
    (
        "maps.js",
        "const k = 'AIzaSyD-ABCDEFGHIJKLMNOPQRSTUVWXYZ01234';",
        "google-api-key",
    ),
    (
        "app.env.toml",
        "url = \"postgres://app:hunter2@db:5432/app\"",
        "connection-string-password",
    ),
    (
        "cfg.json",
        "{\"api_token\": \"q8Zr2LmX9vPf4Tn7Wc1Yb6Hd3Kj5Gs0Ae\"}",
        "high-entropy-assignment",
    ),
];

#[test]
fn secrets_are_refused_at_build_and_at_verify() {
    let env = Env::new(BIN);
    for (i, (file, content, rule)) in SECRETS.iter().enumerate() {
        let dir = env.home().join(format!("s{i}"));
        fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        fs::write(dir.join("index.html"), "ok\n").unwrap();
        fs::write(dir.join(file), format!("# config\n{content}\n")).unwrap();
        let e = build(&env, &dir, "main", "main", &["--no-git"], 4);
        let m = msg(&e);
        assert!(m.contains(file) && m.contains(rule), "{rule}: {e}");
        let line_rule = file.starts_with('.') || file.contains("id_");
        if !line_rule {
            assert!(m.contains(&format!("{file}:2: {rule}")), "{rule}: {e}");
        }
        assert!(m.contains(".envpack-allow-secrets"), "{e}");
    }
    // A false positive, allowlisted in the payload, builds and verifies.
    let dir = env.home().join("allowed");
    fs::create_dir_all(dir.join("docs")).unwrap();
    fs::write(
        dir.join("docs/example.md"),
        "Example: key = AKIAIOSFODNN7EXAMPLE\n",
    )
    .unwrap();
    fs::write(
        dir.join(".envpack-allow-secrets"),
        "# AWS's documented example key\ndocs/example.md:1 aws-access-key-id\n",
    )
    .unwrap();
    let b = build(&env, &dir, "main", "main", &["--no-git"], 0);
    env.json(&["bundle", "verify", b["path"].as_str().unwrap()]);
    // The allowlist names line and rule: a second secret is still refused.
    fs::write(
        dir.join("docs/example.md"),
        "Example: key = AKIAIOSFODNN7EXAMPLE\npassword = hunter2\n",
    )
    .unwrap();
    let e = build(&env, &dir, "main", "main", &["--no-git"], 4);
    assert!(
        msg(&e).contains("docs/example.md:2: password-assignment"),
        "{e}"
    );

    // A hand-made bundle that skipped the scan is refused at verify.
    for (i, (file, content, rule)) in SECRETS.iter().enumerate() {
        let path = env.home().join(format!("hand{i}.tgz"));
        hand_made(&path, &[(file, format!("x\n{content}\n").as_bytes())]);
        let e = env.fails(6, &["bundle", "verify", path.to_str().unwrap()]);
        assert!(msg(&e).contains(rule), "{rule}: {e}");
    }
}

/// A gzip tar bundle of `files`, with an honest manifest: what a builder
/// that skips the secret scan would make.
pub(super) fn hand_made(path: &Path, files: &[(&str, &[u8])]) {
    let listed: Vec<Value> = files
        .iter()
        .map(|(p, b)| json!({"path": p, "sha256": hex::encode(Sha256::digest(b)), "size": b.len()}))
        .collect();
    let manifest = json!({
        "contract": "release_bundle_v1", "name": "web", "version": "1.0.0",
        "source": {"kind": "main", "ref": "main"}, "files": listed,
    });
    let gz = flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), Default::default());
    let mut tar = tar::Builder::new(gz);
    let m = serde_json::to_vec(&manifest).unwrap();
    let mut put = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, name, data).unwrap();
    };
    put("bundle_manifest.json", &m);
    for (p, b) in files {
        put(&format!("payload/{p}"), b);
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}
