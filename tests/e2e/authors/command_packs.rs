//! Command-only packs: they fill no slot, bind into an environment under
//! their own ids, many per environment, beside the slot packs; their
//! commands show in the environment's `--help` and run with the grants,
//! configuration, secrets and kv the environment gives them; the lock pins
//! them, `env show` lists them, doctor checks them, unbind removes them.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use envpack_e2e::{Env, repo_root};
use serde_json::Value;

use super::BIN;

/// `pack new NAME --slot command` in `dir`, built; returns the pack file.
fn command_pack(env: &Env, dir: &Path, namespace: &str, name: &str) -> PathBuf {
    env.json(&[
        "pack",
        "new",
        name,
        "--slot",
        "command",
        "--namespace",
        namespace,
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let target = repo_root().join("target/e2e-scaffold");
    let built = super::pack_build(env, &dir.join(name), &target);
    PathBuf::from(built["path"].as_str().unwrap())
}

/// An HTTP server answering one request with `body`; the request's head
/// comes out of the channel.
fn one_answer(body: &'static str) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    });
    (port, rx)
}

fn commands_of(show: &Value) -> Vec<String> {
    show["lock"]["commands"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn command_only_packs_bind_beside_the_slots_and_run_with_their_grants() {
    let env = Env::new(BIN);
    let work = tempfile::tempdir().unwrap();
    env.json(&["env", "init", "dev"]);
    let tools = command_pack(&env, work.path(), "acme", "tools");
    let probe = command_pack(&env, work.path(), "acme", "probe");
    env.json(&[
        "pack",
        "install",
        tools.to_str().unwrap(),
        probe.to_str().unwrap(),
    ]);
    let inspected = env.json(&["pack", "inspect", tools.to_str().unwrap()]);
    assert_eq!(
        inspected["descriptor"], "acme.command.tools@0.1.0",
        "{inspected}"
    );
    assert_eq!(
        inspected["exports"],
        serde_json::json!(["greentic:envpack/command@0.2.0"])
    );

    // Two command packs, bound under their own ids; the slots keep theirs.
    let before = env.json(&["env", "show", "dev"]);
    for pack in ["acme.command.tools@^0.1", "acme.command.probe@^0.1"] {
        let bound = env.json(&["env", "bind", "dev", "command", pack, "--grant-requested"]);
        assert_eq!(bound["slot"], "command", "{bound}");
    }
    let show = env.json(&["env", "show", "dev"]);
    assert_eq!(
        commands_of(&show),
        ["acme.command.probe", "acme.command.tools"]
    );
    assert_eq!(
        show["lock"]["slots"], before["lock"]["slots"],
        "the slots are untouched"
    );
    let human = env.ok(&["env", "show", "dev"]);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("command") && l.contains("acme.command.tools@0.1.0")),
        "{human}"
    );
    // The lock on disk pins them (digest and grants).
    let lock: Value =
        serde_json::from_slice(&std::fs::read(env.home().join("envs/dev/lock.json")).unwrap())
            .unwrap();
    let pinned = &lock["commands"]["acme.command.tools"];
    assert!(
        pinned["digest"].as_str().unwrap().starts_with("sha256:"),
        "{lock}"
    );
    assert!(
        pinned["grants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "credential:API_TOKEN"),
        "{lock}"
    );

    // Shown in the environment's help, both ways of naming it.
    for args in [&["--env", "dev", "--help"][..], &["--help"][..]] {
        let mut cmd = env.cmd();
        cmd.args(args).env("ENVPACK_ENV", "dev");
        let out = cmd.output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for line in ["tools info", "tools status", "probe info"] {
            assert!(help.contains(line), "{args:?}: {line} missing:\n{help}");
        }
        assert!(help.contains("[acme.command.tools@0.1.0]"), "{help}");
    }

    // They run with the environment's kv (through its state pack)...
    assert!(
        env.ok(&["--env", "dev", "tools", "info"])
            .contains("has run 1 time(s)")
    );
    assert!(
        env.ok(&["--env", "dev", "tools", "info"])
            .contains("has run 2 time(s)")
    );
    assert!(
        env.ok(&["--env", "dev", "probe", "info"])
            .contains("has run 1 time(s)")
    );
    // ...and its configuration, secrets and outbound HTTP.
    let (port, heads) = one_answer("all good");
    let base = format!("http://127.0.0.1:{port}");
    env.json(&[
        "env",
        "config",
        "dev",
        "acme.command.tools",
        "base_url",
        &base,
    ]);
    env.json(&["--env", "dev", "secrets", "put", "API_TOKEN", "t0ken"]);
    let said = env.json(&["--env", "dev", "tools", "status"]);
    assert_eq!(said, format!("{base}/status: all good"));
    let head = heads.recv().unwrap();
    assert!(head.starts_with("GET /status "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("authorization: bearer t0ken"),
        "{head}"
    );

    // Doctor checks them like slot packs: clean now...
    let report = env.json(&["env", "doctor", "dev"]);
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "error"),
        "{report}"
    );
    // ...and names a command pack whose file is gone.
    env.json(&["pack", "remove", "acme.command.probe@0.1.0", "--force"]);
    let err = env.fails(10, &["env", "doctor", "dev"]);
    let findings = err["details"]["findings"].as_array().unwrap().clone();
    assert!(
        findings.iter().any(|f| f["slot"] == "command"
            && f["severity"] == "error"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("acme.command.probe")),
        "{err}"
    );

    // Unbind, by name or id: gone from the lock and from help.
    env.json(&["env", "unbind", "dev", "command", "probe"]);
    let show = env.json(&["env", "show", "dev"]);
    assert_eq!(commands_of(&show), ["acme.command.tools"]);
    let err = env.fails(3, &["env", "unbind", "dev", "command", "probe"]);
    assert!(err["message"].as_str().unwrap().contains("probe"), "{err}");
    env.json(&["env", "unbind", "dev", "command", "acme.command.tools"]);
    let show = env.json(&["env", "show", "dev"]);
    assert!(commands_of(&show).is_empty(), "{show}");
    let lock = std::fs::read_to_string(env.home().join("envs/dev/lock.json")).unwrap();
    assert!(
        !lock.contains("\"commands\""),
        "an empty set leaves no key: {lock}"
    );
    let out = env.run(&["--env", "dev", "tools", "info"]);
    assert_ne!(
        out.code, 0,
        "an unbound pack's command is gone: {}",
        out.stdout
    );
}

#[test]
fn a_command_pack_cannot_fill_a_slot_nor_shadow_another_packs_commands() {
    let env = Env::new(BIN);
    let work = tempfile::tempdir().unwrap();
    env.json(&["env", "init", "dev"]);
    let ours = command_pack(&env, work.path(), "acme", "tools");
    let theirs = command_pack(&env, &work.path().join("other"), "other", "tools");
    env.json(&[
        "pack",
        "install",
        ours.to_str().unwrap(),
        theirs.to_str().unwrap(),
    ]);

    // Not into a slot, and a slot pack not as a command pack.
    let err = env.fails(
        2,
        &["env", "bind", "dev", "telemetry", "acme.command.tools@^0.1"],
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("is a command pack"),
        "{err}"
    );
    let err = env.fails(
        2,
        &[
            "env",
            "bind",
            "dev",
            "command",
            "greentic.telemetry.stdout@^0.1",
        ],
    );
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("is a telemetry pack"),
        "{err}"
    );

    // Two packs declaring `tools info`: the second is refused, naming both.
    env.json(&[
        "env",
        "bind",
        "dev",
        "command",
        "acme.command.tools@^0.1",
        "--grant-requested",
    ]);
    let err = env.fails(
        5,
        &[
            "env",
            "bind",
            "dev",
            "command",
            "other.command.tools@^0.1",
            "--grant-requested",
        ],
    );
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("\"tools info\"") && msg.contains("acme.command.tools"),
        "{err}"
    );
}
