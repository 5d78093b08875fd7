//! Secret scanning of payload files, at `bundle build` and again at every
//! verify (so at every deploy and promote).
//!
//! Two kinds of rule: *file rules* look at the name alone (dotenv files,
//! SSH keys, credential files) and *content rules* are regular expressions
//! applied line by line as the bytes stream past, so a scan never holds
//! more than one line (at most [`MAX_LINE`] bytes) of a file. Each finding
//! names the file, the line and the rule.
//!
//! What a scan may skip is said by the bundle itself: the payload root's
//! [`ALLOWLIST`] file (`path[:line] [rule]` per line) and the paths the
//! manifest lists in `allowed_secrets` (`bundle build --allow-secret`). A
//! bundle built with the scan bypassed is caught at verify; a bundle whose
//! author lists their own secret as allowed is not: the scan catches
//! accidents, and signatures say who to blame for the rest.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexSet};
use serde::Serialize;

/// The per-bundle allowlist, in the payload root.
pub const ALLOWLIST: &str = ".envpack-allow-secrets";

/// The longest line scanned as one: a longer one is scanned in pieces of
/// this size (a token split across two pieces can be missed; minified
/// files have such lines, tokens are short).
pub const MAX_LINE: usize = 64 << 10;

/// The largest allowlist read; a longer one is refused.
pub const MAX_ALLOWLIST: usize = 256 << 10;

/// One thing that looks like a secret.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Finding {
    /// Payload path.
    pub path: String,
    /// 1-based line, `None` for a rule about the file's name.
    pub line: Option<u64>,
    /// Rule name, e.g. `aws-access-key-id`.
    pub rule: &'static str,
    /// What the rule means, for people.
    pub why: &'static str,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {} ({})", self.path, self.rule, self.why),
            None => write!(f, "{}: {} ({})", self.path, self.rule, self.why),
        }
    }
}

struct Rule {
    name: &'static str,
    why: &'static str,
    pattern: &'static str,
    /// Extra check on the match's first capture group (or the whole match).
    check: fn(&[u8]) -> bool,
}

fn always(_: &[u8]) -> bool {
    true
}

/// Template placeholders (`${DB_PASSWORD}`, `<password>`, `%(pw)s`) and
/// obvious dummies are not secrets.
fn not_placeholder(value: &[u8]) -> bool {
    let v = String::from_utf8_lossy(value).to_ascii_lowercase();
    let placeholder = v.starts_with(['$', '<', '{', '%', '*'])
        || matches!(
            v.as_str(),
            "null" | "none" | "changeme" | "xxx" | "redacted"
        );
    !placeholder
}

/// High Shannon entropy: random tokens, not words or identifiers. Hex is
/// judged on its own scale (at most 4 bits per character).
fn high_entropy(value: &[u8]) -> bool {
    let hex = value.iter().all(u8::is_ascii_hexdigit);
    shannon_entropy(value) >= if hex { 3.0 } else { 4.0 }
}

/// Bits per byte of `s`.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s {
        counts[*b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

const RULES: &[Rule] = &[
    Rule {
        name: "private-key",
        why: "it contains a PEM private key",
        pattern: r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----",
        check: always,
    },
    Rule {
        name: "aws-access-key-id",
        why: "it contains an AWS access key id, an access token",
        pattern: r"\b((?:AKIA|ASIA)[0-9A-Z]{16})\b",
        check: always,
    },
    Rule {
        name: "aws-secret-access-key",
        why: "it assigns an AWS secret access key",
        pattern: r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})"#,
        check: always,
    },
    Rule {
        name: "github-token",
        why: "it contains a GitHub access token",
        pattern: r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
        check: always,
    },
    Rule {
        name: "gitlab-token",
        why: "it contains a GitLab access token",
        pattern: r"\b(glpat-[A-Za-z0-9_-]{20,})",
        check: always,
    },
    Rule {
        name: "slack-token",
        why: "it contains a Slack access token",
        pattern: r"\b(xox[baprs]-[A-Za-z0-9-]{10,})",
        check: always,
    },
    Rule {
        name: "google-api-key",
        why: "it contains a Google API key, an access token",
        pattern: r"\b(AIza[0-9A-Za-z_-]{35})",
        check: always,
    },
    Rule {
        name: "stripe-secret-key",
        why: "it contains a Stripe live secret key, an access token",
        pattern: r"\b(sk_live_[0-9A-Za-z]{16,})",
        check: always,
    },
    Rule {
        name: "jwt",
        why: "it contains a JSON Web Token",
        pattern: r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})",
        check: always,
    },
    Rule {
        name: "connection-string-password",
        why: "it contains a connection string with a password",
        pattern: r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:([^\s:/@]+)@",
        check: not_placeholder,
    },
    Rule {
        name: "password-assignment",
        why: "it assigns a password",
        pattern: r#"(?i)(?:password|passwd)["']?\s*[:=]\s*["']?([^\s"',;]+)"#,
        check: not_placeholder,
    },
    Rule {
        name: "high-entropy-assignment",
        why: "it assigns a high-entropy token to a secret-looking name",
        pattern: r#"(?i)(?:token|secret|api_?key|access_?key|auth|credential|private_?key)[a-z0-9_-]*["']?\s*[:=]\s*["']([A-Za-z0-9+/=_.~-]{32,})["']"#,
        check: high_entropy,
    },
];

