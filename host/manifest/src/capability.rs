//! Capabilities: the powers a pack may request and an operator may grant.
//!
//! A capability is written as a short string, the same in `pack.toml`, on the
//! command line (`--grant`) and in an environment's lock:
//!
//! | capability           | allows                                               |
//! |----------------------|------------------------------------------------------|
//! | `log`                | writing log lines                                    |
//! | `kv`                 | the pack's private key/value store                   |
//! | `process`            | starting revision processes from their payload (deployers) |
//! | `config:<key>`       | reading one configuration key (`config:*`: any)     |
//! | `secret:<name>`      | reading one secret (`secret:*`: any)                 |
//! | `credential:<name>`  | having the host put one secret into outbound HTTP headers, without reading it |
//! | `http:<host>[:port]` | outbound HTTP to a host (`*.example.com` for subdomains, `*` for any host; no port: any port) |
//! | `socket:<host>:<port>` | outbound TCP connections (`wasi:sockets`) to one host and port (`*` alone: the operator chooses) |
//!
//! A call is allowed only when the pack's manifest requests a capability that
//! covers it AND the operator granted one that covers it ([`Grants::check`]).
//!
//! A manifest that requests `*` (`http:*`, `socket:*`, `credential:*`,
//! `config:*`, `secret:*`) leaves the choice to the operator: such a request is
//! satisfied by any grant it covers ([`Grants::unsatisfied_by`]), and the
//! pack then gets only what was granted. A deployer whose API server and
//! token secret the operator configures asks this way.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One capability, as requested by a manifest or granted by an operator.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Capability {
    /// Write log lines.
    Log,
    /// Use the pack's private key/value store.
    Kv,
    /// Start and stop processes for revisions, each confined to its
    /// revision's payload directory (deployers only).
    Process,
    /// Read a configuration key; `*` stands for every key.
    Config(String),
    /// Read a secret; `*` stands for every secret.
    Secret(String),
    /// Have the host attach a secret to outbound HTTP request headers
    /// (`{{credential:<name>}}` in a header value) without the pack ever
    /// reading it; `*` stands for every secret.
    Credential(String),
    /// Send HTTP requests to matching hosts.
    Http(HostPattern),
    /// Open TCP connections (`wasi:sockets`) to a matching host and port.
    /// Always one port, except `socket:*` (the operator chooses). No UDP,
    /// no listening.
    Socket(HostPattern),
}

/// A host name pattern for outbound HTTP: an exact host (`api.example.com`,
/// `127.0.0.1`), or `*.` followed by a domain for every subdomain; optionally
/// restricted to one port.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

