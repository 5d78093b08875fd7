//! Who is changing an environment, and with which command line: what every
//! audit event records. Part of the bottom layer; nothing here depends on
//! any other module of the host.
//!
//! The actor comes from, in order: `--actor`, `ENVPACK_ACTOR`, the
//! well-known variables of CI systems (`GITHUB_ACTOR`, `GITLAB_USER_LOGIN`,
//! `BUILDKITE_BUILD_CREATOR`, `CI_JOB_ID`), and last the OS user. The
//! command line is recorded with secret values replaced.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

static EXPLICIT: OnceLock<String> = OnceLock::new();
static COMMAND: OnceLock<String> = OnceLock::new();

/// Who made a change, and where that name came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The name recorded.
    pub name: String,
    /// `--actor`, `ENVPACK_ACTOR`, `GITHUB_ACTOR`, ..., `os-user`,
    /// `unknown`.
    pub source: String,
}

/// CI variables naming who or what runs the job, most specific first.
const CI_VARIABLES: &[(&str, &str)] = &[
    ("GITHUB_ACTOR", "github:"),
    ("GITLAB_USER_LOGIN", "gitlab:"),
    ("BUILDKITE_BUILD_CREATOR", "buildkite:"),
    ("CI_JOB_ID", "ci-job:"),
];

/// Sets the actor named on the command line (`--actor`); the first call
/// wins.
pub fn set_explicit(name: &str) {
    let _ = EXPLICIT.set(name.to_string());
}

/// Records the command line being run (already redacted); the first call
/// wins.
pub fn set_command_line(line: String) {
    let _ = COMMAND.set(line);
}

/// The command line being run, if the CLI recorded one.
pub fn command_line() -> Option<String> {
    COMMAND.get().cloned()
}

/// The actor of this process.
pub fn current() -> Actor {
    resolve(EXPLICIT.get().map(String::as_str), &|k| {
        std::env::var(k).ok().filter(|v| !v.trim().is_empty())
    })
}

/// The actor from an explicit name and an environment lookup.
pub fn resolve(explicit: Option<&str>, var: &dyn Fn(&str) -> Option<String>) -> Actor {
    let actor = |name: String, source: &str| Actor {
        name,
        source: source.to_string(),
    };
    if let Some(name) = explicit.filter(|n| !n.trim().is_empty()) {
        return actor(name.to_string(), "--actor");
    }
    if let Some(name) = var("ENVPACK_ACTOR") {
        return actor(name, "ENVPACK_ACTOR");
    }
    for (key, prefix) in CI_VARIABLES {
        if let Some(v) = var(key) {
            return actor(format!("{prefix}{v}"), key);
        }
    }
    match var("USER").or_else(|| var("USERNAME")) {
        Some(user) => actor(user, "os-user"),
        None => actor("unknown".into(), "unknown"),
    }
}

/// The command line to record: `secrets put NAME VALUE` keeps the name and
/// loses the value; every other argument is kept. After `secrets put`, every
/// positional but the first is redacted, so an option this does not know to
/// take a value can only hide the name, never show the value.
pub fn redact(args: &[String]) -> String {
    let mut out: Vec<String> = args.to_vec();
    if let Some(at) = args
        .windows(2)
        .position(|w| w[0] == "secrets" && w[1] == "put")
    {
        // The positionals after `secrets put`: NAME, then VALUE. An
        // option's value (`--env dev`) is not one.
        const TAKE_VALUES: [&str; 6] = [
            "--from-file",
            "--env",
            "--home",
            "--actor",
            "--output",
            "-o",
        ];
        let mut positionals = (at + 2..args.len())
            .filter(|&i| !args[i].starts_with('-') && !TAKE_VALUES.contains(&args[i - 1].as_str()));
        let _name = positionals.next();
        for value in positionals {
            out[value] = "<redacted>".into();
        }
    }
    if let Some(first) = out.first_mut() {
        *first = "envpack".into();
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn order_of_sources() {
        let all = vars(&[
            ("ENVPACK_ACTOR", "release-bot"),
            ("GITHUB_ACTOR", "octocat"),
            ("USER", "root"),
        ]);
        assert_eq!(resolve(Some("alice"), &all).name, "alice");
        assert_eq!(resolve(Some("alice"), &all).source, "--actor");
        assert_eq!(resolve(None, &all).name, "release-bot");
        let ci = vars(&[("GITHUB_ACTOR", "octocat"), ("USER", "root")]);
        assert_eq!(resolve(None, &ci).name, "github:octocat");
        assert_eq!(resolve(None, &ci).source, "GITHUB_ACTOR");
        let job = vars(&[("CI_JOB_ID", "4711"), ("USER", "runner")]);
        assert_eq!(resolve(None, &job).name, "ci-job:4711");
        assert_eq!(resolve(None, &vars(&[("USER", "root")])).source, "os-user");
        assert_eq!(resolve(None, &vars(&[])).name, "unknown");
        assert_eq!(resolve(Some(" "), &vars(&[])).name, "unknown");
    }

    #[test]
    fn secret_values_never_recorded() {
        let args: Vec<String> = [
            "/bin/envpack",
            "--env",
            "dev",
            "secrets",
            "put",
            "API_KEY",
            "s3cr3t",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let line = redact(&args);
        assert_eq!(line, "envpack --env dev secrets put API_KEY <redacted>");
        // Options after `put`, with their values, are not the name.
        for (argv, want) in [
            (
                "envpack secrets put --env dev API_KEY s3cr3t",
                "envpack secrets put --env dev API_KEY <redacted>",
            ),
            (
                "envpack secrets put --actor bob --env dev API_KEY s3cr3t --yes",
                "envpack secrets put --actor bob --env dev API_KEY <redacted> --yes",
            ),
            (
                "envpack secrets put --from-file key.pem API_KEY",
                "envpack secrets put --from-file key.pem API_KEY",
            ),
            (
                "envpack secrets put --unknown x API_KEY s3cr3t",
                "envpack secrets put --unknown x <redacted> <redacted>",
            ),
        ] {
            let args: Vec<String> = argv.split(' ').map(str::to_string).collect();
            assert_eq!(redact(&args), want, "{argv}");
        }
        // Options between the verb and the name hold no secret.
        let after: Vec<String> = [
            "envpack", "secrets", "put", "--env", "local", "--actor", "me", "API_KEY", "s3cr3t",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            redact(&after),
            "envpack secrets put --env local --actor me API_KEY <redacted>"
        );
        let state: Vec<String> = ["envpack", "state", "put", "k", "v"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(redact(&state), "envpack state put k v");
    }
}