struct Compiled {
    set: RegexSet,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        // ASCII mode: payloads are often binary, and a Unicode `\b` would
        // make the fast DFA give up on the first non-ASCII byte.
        let ascii = |p: &str| format!("(?-u){p}");
        // The patterns are constants covered by the tests below: failing
        // here is a bug in this file, never in a bundle.
        #[allow(clippy::expect_used)]
        let set =
            RegexSet::new(RULES.iter().map(|r| ascii(r.pattern))).expect("secret rules compile");
        #[allow(clippy::expect_used)]
        let each = RULES
            .iter()
            .map(|r| Regex::new(&ascii(r.pattern)).expect("secret rule compiles"))
            .collect();
        Compiled { set, each }
    })
}

/// The rule a file's name alone breaks, if any: name and meaning.
pub fn file_rule(path: &str) -> Option<(&'static str, &'static str)> {
    let file = path.rsplit('/').next().unwrap_or(path);
    if file == ".env" || file.starts_with(".env.") {
        return Some((
            "dotenv-file",
            "it is a dotenv file, which usually holds credentials",
        ));
    }
    if matches!(file, "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519") {
        return Some((
            "ssh-private-key-file",
            "it is named like an SSH private key",
        ));
    }
    if matches!(
        file,
        ".npmrc" | ".pypirc" | ".netrc" | "credentials" | ".git-credentials"
    ) {
        return Some(("credentials-file", "it is a credentials file"));
    }
    None
}

/// How many bytes of complete lines are checked against all rules at once
/// before any line is looked at alone: most text matches no rule, and one
/// pass over a batch is far cheaper than one per line.
const BATCH: usize = 256 << 10;

/// Scans one file as its bytes stream past ([`FileScan::feed`]), then
/// [`FileScan::finish`]. Memory stays under [`BATCH`] plus one chunk.
pub struct FileScan {
    path: String,
    /// The line number of the first byte in `pending`.
    line: u64,
    /// Bytes not scanned yet: complete lines, then the start of one.
    pending: Vec<u8>,
    findings: Vec<Finding>,
}

impl FileScan {
    /// Starts scanning `path` (checking its name at once).
    pub fn new(path: &str) -> Self {
        let mut findings = Vec::new();
        if let Some((rule, why)) = file_rule(path) {
            findings.push(Finding {
                path: path.to_string(),
                line: None,
                rule,
                why,
            });
        }
        Self {
            path: path.to_string(),
            line: 1,
            pending: Vec::new(),
            findings,
        }
    }

    /// The next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.pending.extend_from_slice(chunk);
        if self.pending.len() >= BATCH {
            self.flush(false);
        }
    }

    /// Scans the complete lines pending (all of it `at_end`); a partial
    /// line longer than [`MAX_LINE`] is scanned in pieces of that size.
    fn flush(&mut self, at_end: bool) {
        let cut = if at_end {
            self.pending.len()
        } else {
            memchr::memrchr(b'\n', &self.pending).map_or(0, |i| i + 1)
        };
        let rest = self.pending.split_off(cut);
        let batch = std::mem::replace(&mut self.pending, rest);
        self.scan_batch(&batch);
        while !at_end && self.pending.len() > MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            let piece = std::mem::replace(&mut self.pending, rest);
            self.scan_line(&piece);
        }
    }

    fn scan_batch(&mut self, batch: &[u8]) {
        if !compiled().set.is_match(batch) {
            self.line += memchr::memchr_iter(b'\n', batch).count() as u64;
            return;
        }
        for line in batch.split_inclusive(|b| *b == b'\n') {
            match line.strip_suffix(b"\n") {
                Some(text) => {
                    self.scan_line(text);
                    self.line += 1;
                }
                None => self.scan_line(line),
            }
        }
    }

    fn scan_line(&mut self, line: &[u8]) {
        let c = compiled();
        for i in c.set.matches(line).iter() {
            let rule = &RULES[i];
            let hit = c.each[i].captures_iter(line).any(|caps| {
                let value = caps.get(1).or_else(|| caps.get(0));
                value.is_some_and(|m| (rule.check)(m.as_bytes()))
            });
            if hit {
                self.findings.push(Finding {
                    path: self.path.clone(),
                    line: Some(self.line),
                    rule: rule.name,
                    why: rule.why,
                });
            }
        }
    }

    /// Everything found.
    pub fn finish(mut self) -> Vec<Finding> {
        self.flush(true);
        self.findings
    }
}