/// A capability string that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid capability {input:?}: {reason}; expected one of log, kv, process, config:<key>, secret:<name>, credential:<name>, http:<host>[:<port>], socket:<host>:<port>"
)]
pub struct CapabilityError {
    input: String,
    reason: String,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn check_key(input: &str, what: &str, key: &str) -> Result<String, CapabilityError> {
    let err = |reason: String| CapabilityError {
        input: input.to_string(),
        reason,
    };
    if key == "*" {
        return Ok(key.to_string());
    }
    if key.is_empty() || key.len() > 128 {
        return Err(err(format!("the {what} must be 1 to 128 characters")));
    }
    if let Some(c) = key.chars().find(|c| !is_key_char(*c)) {
        return Err(err(format!(
            "the {what} {key:?} has {c:?}; expected letters, digits, '_', '-' and '.'"
        )));
    }
    Ok(key.to_string())
}

impl HostPattern {
    /// The host part, possibly starting with `*.`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, when the pattern is restricted to one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether a request to `host:port` matches. Host names compare without
    /// regard to ASCII case.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        if self.is_any() {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match self.host.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
            None => host == self.host,
        }
    }

    /// Whether this is `*`: any host.
    pub fn is_any(&self) -> bool {
        self.host == "*"
    }

    /// Whether every request this pattern matches is also matched by `other`.
    fn within(&self, other: &HostPattern) -> bool {
        if other.port.is_some() && other.port != self.port {
            return false;
        }
        if other.is_any() {
            return true;
        }
        if self.is_any() {
            return false;
        }
        match (self.host.strip_prefix("*."), other.host.strip_prefix("*.")) {
            (_, None) => self.host == other.host,
            (Some(mine), Some(theirs)) => mine == theirs || mine.ends_with(&format!(".{theirs}")),
            // Ports were compared above, so only the host is left to match.
            (None, Some(_)) => other.matches(&self.host, self.port.unwrap_or(0)),
        }
    }

    fn parse(input: &str, text: &str) -> Result<Self, CapabilityError> {
        let err = |reason: &str| CapabilityError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        // IPv6 literals are written in brackets: http:[::1]:8080.
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let end = rest
                .find(']')
                .ok_or_else(|| err("an IPv6 host lacks its closing ']'"))?;
            let host = &rest[..end];
            match &rest[end + 1..] {
                "" => (host.to_string(), None),
                p => (
                    host.to_string(),
                    Some(p.strip_prefix(':').ok_or_else(|| err("junk after ']'"))?),
                ),
            }
        } else {
            match text.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (text.to_string(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| err("the port must be a number from 1 to 65535"))
            })
            .transpose()?;
        let host = host.to_ascii_lowercase();
        if host == "*" {
            return Ok(Self { host, port });
        }
        let bare = host.strip_prefix("*.").unwrap_or(&host);
        if bare.is_empty() {
            return Err(err("the host is empty"));
        }
        if bare.contains('*') {
            return Err(err("'*' is only allowed as a leading \"*.\""));
        }
        if !bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'))
        {
            return Err(err(
                "the host may only hold letters, digits, '-', '.' (and ':' inside [IPv6])",
            ));
        }
        Ok(Self { host, port })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Capability {
    /// An outbound HTTP capability for exactly one host and port, as a host
    /// import checks it.
    pub fn http_to(host: &str, port: u16) -> Self {
        Capability::Http(HostPattern {
            host: host.to_ascii_lowercase(),
            port: Some(port),
        })
    }

    /// An outbound TCP capability for exactly one host and port, as the
    /// socket check builds it.
    pub fn socket_to(host: &str, port: u16) -> Self {
        Capability::Socket(HostPattern {
            host: host.to_ascii_lowercase(),
            port: Some(port),
        })
    }

    /// The capability's kind: `log`, `kv`, `process`, `config`, `secret`,
    /// `credential`, `http` or `socket`.
    pub fn kind(&self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Kv => "kv",
            Capability::Process => "process",
            Capability::Config(_) => "config",
            Capability::Secret(_) => "secret",
            Capability::Credential(_) => "credential",
            Capability::Http(_) => "http",
            Capability::Socket(_) => "socket",
        }
    }

    /// Whether this is a `*` request whose value the operator chooses:
    /// `http:*` (any port or one), `socket:*`, `config:*`, `secret:*`,
    /// `credential:*`.
    pub fn is_operator_choice(&self) -> bool {
        match self {
            Capability::Config(k) | Capability::Secret(k) | Capability::Credential(k) => k == "*",
            Capability::Http(h) | Capability::Socket(h) => h.is_any(),
            _ => false,
        }
    }

    /// Whether this capability, as a pattern, covers the concrete `used` one.
    pub fn covers(&self, used: &Capability) -> bool {
        match (self, used) {
            (Capability::Log, Capability::Log)
            | (Capability::Kv, Capability::Kv)
            | (Capability::Process, Capability::Process) => true,
            (Capability::Config(a), Capability::Config(b))
            | (Capability::Secret(a), Capability::Secret(b))
            | (Capability::Credential(a), Capability::Credential(b)) => a == "*" || a == b,
            (Capability::Http(a), Capability::Http(b))
            | (Capability::Socket(a), Capability::Socket(b)) => b.within(a),
            _ => false,
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Log => f.write_str("log"),
            Capability::Kv => f.write_str("kv"),
            Capability::Process => f.write_str("process"),
            Capability::Config(k) => write!(f, "config:{k}"),
            Capability::Secret(k) => write!(f, "secret:{k}"),
            Capability::Credential(k) => write!(f, "credential:{k}"),
            Capability::Http(h) => write!(f, "http:{h}"),
            Capability::Socket(h) => write!(f, "socket:{h}"),
        }
    }
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Capability {
    type Err = CapabilityError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| CapabilityError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input != input.trim() {
            return Err(err("it has leading or trailing whitespace"));
        }
        match input.split_once(':') {
            None => match input {
                "log" => Ok(Capability::Log),
                "process" => Ok(Capability::Process),
                "kv" => Ok(Capability::Kv),
                "config" | "secret" | "credential" | "http" | "socket" => {
                    Err(err("this kind needs a value after ':'"))
                }
                _ => Err(err("unknown capability kind")),
            },
            Some(("config", key)) => Ok(Capability::Config(check_key(input, "config key", key)?)),
            Some(("secret", name)) => {
                Ok(Capability::Secret(check_key(input, "secret name", name)?))
            }
            Some(("credential", name)) => Ok(Capability::Credential(check_key(
                input,
                "secret name",
                name,
            )?)),
            Some(("http", host)) => Ok(Capability::Http(HostPattern::parse(input, host)?)),
            Some(("socket", target)) => {
                let pattern = HostPattern::parse(input, target)?;
                // A socket reaches one service: its port is part of the
                // grant, unless the whole choice is the operator's.
                if pattern.port.is_none() && !pattern.is_any() {
                    return Err(err(
                        "a socket capability names its port (socket:<host>:<port>, such as socket:127.0.0.1:6379)",
                    ));
                }
                Ok(Capability::Socket(pattern))
            }
            Some((kind, _)) => Err(err(&format!("unknown capability kind {kind:?}"))),
        }
    }
}

