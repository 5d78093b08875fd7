//! Issue 13 (a quickstart that works) and issue 14 (the pack author's
//! walkthrough): the shell blocks of the README, the operator guide and the
//! pack-author guide marked `<!-- runs: tests/e2e/docs.rs -->` are run as
//! written, in an empty directory with a fresh home and the `envpack` under
//! test first on `PATH`, so the docs cannot rot.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");
const MARK: &str = "<!-- runs: tests/e2e/docs.rs -->\n```sh\n";

/// The marked blocks of `doc`.
fn blocks(doc: &str) -> Vec<String> {
    let text = std::fs::read_to_string(envpack_e2e::repo_root().join(doc)).unwrap();
    text.split(MARK)
        .skip(1)
        .map(|rest| rest.split("\n```").next().unwrap().to_string())
        .collect()
}

/// Runs `script` with bash (`-euo pipefail`) in a fresh directory and home.
fn run(doc: &str, script: &str) {
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("ENVPACK_HOME", dir.path().join("home"))
        .env("ENVPACK_NO_PROGRESS", "1")
        .env_remove("ENVPACK_ENV")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the block of {doc} failed ({}):\n{script}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_readme_quickstart_runs_as_written() {
    let found = blocks("README.md");
    assert_eq!(found.len(), 1, "the README has one marked quickstart");
    run("README.md", &found[0]);
}

#[test]
fn the_operator_guides_journey_runs_as_written() {
    let found = blocks("docs/operator-guide.md");
    assert!(!found.is_empty(), "the operator guide has a marked journey");
    for b in &found {
        run("docs/operator-guide.md", b);
    }
}

/// new -> cargo test -> build -> pack test -> dev -> bind -> run -> upgrade
/// with the capability diff -> a release file that passes its suites.
#[test]
fn the_pack_author_guides_walkthrough_runs_as_written() {
    let found = blocks("docs/pack-author-guide.md");
    assert_eq!(
        found.len(),
        1,
        "the pack-author guide has one marked walkthrough"
    );
    let walk = &found[0];
    for step in [
        "pack new",
        "cargo test",
        "pack build",
        "pack test",
        "pack dev",
        "env bind",
        "greeter info",
        "--grant config:region",
        "--junit",
    ] {
        assert!(
            walk.contains(step),
            "the walkthrough lost its step {step:?}"
        );
    }
    run("docs/pack-author-guide.md", walk);
}
