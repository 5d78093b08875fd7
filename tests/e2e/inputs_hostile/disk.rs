//! A full disk, a read-only home, torn records and killed writers' leftovers.
use super::*;

/// A mount made for a test, unmounted when it ends. `None` (with the reason
/// printed) where this machine does not let tests mount.
struct Mount(PathBuf);

impl Mount {
    fn new(args: &[&str], at: &Path) -> Option<Self> {
        fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(args)
            .arg(at)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self(at.to_path_buf())),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount ({}); run as root to test this",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: no mount command ({e})");
                None
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the filesystem holding `dir` until a write fails.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let block = vec![7u8; 4096];
    while f.write_all(&block).and_then(|()| f.sync_all()).is_ok() {}
    filler
}

fn temps(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect()
}

#[test]
fn a_full_disk_is_a_typed_error_and_leaves_nothing_half_made() {
    let env = Env::new(BIN);
    // Packs and the store stay on the real disk; environments go on a
    // 256 KiB filesystem.
    env.json(&["env", "init", "warm"]);
    let envs = env.home().join("envs");
    let Some(_m) = Mount::new(&["-t", "tmpfs", "-o", "size=256k", "tmpfs"], &envs) else {
        return;
    };
    env.json(&["env", "init", "dev"]);
    env.json(&["--env", "dev", "state", "put", "k", "v"]);
    let filler = fill(&envs);
    // Inside the sandbox a full disk is a bare I/O error ("os error 29");
    // the operator is told the disk is full.
    for args in [
        ["--env", "dev", "state", "put", "k", "w"],
        ["--env", "dev", "secrets", "put", "s", "x"],
    ] {
        let err = env.fails(9, &args);
        assert!(
            err["message"].as_str().unwrap().contains("is full"),
            "{args:?}: {err}"
        );
        assert!(err["hint"].as_str().unwrap().contains("df -h"), "{err}");
    }
    let err = env.fails(
        9,
        &[
            "env",
            "config",
            "dev",
            "greentic.telemetry.stdout",
            "level",
            "warn",
        ],
    );
    assert_eq!(err["kind"], "unavailable", "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("the disk is full"), "{msg}");
    assert!(err["hint"].as_str().unwrap().contains("df -h"), "{err}");
    assert!(
        temps(&envs.join("dev")).is_empty(),
        "temp files left behind"
    );
    // env init on a full disk: a typed refusal and no half environment.
    let err = env.fails(9, &["env", "init", "other"]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the disk is full"),
        "{err}"
    );
    assert!(
        !envs.join("other").exists(),
        "a partial environment was left"
    );
    // With space again, both work and the first environment is intact.
    fs::remove_file(filler).unwrap();
    env.json(&["env", "init", "other"]);
    env.json(&[
        "env",
        "config",
        "dev",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    assert_eq!(env.json(&["env", "doctor", "dev"])["healthy"], true);
    let kept = env.json(&["--env", "dev", "state", "get", "k"]);
    assert_eq!(kept["value"], "v", "the failed write changed nothing");
}

#[test]
fn a_read_only_home_still_reads_state_and_secrets() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    env.json(&["state", "put", "k", "v"]);
    env.json(&["secrets", "put", "token", "s3cret"]);
    let ro = env.home().with_extension("ro");
    let Some(_bind) = Mount::new(&["--bind", env.home().to_str().unwrap()], &ro) else {
        return;
    };
    let remounted = std::process::Command::new("mount")
        .args(["-o", "remount,ro,bind"])
        .arg(&ro)
        .status()
        .unwrap();
    if !remounted.success() {
        eprintln!("SKIPPED: cannot remount {} read-only", ro.display());
        return;
    }
    let read = |args: &[&str]| {
        let r = env
            .cmd()
            .env("ENVPACK_HOME", &ro)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&r.stdout)));
        assert_eq!(
            r.status.code(),
            Some(0),
            "{args:?} on a read-only home: {v}"
        );
        v["result"].clone()
    };
    assert_eq!(read(&["state", "get", "k"])["value"], "v");
    assert_eq!(read(&["secrets", "get", "token"])["value"], "s3cret");
    assert_eq!(read(&["state", "list"])[0], "k");
    assert_eq!(read(&["secrets", "list"])[0], "token");
    read(&["env", "show"]);
    // A write says why it cannot, with a typed error.
    let r = env
        .cmd()
        .env("ENVPACK_HOME", &ro)
        .args(["--json", "state", "put", "k", "w"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_ne!(v["error"]["kind"], "internal", "{v}");
}

#[test]
fn doctor_reports_a_torn_deployment_record_and_how_to_restore_it() {
    let (env, _a, _b) = recorder_env();
    let record = env.home().join("envs/dev/deployments/web.json");
    let bytes = fs::read(&record).unwrap();
    fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();
    let r = env.run(&["--json", "env", "doctor", "dev"]);
    let v = r.envelope();
    assert_eq!(r.code, 10, "a torn record is not healthy: {v}");
    let findings = v["error"]["details"]["findings"].as_array().unwrap();
    let torn = findings
        .iter()
        .find(|f| f["check"] == "records")
        .unwrap_or_else(|| panic!("no records finding: {v}"));
    assert!(
        torn["message"]
            .as_str()
            .unwrap()
            .contains("deployments/web.json"),
        "{torn}"
    );
    // The fix runs as printed and restores the previous version.
    let fix = torn["fix"].as_str().unwrap();
    assert!(fix.starts_with("cp "), "{fix}");
    let ran = std::process::Command::new("sh")
        .arg("-c")
        .arg(fix)
        .status()
        .unwrap();
    assert!(ran.success());
    let r = env.run(&["--json", "env", "doctor", "dev"]);
    assert!(
        !r.stdout.contains("\"check\":\"records\""),
        "still damaged after the fix: {}",
        r.stdout
    );
}

#[test]
fn temp_files_of_killed_writes_are_cleaned_by_the_next_write() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    let dir = env.home().join("envs/dev");
    // A writer that died (no such pid), and one still writing (this test).
    let dead = dir.join(".tmp-2147483646-AbCdEf");
    let live = dir.join(format!(".tmp-{}-GhIjKl", std::process::id()));
    fs::write(&dead, b"half a record").unwrap();
    fs::write(&live, b"being written").unwrap();
    env.json(&[
        "env",
        "config",
        "dev",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    assert!(!dead.exists(), "the dead writer's temp file is still there");
    assert!(live.exists(), "a live writer's temp file was removed");
}