impl TryFrom<String> for Capability {
    type Error = CapabilityError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Capability> for String {
    fn from(value: Capability) -> Self {
        value.to_string()
    }
}

/// Whether a requested capability is granted: covered by a grant, or, for
/// an operator's-choice request, narrowed by one.
fn satisfied(requested: &Capability, granted: &Grants) -> bool {
    granted.covers(requested)
        || (requested.is_operator_choice() && granted.iter().any(|g| requested.covers(g)))
}

/// A set of capabilities: what a manifest requests, or what an operator
/// granted to one pack in one environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grants(BTreeSet<Capability>);

impl Grants {
    /// No capabilities at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether some capability in the set covers `used`.
    pub fn covers(&self, used: &Capability) -> bool {
        self.0.iter().any(|c| c.covers(used))
    }

    /// Adds a capability.
    pub fn insert(&mut self, cap: Capability) {
        self.0.insert(cap);
    }

    /// The capabilities, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Capability> {
        self.0.iter()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The capabilities of `self` that `other` does not cover: what granting
    /// `self` would add on top of `other`.
    /// What a manifest requests (`self`) that `granted` does not satisfy:
    /// each request must be covered by a grant, except that a request
    /// written with `*` (operator's choice: `http:*`, `credential:*`,
    /// `config:*`, `secret:*`) is also satisfied by any narrower grant it
    /// covers.
    pub fn unsatisfied_by(&self, granted: &Grants) -> Vec<Capability> {
        self.0
            .iter()
            .filter(|c| !satisfied(c, granted))
            .cloned()
            .collect()
    }

