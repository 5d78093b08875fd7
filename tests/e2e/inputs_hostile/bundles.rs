//! Hostile bundles: names, gzip tails, sizes, streaming, failed staging.
use super::*;

#[test]
fn names_extraction_could_not_write_or_a_terminal_would_mangle_are_refused() {
    let env = Env::new(BIN);
    let ok = bundle(
        &env,
        "ok.tgz",
        &[Entry::file("payload/index.html", b"hi\n")],
    );
    env.json(&["bundle", "verify", ok.to_str().unwrap()]);

    let long = format!("payload/{}", "n".repeat(300));
    let f = bundle(&env, "long.tgz", &[Entry::file(&long, b"x")]);
    refused(&env, &f, "at most 255");
    let deep = format!("payload/{}", ["d"; 600].join("/"));
    let f = bundle(&env, "deep.tgz", &[Entry::file(&deep, b"x")]);
    refused(&env, &f, "ENVPACK_BUNDLE_MAX_PATH");
    for (file, name) in [
        ("esc.tgz", "payload/a\u{1b}]0;owned\u{7}b"),
        ("cr.tgz", "payload/a\rerror: fake"),
        ("nl.tgz", "payload/a\nb"),
    ] {
        let f = bundle(&env, file, &[Entry::file(name, b"x")]);
        let err = refused(&env, &f, "control character");
        // The refusal quotes the name escaped, never raw.
        assert!(!err.to_string().contains('\u{1b}'));
    }
    let f = bundle(
        &env,
        "bidi.tgz",
        &[Entry::file("payload/gpj.\u{202E}exe", b"x")],
    );
    refused(&env, &f, "U+202E");
    // A file where another entry needs a directory.
    let f = bundle(
        &env,
        "clash.tgz",
        &[
            Entry::file("payload/a", b"x"),
            Entry::file("payload/a/b", b"y"),
        ],
    );
    refused(&env, &f, "which is a file");
}

#[test]
fn trailing_garbage_and_truncated_gzip_are_refused() {
    let env = Env::new(BIN);
    let ok = bundle(
        &env,
        "ok.tgz",
        &[Entry::file("payload/index.html", b"hi\n")],
    );
    let bytes = fs::read(&ok).unwrap();
    let garbage = env.home().join("garbage.tgz");
    fs::write(&garbage, [&bytes[..], b"#!/bin/sh evil"].concat()).unwrap();
    refused(&env, &garbage, "trailing data after the gzip stream");
    // A second gzip member is trailing data too: a bundle is one stream.
    let twice = env.home().join("twice.tgz");
    fs::write(&twice, [&bytes[..], &bytes[..]].concat()).unwrap();
    refused(&env, &twice, "trailing data");
    // The gzip trailer (CRC32 and length, 8 bytes) cut short.
    let cut = env.home().join("cut.tgz");
    fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
    refused(&env, &cut, "truncated or corrupt");
}

#[test]
fn sizes_and_counts_are_limited_before_anything_is_inflated() {
    let env = Env::new(BIN);
    // The manifest declares 10 GiB: refused from the manifest alone.
    let mut big: Vec<Entry> = (0..10)
        .map(|i| Entry::file(&format!("payload/z{i}"), b""))
        .collect();
    for e in &mut big {
        e.listed_size = Some(1 << 30);
    }
    let path = env.home().join("big.tgz");
    write_bundle(&path, &manifest_for(&big), &big);
    refused(&env, &path, "ENVPACK_BUNDLE_MAX_BYTES");

    // An entry whose header disagrees with the manifest is refused before
    // it is read: 512 MiB of zeros where the manifest says 3 bytes.
    let mut liar = vec![Entry::zeros("payload/z", 512 << 20)];
    liar[0].listed_size = Some(3);
    let path = env.home().join("liar.tgz");
    write_bundle(&path, &manifest_for(&liar), &liar);
    let started = std::time::Instant::now();
    refused(&env, &path, "tampered");
    assert!(started.elapsed().as_secs() < 60, "refusing took too long");

    // Limits come from the environment, each named in the refusal.
    let many: Vec<Entry> = (0..5)
        .map(|i| Entry::file(&format!("payload/f{i}"), &[b'x'; 2000]))
        .collect();
    let path = bundle(&env, "many.tgz", &many);
    env.json(&["bundle", "verify", path.to_str().unwrap()]);
    for (var, value) in [
        ("ENVPACK_BUNDLE_MAX_ENTRIES", "3"),
        ("ENVPACK_BUNDLE_MAX_BYTES", "4"),
        ("ENVPACK_BUNDLE_MAX_ENTRY_BYTES", "1000"),
    ] {
        let r = env
            .cmd()
            .args(["--json", "bundle", "verify", path.to_str().unwrap()])
            .env(var, value)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&r.stdout);
        assert_eq!(r.status.code(), Some(6), "{var}={value}: {out}");
        assert!(out.contains(var), "{var}={value}: {out}");
    }
    let r = env
        .cmd()
        .args(["--json", "bundle", "verify", path.to_str().unwrap()])
        .env("ENVPACK_BUNDLE_MAX_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(2),
        "a bad limit is refused, not ignored"
    );
}