/// Scans a whole file held in memory.
pub fn scan_bytes(path: &str, bytes: &[u8]) -> Vec<Finding> {
    let mut s = FileScan::new(path);
    s.feed(bytes);
    s.finish()
}

/// One allowlist line: a path, optionally a line, optionally a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Allowed {
    path: String,
    line: Option<u64>,
    rule: Option<String>,
}

/// What a bundle allows: its [`ALLOWLIST`] file and `--allow-secret` paths.
#[derive(Clone, Debug, Default)]
pub struct Allowlist {
    entries: Vec<Allowed>,
}

impl Allowlist {
    /// Parses the allowlist file's text; `Err` names the bad line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let target = words.next().unwrap_or_default();
            let rule = words.next().map(str::to_string);
            if words.next().is_some() {
                return Err(format!(
                    "{ALLOWLIST} line {}: {raw:?} is not `path[:line] [rule]`",
                    n + 1
                ));
            }
            let (path, line) = match target.rsplit_once(':') {
                Some((p, l)) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => {
                    (p.to_string(), l.parse().ok())
                }
                _ => (target.to_string(), None),
            };
            entries.push(Allowed { path, line, rule });
        }
        Ok(Self { entries })
    }

    /// Adds whole files (`--allow-secret PATH`).
    pub fn with_paths<'a>(mut self, paths: impl IntoIterator<Item = &'a String>) -> Self {
        for p in paths {
            self.entries.push(Allowed {
                path: p.clone(),
                line: None,
                rule: None,
            });
        }
        self
    }

    /// Whether the finding is allowed.
    pub fn allows(&self, f: &Finding) -> bool {
        self.entries.iter().any(|a| {
            a.path == f.path
                && a.line.is_none_or(|l| Some(l) == f.line)
                && a.rule.as_deref().is_none_or(|r| r == f.rule)
        })
    }

    /// The findings not allowed, sorted.
    pub fn filter(&self, findings: Vec<Finding>) -> Vec<Finding> {
        let set: BTreeSet<Finding> = findings.into_iter().filter(|f| !self.allows(f)).collect();
        set.into_iter().collect()
    }
}

/// The secret scan of one streamed bundle entry, keeping the bytes of the
/// allowlist file (bounded) to apply once every entry is read.
pub struct EntryScan {
    file: FileScan,
    keep: Option<Vec<u8>>,
}

impl EntryScan {
    /// Starts on payload path `rel`.
    pub fn new(rel: &str) -> Self {
        Self {
            file: FileScan::new(rel),
            keep: (rel == ALLOWLIST).then(Vec::new),
        }
    }

    /// The next bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.file.feed(bytes);
        if let Some(k) = &mut self.keep {
            let room = (MAX_ALLOWLIST + 1).saturating_sub(k.len());
            k.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    /// The findings, and the allowlist's bytes if this was it.
    pub fn finish(self) -> (Vec<Finding>, Option<Vec<u8>>) {
        (self.file.finish(), self.keep)
    }
}

/// The findings neither the allowlist file (its bytes) nor the `allowed`
/// paths allow; `Err` says why the allowlist itself is refused.
pub fn not_allowed(
    findings: Vec<Finding>,
    allowlist: Option<&[u8]>,
    allowed: &[String],
) -> Result<Vec<Finding>, String> {
    let list = match allowlist {
        Some(bytes) if bytes.len() > MAX_ALLOWLIST => {
            return Err(format!(
                "its {ALLOWLIST} is larger than {MAX_ALLOWLIST} bytes"
            ));
        }
        Some(bytes) => Allowlist::parse(&String::from_utf8_lossy(bytes))?,
        None => Allowlist::default(),
    };
    Ok(list.with_paths(allowed).filter(findings))
}

/// The findings as one phrase: the first few, then how many more.
pub fn describe(findings: &[Finding]) -> String {
    let mut shown: Vec<String> = findings.iter().take(5).map(ToString::to_string).collect();
    if findings.len() > 5 {
        shown.push(format!("and {} more", findings.len() - 5));
    }
    shown.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(path: &str, text: &str) -> Vec<&'static str> {
        scan_bytes(path, text.as_bytes())
            .into_iter()
            .map(|f| f.rule)
            .collect()
    }

