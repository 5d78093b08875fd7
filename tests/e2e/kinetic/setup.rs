//! A Kinetic environment bound to the real pack and pointed at a fresh
//! double: dev company EPIC06, prod company EPIC07 (the environment's).

use envpack_e2e::Env;
use envpack_e2e::kinetic_double::{DoubleConfig, KineticDouble};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// Distinctive values, so a leak anywhere is found by a plain search.
pub const API_KEY: &str = "kin-apikey-9f27c3d1e8";
pub const USER: &str = "kin-user-4b1e70";
pub const PASSWORD: &str = "kin-password-c0ffee5a7";

/// Exactly what the environment gives the pack: its server, its three
/// secrets, its configuration (not `--grant-requested`, which would grant
/// every host and secret the `*` requests leave to the operator).
pub const GRANTS: &[&str] = &[
    "--grant",
    "log",
    "--grant",
    "kv",
    "--grant",
    "config:*",
    "--grant",
    "http:127.0.0.1",
    "--grant",
    "credential:KINETIC_API_KEY",
    "--grant",
    "credential:KINETIC_USER",
    "--grant",
    "credential:KINETIC_PASSWORD",
];

/// The environment, the double, and what every run printed.
pub struct Kinetic {
    pub env: Env,
    pub double: KineticDouble,
    printed: std::cell::RefCell<String>,
}

impl Kinetic {
    /// `kin` bound to the pack, configured for EPIC07, with the secrets set.
    pub fn new() -> Self {
        let double = KineticDouble::start(DoubleConfig {
            api_key: API_KEY.into(),
            user: USER.into(),
            password: PASSWORD.into(),
            ..DoubleConfig::default()
        })
        .unwrap();
        let env = Env::new(BIN);
        env.ok(&["env", "init", "kin"]);
        let mut bind = vec!["env", "bind", "kin", "kinetic", "greentic.kinetic.rest@^1"];
        bind.extend_from_slice(GRANTS);
        env.ok(&bind);
        let pack = "greentic.kinetic.rest";
        env.ok(&["env", "config", "kin", pack, "base_url", &double.base_url()]);
        env.ok(&["env", "config", "kin", pack, "company", "EPIC07"]);
        for (name, value) in [
            ("KINETIC_API_KEY", API_KEY),
            ("KINETIC_USER", USER),
            ("KINETIC_PASSWORD", PASSWORD),
        ] {
            env.ok(&["secrets", "put", name, value, "--env", "kin"]);
        }
        double.clear_journal();
        Self {
            env,
            double,
            printed: Default::default(),
        }
    }

    /// Runs `envpack --json --env kin kinetic <args>`: (exit code, envelope).
    pub fn run(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--json", "--env", "kin", "kinetic"];
        all.extend_from_slice(args);
        let r = self.env.run(&all);
        self.printed
            .borrow_mut()
            .push_str(&format!("{}\n{}\n", r.stdout, r.stderr));
        (r.code, r.envelope())
    }

    /// Like [`run`](Self::run), asserting success; returns `result`.
    pub fn ok(&self, args: &[&str]) -> Value {
        let (code, v) = self.run(args);
        assert_eq!(code, 0, "kinetic {args:?} failed: {v}");
        v["result"].clone()
    }

    /// The routes the double saw since the last clear, without token calls.
    pub fn calls(&self) -> Vec<String> {
        self.double
            .journal()
            .iter()
            .filter(|e| e.service.as_deref() != Some("TokenResource.svc"))
            .map(|e| format!("{} {}", e.company.clone().unwrap_or_default(), e.route()))
            .collect()
    }

    /// The routes of the calls since the last clear that asked the server
    /// to change something (the double's `mutates`).
    pub fn changes(&self) -> Vec<String> {
        self.double
            .journal()
            .iter()
            .filter(|e| e.mutates())
            .map(|e| e.route())
            .collect()
    }

    /// Asserts the user name never travels anywhere but in a header of the
    /// token request: not in a URL, query, body or CallSettings.
    pub fn assert_user_only_in_token_headers(&self) {
        for e in self.double.journal() {
            let sent = format!("{} {:?} {:?} {}", e.path, e.query, e.call_settings, e.body);
            assert!(
                !sent.contains(USER),
                "the user name was sent in {}",
                e.route()
            );
        }
    }

    /// Asserts no credential value appears in anything printed so far, in
    /// any file of the home except the secrets store, or in the journal's
    /// record of what the pack sent (bodies, queries, CallSettings).
    pub fn assert_no_secret_leaked(&self) {
        let mut seen = self.printed.borrow().clone();
        all_text(self.env.home(), &mut seen);
        for e in self.double.journal() {
            seen.push_str(&format!(
                "{} {:?} {:?} {}\n",
                e.path, e.query, e.call_settings, e.body
            ));
        }
        // The user name is not checked here: Kinetic itself writes it into
        // the records it serves (CreatedBy, LastUpdatedBy), which the pack
        // reads and shows. The credentials are the key and the password.
        for value in [API_KEY, PASSWORD] {
            assert!(!seen.contains(value), "a credential value leaked: {value}");
        }
    }
}

/// Every file under `dir` except the secrets store, concatenated.
pub fn all_text(dir: &std::path::Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if e.file_type().unwrap().is_dir() {
            all_text(&path, out);
        } else if !path.to_string_lossy().contains("secrets.dev-store") {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
}

/// Files under `dir` whose name ends with `suffix`.
pub fn find_files(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(find_files(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
    out
}
