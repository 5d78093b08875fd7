//! Issue 4 (first part): immutable release bundles are built, verified, and
//! refused with the reason when unsafe or tampered with.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::io::Read;
use std::path::Path;

use envpack_e2e::Env;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

fn payload(dir: &Path) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::write(dir.join("bin/server"), "#!/bin/sh\necho hi\n").unwrap();
    fs::write(dir.join("index.html"), "hello\n").unwrap();
}

/// Rewrites a bundle entry by entry; `edit` may change or drop each one,
/// `extra` adds raw entries at the end.
fn rewrite(
    src: &Path,
    dst: &Path,
    edit: impl Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>,
    extra: Vec<tar::Header>,
) {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(src).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    let mut archive = tar::Archive::new(&bytes[..]);
    let gz =
        flate2::write::GzEncoder::new(fs::File::create(dst).unwrap(), flate2::Compression::fast());
    let mut out = tar::Builder::new(gz);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if let Some((name, data)) = edit(&name, data) {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Write the raw name so '..' survives into the archive.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            out.append(&h, &data[..]).unwrap();
        }
    }
    for h in extra {
        out.append(&h, &[][..]).unwrap();
    }
    out.into_inner().unwrap().finish().unwrap();
}

#[test]
fn bundles_build_verify_and_refuse_what_is_unsafe() {
    let env = Env::new(BIN);
    let dir = env.home().join("dist");
    payload(&dir);
    let report = env.home().join("test-report.xml");
    fs::write(&report, "<ok/>").unwrap();
    let out = env.home().join("web.tgz");
    let built = env.json(&[
        "bundle",
        "build",
        "--no-git",
        dir.to_str().unwrap(),
        "--name",
        "web",
        "--version",
        "1.4.0",
        "--source",
        "release-tag",
        "--ref",
        "v1.4.0",
        "--commit",
        "3f2a9c1",
        "--evidence",
        report.to_str().unwrap(),
        "--attr",
        "run=bin/server --port {port}",
        "--out",
        out.to_str().unwrap(),
    ]);
    let id = built["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:"));
    let m = &built["manifest"];
    assert_eq!(m["contract"], "release_bundle_v1");
    assert_eq!(m["source"]["kind"], "release-tag");
    assert_eq!(m["source"]["commit"], "3f2a9c1");
    assert_eq!(m["files"].as_array().unwrap().len(), 2);
    assert_eq!(m["files"][0]["path"], "bin/server");
    assert_eq!(m["required_evidence"][0], "test-report.xml");

    let verified = env.json(&["bundle", "verify", out.to_str().unwrap()]);
    assert_eq!(verified["id"], id, "the id is a function of the manifest");

    let check = |name: &str, file: &Path, needle: &str| {
        let err = env.fails(6, &["bundle", "verify", file.to_str().unwrap()]);
        assert_eq!(err["kind"], "integrity", "{name}");
        assert!(
            err["message"].as_str().unwrap().contains(needle),
            "{name}: {err}"
        );
    };
    let t = env.home().join("tampered.tgz");
    rewrite(
        &out,
        &t,
        |n, d| {
            Some((
                n.into(),
                if n == "payload/index.html" {
                    b"evil\n".to_vec()
                } else {
                    d
                },
            ))
        },
        vec![],
    );
    check("tampered", &t, "tampered");
    let t = env.home().join("dotdot.tgz");
    rewrite(
        &out,
        &t,
        |n, d| {
            Some((
                if n == "payload/index.html" {
                    "payload/../../x".into()
                } else {
                    n.into()
                },
                d,
            ))
        },
        vec![],
    );
    check("dotdot", &t, "'..'");
    let t = env.home().join("link.tgz");
    let mut link = tar::Header::new_gnu();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_path("payload/evil").unwrap();
    link.set_link_name("../../../etc/passwd").unwrap();
    link.set_size(0);
    link.set_cksum();
    rewrite(&out, &t, |n, d| Some((n.into(), d)), vec![link]);
    check("link", &t, "links could escape");
    let t = env.home().join("noev.tgz");
    rewrite(
        &out,
        &t,
        |n, d| (!n.starts_with("evidence/")).then(|| (n.into(), d)),
        vec![],
    );
    check(
        "missing evidence",
        &t,
        "required evidence \"test-report.xml\" is missing",
    );
    let t = env.home().join("dup.tgz");
    rewrite(
        &out,
        &t,
        |n, d| {
            Some((
                if n == "payload/index.html" {
                    "payload/bin/server".into()
                } else {
                    n.into()
                },
                d,
            ))
        },
        vec![],
    );
    check("duplicate", &t, "twice");
    let t = env.home().join("extra.tgz");
    rewrite(
        &out,
        &t,
        |n, d| {
            Some((
                if n == "payload/index.html" {
                    "payload/other.html".into()
                } else {
                    n.into()
                },
                d,
            ))
        },
        vec![],
    );
    check("unlisted", &t, "missing");
    fs::write(env.home().join("junk.tgz"), b"not a bundle").unwrap();
    check("junk", &env.home().join("junk.tgz"), "invalid");

    // Secrets are refused at build, naming the file and the reason.
    for (file, content, reason) in [
        (".env", "DB_PASSWORD=x", "dotenv"),
        ("keys/id_rsa", "x", "SSH private key"),
        ("tls.pem", "-----BEGIN PRIVATE KEY-----", "PEM private key"),
        (
            "config.yml",
            "token: ghp_0123456789abcdefghijABCDEFGHIJklmnop",
            "access token",
        ),
    ] {
        let d = env
            .home()
            .join(format!("secret-{}", file.replace('/', "_")));
        payload(&d);
        fs::create_dir_all(d.join(file).parent().unwrap()).unwrap();
        fs::write(d.join(file), content).unwrap();
        let err = env.fails(
            4,
            &[
                "bundle",
                "build",
                "--no-git",
                d.to_str().unwrap(),
                "--name",
                "web",
                "--version",
                "1.0.0",
                "--source",
                "main",
                "--ref",
                "main",
                "--out",
                env.home().join("s.tgz").to_str().unwrap(),
            ],
        );
        let msg = err["message"].as_str().unwrap();
        assert!(msg.contains(file) && msg.contains(reason), "{file}: {msg}");
        assert!(
            err["hint"].as_str().unwrap().contains("--allow-secret"),
            "{err}"
        );
        assert!(
            !env.home().join("s.tgz").exists(),
            "nothing written on refusal"
        );
    }
    // ...unless explicitly allowed.
    let d = env.home().join("secret-.env");
    env.json(&[
        "bundle",
        "build",
        "--no-git",
        d.to_str().unwrap(),
        "--name",
        "web",
        "--version",
        "1.0.0",
        "--source",
        "main",
        "--ref",
        "main",
        "--allow-secret",
        ".env",
        "--out",
        env.home().join("s.tgz").to_str().unwrap(),
    ]);

    // Links in the payload directory are refused at build.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", dir.join("pw")).unwrap();
        let err = env.fails(
            2,
            &[
                "bundle",
                "build",
                "--no-git",
                dir.to_str().unwrap(),
                "--name",
                "web",
                "--version",
                "1.0.0",
                "--source",
                "main",
                "--ref",
                "main",
                "--out",
                env.home().join("l.tgz").to_str().unwrap(),
            ],
        );
        assert!(
            err["message"].as_str().unwrap().contains("symbolic link"),
            "{err}"
        );
    }
    env.fails(
        2,
        &[
            "bundle",
            "build",
            "--no-git",
            dir.to_str().unwrap(),
            "--name",
            "Web",
            "--version",
            "1",
            "--source",
            "main",
            "--ref",
            "main",
        ],
    );
}