    /// What `self` holds that `other` does not cover.
    pub fn not_covered_by(&self, other: &Grants) -> Vec<Capability> {
        self.0
            .iter()
            .filter(|c| !other.covers(c))
            .cloned()
            .collect()
    }
}

impl FromIterator<Capability> for Grants {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Grants {
    type Item = &'a Capability;
    type IntoIter = std::collections::btree_set::Iter<'a, Capability>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(s: &str) -> Capability {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// The allowed/denied table mirrored in docs/pack-author-guide.md.
    #[test]
    fn covers_table() {
        let cases = [
            ("log", "log", true),
            ("kv", "kv", true),
            ("kv", "log", false),
            ("config:base_url", "config:base_url", true),
            ("config:base_url", "config:other", false),
            ("config:*", "config:anything", true),
            ("secret:API_KEY", "secret:API_KEY", true),
            ("secret:API_KEY", "secret:api_key", false),
            ("secret:*", "secret:X", true),
            ("http:api.example.com", "http:api.example.com:443", true),
            ("http:api.example.com", "http:API.example.com:8080", true),
            ("http:api.example.com:443", "http:api.example.com:80", false),
            ("http:api.example.com", "http:evil.com:443", false),
            (
                "http:api.example.com",
                "http:api.example.com.evil.com:443",
                false,
            ),
            ("http:*.example.com", "http:api.example.com:443", true),
            ("http:*.example.com", "http:a.b.example.com:443", true),
            ("http:*.example.com", "http:example.com:443", false),
            ("http:*.example.com", "http:badexample.com:443", false),
            ("http:127.0.0.1:8080", "http:127.0.0.1:8080", true),
            ("http:127.0.0.1:8080", "http:127.0.0.1:8081", false),
            ("http:[::1]:8080", "http:[::1]:8080", true),
            ("http:*.example.com", "http:*.api.example.com", true),
            ("http:api.example.com", "http:*.example.com", false),
            ("http:*", "http:anything.example:6443", true),
            ("http:*", "http:*.example.com", true),
            ("http:*:6443", "http:k8s.example:6443", true),
            ("http:*:6443", "http:k8s.example:443", false),
            ("http:*.example.com", "http:*", false),
            ("http:api.example.com", "http:*", false),
            ("socket:127.0.0.1:6379", "socket:127.0.0.1:6379", true),
            ("socket:127.0.0.1:6379", "socket:127.0.0.1:6380", false),
            (
                "socket:redis.internal:6379",
                "socket:REDIS.internal:6379",
                true,
            ),
            ("socket:*", "socket:redis.internal:6379", true),
            ("socket:*:6379", "socket:10.0.0.1:6379", true),
            ("socket:*.internal:6379", "socket:redis.internal:6379", true),
            ("socket:[::1]:6379", "socket:[::1]:6379", true),
            ("http:127.0.0.1:6379", "socket:127.0.0.1:6379", false),
            ("socket:127.0.0.1:6379", "http:127.0.0.1:6379", false),
        ];
        for (granted, used, want) in cases {
            let used = match used.parse::<Capability>() {
                Ok(c) => c,
                Err(e) => panic!("{used}: {e}"),
            };
            assert_eq!(cap(granted).covers(&used), want, "{granted} covers {used}");
        }
    }

    #[test]
    fn parse_errors_are_precise() {
        for (bad, needle) in [
            ("", "unknown capability kind"),
            ("net", "unknown capability kind"),
            ("http", "needs a value"),
            ("http:", "host is empty"),
            ("http:a.com:0", "port must be"),
            ("http:a.com:99999", "port must be"),
            ("http:a*.com", "leading"),
            ("http:a.com/path", "may only hold"),
            ("socket", "needs a value"),
            ("socket:redis.internal", "names its port"),
            ("socket:127.0.0.1:0", "port must be"),
            ("secret:", "1 to 128"),
            ("secret:a b", "has ' '"),
            (" log", "whitespace"),
            ("process:x", "unknown capability kind \"process\""),
        ] {
            match bad.parse::<Capability>() {
                Ok(c) => panic!("{bad:?} parsed as {c}"),
                Err(e) => assert!(e.to_string().contains(needle), "{bad:?}: {e}"),
            }
        }
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "log",
            "kv",
            "config:a.b",
            "secret:*",
            "http:*.example.com",
            "http:[::1]:8080",
            "http:127.0.0.1:1",
            "http:*",
            "http:*:6443",
            "socket:127.0.0.1:6379",
            "socket:[::1]:6379",
            "socket:*",
        ] {
            assert_eq!(cap(s).to_string(), s);
        }
    }

    /// A `*` request is satisfied by a narrower grant; others need cover.
    #[test]
    fn operator_choice_requests() {
        let requested: Grants = [
            cap("http:*"),
            cap("credential:*"),
            cap("log"),
            cap("http:*.example.com"),
        ]
        .into_iter()
        .collect();
        let granted: Grants = [
            cap("http:127.0.0.1:6443"),
            cap("credential:K8S_TOKEN"),
            cap("log"),
            cap("http:api.example.com"),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            requested.unsatisfied_by(&granted),
            vec![cap("http:*.example.com")]
        );
        let nothing: Grants = [cap("log")].into_iter().collect();
        assert_eq!(
            requested.unsatisfied_by(&nothing),
            vec![
                cap("credential:*"),
                cap("http:*"),
                cap("http:*.example.com")
            ]
        );
    }

    #[test]
    fn diff_lists_new_powers() {
        let old: Grants = [cap("log"), cap("http:*.example.com")]
            .into_iter()
            .collect();
        let new: Grants = [
            cap("log"),
            cap("http:api.example.com"),
            cap("http:evil.com"),
        ]
        .into_iter()
        .collect();
        assert_eq!(new.not_covered_by(&old), vec![cap("http:evil.com")]);
    }
}
