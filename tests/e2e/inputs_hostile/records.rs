//! Hostile arguments and concurrent or half-failed record writes.
use super::*;

/// Runs with raw OS-string arguments (`--json` first).
fn run_os(env: &Env, args: &[&std::ffi::OsStr]) -> (Option<i32>, Value, String) {
    let r = env.cmd().arg("--json").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout).to_string();
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no envelope ({e}) for {args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&r.stderr)
        )
    });
    (
        r.status.code(),
        v,
        String::from_utf8_lossy(&r.stderr).into(),
    )
}

#[cfg(unix)]
#[test]
fn non_utf8_arguments_never_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new(BIN);
    let bad = OsStr::from_bytes(b"caf\xe9");
    let os = |s: &'static str| OsStr::new(s);
    // Where a name is expected: a typed refusal in the envelope.
    for args in [
        vec![os("env"), os("show"), bad],
        vec![os("env"), os("init"), bad],
        vec![os("secrets"), os("get"), bad],
        vec![os("--env"), bad, os("status")],
        vec![bad],
    ] {
        let (code, v, stderr) = run_os(&env, &args);
        assert_eq!(code, Some(2), "{args:?}: {v} {stderr}");
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["kind"], "invalid-input", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("UTF-8"),
            "{v}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Where a path is expected, any bytes are a path.
    let file = env.home().join(OsStr::from_bytes(b"b\xe9.tgz"));
    let (code, v, _) = run_os(&env, &[os("bundle"), os("verify"), file.as_os_str()]);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (Some(3), Some("not-found")),
        "{v}"
    );
    let ok = bundle(
        &env,
        "ok.tgz",
        &[Entry::file("payload/index.html", b"hi\n")],
    );
    fs::copy(&ok, &file).unwrap();
    let (code, v, _) = run_os(&env, &[os("bundle"), os("verify"), file.as_os_str()]);
    assert_eq!(code, Some(0), "{v}");
    let home = env.home().join(OsStr::from_bytes(b"h\xe9me"));
    let (code, v, _) = run_os(
        &env,
        &[os("--home"), home.as_os_str(), os("env"), os("init")],
    );
    assert_eq!(code, Some(0), "{v}");
    assert!(home.join("envs/local/env.json").is_file());
    // A non-UTF-8 environment variable behind an option is named.
    let r = env
        .cmd()
        .env("ENVPACK_ENV", bad)
        .args(["--json", "env", "show"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(r.status.code(), Some(2), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ENVPACK_ENV"),
        "{v}"
    );
    assert_eq!(v["error"]["hint"], "unset ENVPACK_ENV");
    // Without --json the refusal is a plain error line, not a panic.
    let r = env
        .cmd()
        .args([os("env"), os("show"), bad])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).starts_with("error: "));
}

#[test]
fn a_traffic_change_made_is_reported_made_when_history_cannot_be_written() {
    let (env, a, b) = recorder_env();
    // A history file that cannot be opened for append (root ignores file
    // modes, so it is a directory).
    let history = env.home().join("envs/dev/history.jsonl");
    fs::remove_file(&history).unwrap();
    fs::create_dir(&history).unwrap();
    let split = format!("{a}=50%");
    let other = format!("{b}=50%");
    let r = env.run(&[
        "--json", "--env", "dev", "traffic", "set", "web", &split, &other,
    ]);
    let v = r.envelope();
    assert_eq!(r.code, 0, "{v}");
    assert_eq!(v["result"]["outcome"], "applied");
    assert_eq!(v["result"]["generation"], 2);
    let warning = v["result"]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("the change was made"), "{warning}");
    assert!(warning.contains("history"), "{warning}");
    // The record and the audit log agree that it was made.
    let shown = env.json(&["--env", "dev", "traffic", "show"]);
    assert_eq!(shown["generation"], 2);
    assert_eq!(shown["weights"].as_array().unwrap().len(), 2);
    let audit = env.json(&["--env", "dev", "audit"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["verb"] == "traffic.set" && e["result"] == "ok"),
        "{audit}"
    );
    // Without --json the warning is printed after the outcome.
    let split = format!("{a}=100%");
    let out = env.ok(&["--env", "dev", "traffic", "set", "web", &split]);
    assert!(out.contains("applied web generation 3"), "{out}");
    assert!(out.contains("warning: the change was made"), "{out}");
}

#[test]
fn concurrent_init_of_a_new_name_creates_it_once() {
    let env = Env::new(BIN);
    // Defaults installed and compiled once, so the race is about the name.
    env.json(&["env", "init", "warm"]);
    // Eight different policies (none equal to another), so a second
    // "created" or a quietly kept policy cannot pass for a repeat.
    let policies: Vec<Vec<&str>> = vec![
        vec!["--allow-source", "main"],
        vec!["--allow-source", "release-tag"],
        vec!["--allow-source", "feature-branch"],
        vec!["--allow-source", "main", "--allow-source", "release-tag"],
        vec!["--allow-source", "main", "--allow-source", "feature-branch"],
        vec![
            "--production",
            "--allow-dev-secrets",
            "--allow-source",
            "main",
        ],
        vec![
            "--production",
            "--allow-dev-secrets",
            "--allow-source",
            "feature-branch",
        ],
        vec![
            "--production",
            "--allow-dev-secrets",
            "--allow-source",
            "main",
            "--allow-source",
            "feature-branch",
        ],
    ];
    let children: Vec<_> = policies
        .iter()
        .map(|p| {
            env.cmd()
                .args(["--json", "env", "init", "race"])
                .args(p)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        match out.status.code() {
            Some(0) => {
                assert_eq!(v["result"]["outcome"], "created", "{v}");
                created.push((i, v["result"]["env"]["meta"]["policy"].clone()));
            }
            Some(5) => {
                // Racing the creation: "created by another operator at the
                // same time"; arriving after it: "exists with a different
                // policy". Either way a conflict naming the environment.
                assert_eq!(v["error"]["kind"], "conflict", "{v}");
                let hint = v["error"]["hint"].as_str().unwrap();
                assert!(
                    hint.starts_with("envpack env ") && hint.contains("race"),
                    "{v}"
                );
            }
            other => panic!("init {i} exited {other:?}: {v}"),
        }
    }
    assert_eq!(
        created.len(),
        1,
        "exactly one operator creates it: {created:?}"
    );
    // The winner's policy is the one kept.
    let shown = env.json(&["env", "show", "race"]);
    assert_eq!(shown["meta"]["policy"], created[0].1);
}