    /// One positive and one negative case per rule.
    #[test]
    fn every_rule() {
        for (text, rule) in [
            ("-----BEGIN RSA PRIVATE KEY-----", "private-key"),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "private-key"),
            ("key: AKIAABCDEFGHIJKLMNOP", "aws-access-key-id"),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws-secret-access-key",
            ),
            (
                "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
                "github-token",
            ),
            ("GITLAB=glpat-abcdefghij0123456789", "gitlab-token"),
            ("slack: xoxb-1234567890-abcdefghij", "slack-token"),
            (
                "maps = AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
                "google-api-key",
            ),
            ("sk_live_abcdefghijklmnop1234", "stripe-secret-key"),
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt",
            ),
            (
                "url = postgres://app:hunter2@db:5432/app",
                "connection-string-password",
            ),
            ("DB_PASSWORD=hunter2", "password-assignment"),
            ("passwd: s3cr3t", "password-assignment"),
            (
                "api_token = \"q8Zr2LmX9vPf4Tn7Wc1Yb6Hd3Kj5Gs0Ae\"",
                "high-entropy-assignment",
            ),
        ] {
            assert!(rules("conf.txt", text).contains(&rule), "{rule}: {text}");
        }
        for text in [
            "set AKIA keys in the env",
            "password=",
            "password: ${DB_PASSWORD}",
            "postgres://app@db/app",
            "postgres://app:${PW}@db/app",
            "token = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
            "-----BEGIN PUBLIC KEY-----",
            "fn main() {}",
        ] {
            assert!(rules("conf.txt", text).is_empty(), "{text}");
        }
    }

    #[test]
    fn file_rules() {
        assert_eq!(rules(".env", "A=1"), ["dotenv-file"]);
        assert_eq!(rules("conf/.env.production", ""), ["dotenv-file"]);
        assert_eq!(rules("keys/id_rsa", ""), ["ssh-private-key-file"]);
        assert_eq!(rules("home/.npmrc", ""), ["credentials-file"]);
        assert!(rules("environment.rs", "").is_empty());
    }

    #[test]
    fn lines_across_chunks() {
        let mut s = FileScan::new("a.txt");
        for chunk in ["one\ntwo\nkey: AKIAABCD", "EFGHIJKLMNOP\nfour"] {
            s.feed(chunk.as_bytes());
        }
        let f = s.finish();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].line, Some(3));
        // Past several batches, in odd chunks, line numbers still count.
        let mut text = "filler line\n".repeat(100_000);
        text.push_str("password = hunter2\n");
        text.push_str(&"x".repeat(3 * MAX_LINE));
        text.push_str(" AKIAABCDEFGHIJKLMNOP\nend");
        let mut s = FileScan::new("big.txt");
        for chunk in text.as_bytes().chunks(7_777) {
            s.feed(chunk);
        }
        let f = s.finish();
        let got: Vec<_> = f.iter().map(|f| (f.rule, f.line)).collect();
        assert_eq!(
            got,
            [
                ("password-assignment", Some(100_001)),
                ("aws-access-key-id", Some(100_002))
            ]
        );
    }

    #[test]
    fn allowlist() {
        let list = Allowlist::parse(
            "# known test fixtures\ndocs/example.txt:3 aws-access-key-id\nfixtures/keys.pem\n",
        )
        .expect("parses");
        let f = |path: &str, line, rule| Finding {
            path: path.into(),
            line,
            rule,
            why: "",
        };
        assert!(list.allows(&f("docs/example.txt", Some(3), "aws-access-key-id")));
        assert!(!list.allows(&f("docs/example.txt", Some(4), "aws-access-key-id")));
        assert!(!list.allows(&f("docs/example.txt", Some(3), "jwt")));
        assert!(list.allows(&f("fixtures/keys.pem", Some(9), "private-key")));
        assert!(Allowlist::parse("a b c").is_err());
    }

    #[test]
    fn entropy() {
        assert!(shannon_entropy(b"aaaa") < 0.1);
        assert!(shannon_entropy(b"q8Zr2LmX9vPf4Tn7Wc1Yb6Hd3Kj5Gs0Ae") > 4.0);
    }
}