#[test]
fn verify_streams_entries_without_holding_them() {
    let env = Env::new(BIN);
    let path = bundle(
        &env,
        "zeros.tgz",
        &[Entry::zeros("payload/zeros", 512 << 20)],
    );
    // 256 MiB of address space: holding the 512 MiB entry cannot fit.
    let r = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 262144 && exec \"$0\" --json bundle verify '{}'",
            path.display()
        ))
        .arg(BIN)
        .env("ENVPACK_HOME", env.home())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(out.contains("\"ok\":true"), "{out}");
}

/// The audit log of the local environment holds one deploy, `started`
/// then `failed`.
fn assert_started_then_failed(env: &Env) {
    let audit = env.json(&["audit"]);
    let results: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verb"] == "deploy")
        .map(|a| a["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results.len(), 2, "{audit}");
    assert_eq!(results[0], "started");
    assert!(results[1].starts_with("failed"), "{results:?}");
}

/// The revisions of the only deployment in the local environment.
fn revisions(env: &Env) -> Vec<Value> {
    let list = env.json(&["revisions", "list"]);
    list[0]["revisions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_deploy_that_cannot_extract_ends_failed_audited_and_clean() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    // Verify passes with a path limit raised past what the filesystem can
    // create (PATH_MAX is 4096 bytes); extraction then fails.
    let deep = format!("payload/{}", vec!["d".repeat(200); 25].join("/"));
    let entries = [Entry::file(&deep, b"x"), Entry::file("payload/a", b"a")];
    let mut manifest = manifest_for(&entries);
    manifest["attributes"] = json!({"run": "./a {port}", "health": "/"});
    let path = env.home().join("deep.tgz");
    write_bundle(&path, &manifest, &entries);
    let run = |args: &[&str]| {
        let r = env
            .cmd()
            .arg("--json")
            .args(args)
            .env("ENVPACK_BUNDLE_MAX_PATH", "8000")
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&r.stdout).unwrap();
        (r.status.code(), v)
    };
    let (code, v) = run(&["bundle", "verify", path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v}");
    let (code, v) = run(&["deploy", path.to_str().unwrap()]);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"]["kind"], "invalid-input", "{v}");
    assert_eq!(code, Some(2));
    assert!(
        v["error"]["message"].as_str().unwrap().contains("too long"),
        "{v}"
    );

    let revs = revisions(&env);
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0]["state"], "failed", "{revs:?}");
    let id = revs[0]["id"].as_str().unwrap();
    assert_started_then_failed(&env);
    let payload = env
        .home()
        .join(format!("envs/local/revisions/{id}/payload"));
    assert!(
        !payload.exists(),
        "the partial payload stays at {}",
        payload.display()
    );
}

/// `deploy` reads its bundle once: a file that changes after it was
/// verified (here a FIFO that serves a second, different bundle to a second
/// reader) cannot get other bytes stored under the verified id.
#[cfg(target_os = "linux")]
#[test]
fn deploy_stores_exactly_the_bytes_it_verified() {
    use std::os::unix::fs::OpenOptionsExt;
    const O_NONBLOCK: i32 = 0o4000;
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    let make = |body: &[u8], file: &str| {
        let entries = [Entry::file("payload/index.html", body)];
        let mut m = manifest_for(&entries);
        m["attributes"] = json!({"run": "./index.html {port}"});
        let path = env.home().join(file);
        write_bundle(&path, &m, &entries);
        fs::read(&path).unwrap()
    };
    let good = make(b"good", "good.tgz");
    let evil = make(b"evil", "evil.tgz");
    let good_id = env.json(&[
        "bundle",
        "verify",
        env.home().join("good.tgz").to_str().unwrap(),
    ])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fifo = env.home().join("bundle.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            f.write_all(&good).unwrap();
            drop(f);
            // Serve the other bundle to anyone who opens the path again,
            // once the first reader has closed it (an open without a reader
            // fails; one while it still reads adds nothing).
            let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
            let mut reader_closed = false;
            while std::time::Instant::now() < until {
                let again = fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(O_NONBLOCK)
                    .open(&fifo);
                match again {
                    Ok(mut f) if reader_closed => {
                        let _ = f.write_all(&evil);
                        return true;
                    }
                    Ok(_) => {}
                    Err(_) => reader_closed = true,
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            false
        })
    };
    let deployed = env
        .cmd()
        .args(["--json", "deploy", fifo.to_str().unwrap()])
        .env("ENVPACK_WARM_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    let deployed = String::from_utf8_lossy(&deployed.stdout).to_string();
    let reread = writer.join().unwrap();
    let hex = good_id.trim_start_matches("sha256:");
    let stored = fs::read(env.home().join(format!("envs/local/bundles/{hex}.tgz")))
        .unwrap_or_else(|e| panic!("no stored bundle ({e}); deploy said {deployed}"));
    assert!(
        stored == fs::read(env.home().join("good.tgz")).unwrap(),
        "other bytes were stored under the verified id"
    );
    assert!(!reread, "deploy read the bundle path twice");
}

/// `deploy` holds the bundle file in memory to store it, but never one
/// larger than the limits allow: a 512 MiB file is refused under a
/// 256 MiB address-space limit, with the limit named.
#[test]
fn deploy_refuses_a_bundle_file_larger_than_the_limits_allow() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    let path = env.home().join("huge.tgz");
    fs::File::create(&path).unwrap().set_len(512 << 20).unwrap();
    let r = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 262144 && exec \"$0\" --json deploy '{}'",
            path.display()
        ))
        .arg(BIN)
        .env("ENVPACK_HOME", env.home())
        .env("ENVPACK_BUNDLE_MAX_BYTES", "1000000")
        .env("ENVPACK_BUNDLE_MAX_ENTRIES", "100")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        r.status.code(),
        Some(6),
        "{out}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(out.contains("larger than"), "{out}");
    assert!(out.contains("ENVPACK_BUNDLE_MAX_BYTES"), "{out}");
}

/// A deploy that fails after its `started` audit, before any payload (the
/// bundle cannot be stored), still ends with the revision `failed` and a
/// `failed` audit entry.
#[test]
fn a_deploy_that_cannot_store_its_bundle_ends_failed_and_audited() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    fs::write(env.home().join("envs/local/bundles"), b"not a directory").unwrap();
    let entries = [Entry::file("payload/index.html", b"hi")];
    let mut m = manifest_for(&entries);
    m["attributes"] = json!({"run": "./index.html {port}"});
    let path = env.home().join("web.tgz");
    write_bundle(&path, &m, &entries);
    let r = env.run(&["--json", "deploy", path.to_str().unwrap()]);
    let v = r.envelope();
    assert_ne!(r.code, 0, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("failed"),
        "{v}"
    );
    let revs = revisions(&env);
    assert_eq!(revs.len(), 1, "{revs:?}");
    assert_eq!(revs[0]["state"], "failed");
    assert!(
        revs[0]["reason"]
            .as_str()
            .unwrap()
            .contains("staging failed")
    );
    assert_started_then_failed(&env);
}
