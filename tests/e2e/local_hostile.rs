//! Issue 15, the local runtime: a hostile payload cannot outlive its
//! revision (daemons in new sessions, scrubbed environments, deploys killed
//! halfway), cannot run after being edited, and cannot set the host's or an
//! interpreter's variables; doctor and observe report what should not be
//! there.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use envpack_e2e::Env;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// Stops every revision when the test ends, even on failure.
struct Down<'a>(&'a Env);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["env", "down", "local"]);
    }
}

/// Kills a process the test started itself, even on failure.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The environment with the built-in local-process deployer, quiet.
fn local_env() -> Env {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    env.json(&[
        "env",
        "config",
        "local",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    env
}

/// A bundle whose payload is `run.sh` (the given body after a shebang)
/// and an `index.html`; `attrs` are extra `--attr` values.
fn bundle(env: &Env, version: &str, script: &str, attrs: &[&str]) -> PathBuf {
    let dir = env.home().join(format!("site-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), version).unwrap();
    let run = dir.join("run.sh");
    std::fs::write(&run, format!("#!/bin/sh\n{script}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = env.home().join(format!("site-{version}.tgz"));
    let mut args = vec![
        "bundle",
        "build",
        "--no-git",
        dir.to_str().unwrap(),
        "--name",
        "site",
        "--version",
        version,
        "--source",
        "main",
        "--ref",
        "main",
        "--attr",
        "run=./run.sh {port}",
        "--attr",
        "health=/index.html",
        "--out",
        out.to_str().unwrap(),
    ];
    for a in attrs {
        args.extend(["--attr", a]);
    }
    env.json(&args);
    out
}

/// Serves the payload on the port in `$1`.
const SERVE: &str = "exec python3 -m http.server \"$1\" --bind 127.0.0.1";

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pid a payload wrote into its revision directory as `name`.
fn pid_in(env: &Env, rev: &str, name: &str) -> u32 {
    let path = env
        .home()
        .join(format!("envs/local/revisions/{rev}/{name}"));
    wait_for(&format!("{}", path.display()), || {
        std::fs::read_to_string(&path).is_ok_and(|s| s.trim().parse::<u32>().is_ok())
    });
    std::fs::read_to_string(&path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s.rsplit_once(") ")?.1.chars().next()? != 'Z'))
        .unwrap_or(false)
}

fn deploy(env: &Env, b: &Path) -> String {
    let out = env.json(&["deploy", b.to_str().unwrap()]);
    assert_eq!(out["revision"]["state"], "ready", "{out}");
    out["revision"]["id"].as_str().unwrap().to_string()
}

fn findings(doctor: &Value) -> String {
    doctor["details"]["findings"].to_string()
}

/// Item 1: a daemon in a new session, and one that also clears its
/// environment, are part of their revision and die with it.
#[test]
fn daemons_in_new_sessions_die_with_their_revision() {
    let env = local_env();
    let _down = Down(&env);
    let script = format!(
        "setsid sh -c 'echo $$ > ../daemon.pid; exec sleep 300' &\n\
         env -i setsid sh -c 'echo $$ > ../scrubbed.pid; exec sleep 300' &\n\
         {SERVE}"
    );
    let rev = deploy(&env, &bundle(&env, "1.0.0", &script, &[]));
    let (daemon, scrubbed) = (
        pid_in(&env, &rev, "daemon.pid"),
        pid_in(&env, &rev, "scrubbed.pid"),
    );
    assert!(alive(daemon) && alive(scrubbed));
    env.json(&["env", "doctor", "local"]);

    env.json(&["env", "down", "local"]);
    assert!(!alive(daemon), "the setsid daemon outlived env down");
    assert!(
        !alive(scrubbed),
        "the env -i setsid daemon outlived env down"
    );
    let doctor = env.json(&["env", "doctor", "local"]);
    assert!(!doctor.to_string().contains("\"processes\""), "{doctor}");

    // A revision whose program exits takes its daemons with it, and its
    // exit status is kept.
    let script = "setsid sh -c 'echo $$ > ../daemon.pid; exec sleep 300' &\n\
                  sleep 0.3; echo 'boom' >&2; exit 3";
    let b = bundle(&env, "2.0.0", script, &[]);
    let out = env
        .cmd()
        .args(["--json", "deploy", b.to_str().unwrap()])
        .env("ENVPACK_WARM_TIMEOUT_MS", "5000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("exited with status 3"), "{text}");
    let revs = env.json(&["revisions", "list", "--deployment", "site"]);
    let failed = revs[0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == "2.0.0")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let daemon = pid_in(&env, &failed, "daemon.pid");
    wait_for("the failed revision's daemon to die", || !alive(daemon));
}

/// Item 4: the process of a deploy killed before it finished is reported
/// by observe and doctor and stopped by env down; a process carrying a
/// revision's marker that no record accounts for is swept too.
#[test]
fn processes_left_by_a_killed_deploy_are_found_and_stopped() {
    let env = local_env();
    let _down = Down(&env);
    // Never healthy: the deploy waits in warm-up until it is killed.
    let b = bundle(&env, "1.0.0", "echo $$ > ../started\nexec sleep 300", &[]);
    let deploy = env
        .cmd()
        .args(["deploy", b.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut deploy = Kill(deploy);
    let revisions = env.home().join("envs/local/revisions");
    let mut rev = String::new();
    wait_for("the revision process to start", || {
        let found = std::fs::read_dir(&revisions)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.path().join("started").is_file());
        if let Some(e) = found {
            rev = e.file_name().to_string_lossy().into_owned();
        }
        !rev.is_empty()
    });
    let started = pid_in(&env, &rev, "started");
    deploy.0.kill().unwrap();
    let _ = deploy.0.wait();
    assert!(
        alive(started),
        "the revision process outlives the killed deploy"
    );
    let revs = env.json(&["revisions", "list", "--deployment", "site"]);
    let state = revs[0]["revisions"][0]["state"].clone();
    assert!(state == "warming" || state == "staged", "{revs}");

    // A process with a revision's marker that nothing recorded.
    let ghost_rev = "rdeadbeef0";
    let marker = revisions.join(ghost_rev);
    let ghost = std::process::Command::new("sleep")
        .arg("300")
        .env("ENVPACK_REVISION_DIR", &marker)
        .spawn()
        .unwrap();
    let mut ghost = Kill(ghost);
    let ghost_pid = ghost.0.id();

    let observed = env.run(&["--json", "drift", "--env", "local"]);
    assert!(
        observed.stdout.contains(&rev) && observed.stdout.contains(ghost_rev),
        "drift shows both strays: {}",
        observed.stdout
    );
    let doctor = env.fails(10, &["env", "doctor", "local"]);
    let strays: Vec<String> = doctor["details"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "processes")
        .map(|f| f["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        strays
            .iter()
            .any(|m| m.contains(&rev) && m.contains(&started.to_string())),
        "{doctor}"
    );
    assert!(
        strays
            .iter()
            .any(|m| m.contains(ghost_rev) && m.contains(&ghost_pid.to_string())),
        "{doctor}"
    );
    assert_eq!(doctor["hint"], "envpack env down local", "{doctor}");

    let down = env.json(&["env", "down", "local"]);
    assert!(
        !alive(started),
        "env down stopped the killed deploy's process"
    );
    let _ = ghost.0.wait();
    assert!(!alive(ghost_pid), "env down swept the unrecorded process");
    assert!(down["swept"].to_string().contains(ghost_rev), "{down}");
    let doctor = env.run(&["--json", "env", "doctor", "local"]);
    assert!(
        !doctor.stdout.contains("\"processes\""),
        "{}",
        doctor.stdout
    );
}

/// Item 2: payloads are read-only, and an edited or planted payload file
/// refuses to start, is drift, and makes doctor fail.
#[test]
fn edited_payloads_refuse_to_start() {
    let env = local_env();
    let _down = Down(&env);
    let rev = deploy(&env, &bundle(&env, "1.0.0", SERVE, &[]));
    let payload = env
        .home()
        .join(format!("envs/local/revisions/{rev}/payload"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&payload), 0o555);
        assert_eq!(mode(&payload.join("index.html")), 0o444);
        assert_eq!(mode(&payload.join("run.sh")), 0o555);
        // Root ignores the modes (as a non-root operator would not): edit
        // the program as another revision would.
        std::fs::set_permissions(&payload, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            payload.join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    std::fs::write(
        payload.join("run.sh"),
        "#!/bin/sh\ntouch ../planted-ran\nexec sleep 300\n",
    )
    .unwrap();
    std::fs::write(payload.join("extra.py"), "print('planted')").unwrap();

    env.json(&["env", "down", "local"]);
    let up = env.fails(9, &["env", "up", "local"]);
    let message = up["message"].as_str().unwrap();
    assert!(
        message.contains("payload no longer matches its bundle")
            && message.contains("\"run.sh\" changed")
            && message.contains("\"extra.py\" was added"),
        "{up}"
    );
    assert!(
        !payload.join("../planted-ran").exists(),
        "the edited program ran"
    );
    let drift = env.run(&["--json", "drift", "--env", "local"]);
    assert!(
        drift.stdout.contains("file:run.sh") && drift.stdout.contains("file:extra.py"),
        "{}",
        drift.stdout
    );
    let doctor = env.fails(10, &["env", "doctor", "local"]);
    assert!(findings(&doctor).contains("\"payload\""), "{doctor}");
}

/// Item 3: a bundle may not set the host's variables or ones that make a
/// shell or interpreter run code from elsewhere; ordinary names work.
#[test]
fn bundles_may_set_only_ordinary_variables() {
    let env = local_env();
    let _down = Down(&env);
    let dir = env.home().join("p");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "x").unwrap();
    for name in [
        "PORT",
        "ENVPACK_REVISION_DIR",
        "BASH_ENV",
        "ENV",
        "PATH",
        "PYTHONPATH",
        "NODE_OPTIONS",
        "PERL5OPT",
        "JAVA_TOOL_OPTIONS",
        "LD_PRELOAD",
        "IFS",
    ] {
        let attr = format!("env.{name}=/tmp/evil");
        let out = env.home().join("refused.tgz");
        let err = env.fails(
            2,
            &[
                "bundle",
                "build",
                "--no-git",
                dir.to_str().unwrap(),
                "--name",
                "site",
                "--version",
                "1.0.0",
                "--source",
                "main",
                "--ref",
                "main",
                "--attr",
                &attr,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        let message = err["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("{name:?}")) && message.contains("not allowed"),
            "{name}: {err}"
        );
        assert!(!out.exists(), "{name}: no bundle is written");
    }
    let script = format!("echo \"$GREETING $PORT\" > ../greeting\n{SERVE}");
    let rev = deploy(
        &env,
        &bundle(&env, "1.0.0", &script, &["env.GREETING=hello"]),
    );
    let path = env
        .home()
        .join(format!("envs/local/revisions/{rev}/greeting"));
    wait_for("the greeting", || path.is_file());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("hello "), "{text}");
}
