//! Who may use the dashboard, and which requests may change anything.
//!
//! - **Bind**: loopback addresses only, unless a token is configured: a
//!   dashboard that can shift production traffic is never open to a
//!   network by accident.
//! - **Token** (`--token-file`): every request carries it, as
//!   `Authorization: Bearer <token>` (scripts) or as the `envpack_ui`
//!   cookie (browsers) that `GET /?token=<token>` sets (HttpOnly,
//!   SameSite=Strict) before redirecting to a URL without it.
//! - **Host**: without a token, the `Host` header must name a loopback
//!   address or `localhost`, so a page on another site cannot reach the
//!   dashboard by pointing its own name at 127.0.0.1 (DNS rebinding).
//! - **Changes** are POSTs with a JSON body, and an `Origin`, when the
//!   browser sends one, equal to the dashboard's own: a form on another
//!   site cannot send JSON, and a script there cannot either without a
//!   CORS grant this server never gives.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::error::{Error, Result};

/// The cookie a `?token=` login sets.
pub const COOKIE: &str = "envpack_ui";

/// Who may use the dashboard.
#[derive(Clone)]
pub struct Access {
    token: Option<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// What a request may do.
#[derive(Debug)]
pub enum Verdict {
    /// Serve it.
    Allowed,
    /// A login with the right token: set the cookie, then go to `location`.
    Login {
        /// Where to go, without the token in the URL.
        location: String,
    },
    /// Refused: 401 without a valid token, 403 for a foreign host or origin.
    Refused {
        /// The HTTP status.
        status: u16,
        /// Why, and what to do.
        error: Error,
    },
}

impl Access {
    /// The access for `listen`: the token read from `token_file`, if one.
    /// A non-loopback address without a token is refused.
    pub fn new(listen: SocketAddr, token_file: Option<&Path>) -> Result<Self> {
        let token = token_file.map(read_token).transpose()?;
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(Error::denied(format!(
                "refusing to serve the dashboard on {listen} without a token: \
                 it shows every environment and can shift traffic, and {} is not a loopback address",
                listen.ip()
            ))
            .hint(format!(
                "put a long random token in a file (head -c 24 /dev/urandom | base64 | tr '+/' '-_' > TOKEN_FILE; chmod 600 TOKEN_FILE), \
                 then: envpack ui --listen {listen} --token-file TOKEN_FILE; or stay on loopback: envpack ui --listen 127.0.0.1:{}",
                listen.port()
            )));
        }
        Ok(Self { token })
    }

    /// Whether a token is required.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The value of the login cookie.
    pub(super) fn token_for_cookie(&self) -> &str {
        self.token.as_deref().unwrap_or("")
    }

    /// Judges a request from its method, path and query, and headers.
    pub fn judge(&self, req: &RequestFacts<'_>) -> Verdict {
        if let Some(token) = &self.token {
            if let Some(given) = query_param(req.query, "token") {
                // Typed into the address bar the token comes as it is; sent
                // by the login form, form-encoded (`+` as `%2B`).
                let decoded = decoded_param(req.query, "token").unwrap_or_default();
                if req.method == "GET" && (same(given, token) || same(&decoded, token)) {
                    // A path only: `//host` would leave the dashboard.
                    let location = if req.path.starts_with("//") {
                        "/"
                    } else {
                        req.path
                    };
                    return Verdict::Login {
                        location: location.to_string(),
                    };
                }
                return refused(401, "the token in the URL is not the dashboard's token");
            }
            let bearer = req.authorization.and_then(|a| a.strip_prefix("Bearer "));
            let cookie = req.cookie.and_then(|c| cookie_value(c, COOKIE));
            if !bearer.or(cookie).is_some_and(|t| same(t.trim(), token)) {
                return refused(
                    401,
                    "this dashboard needs its token (--token-file): none or a wrong one was sent",
                );
            }
        } else if !req.host.is_some_and(loopback_host) {
            return refused(
                403,
                &format!(
                    "host {:?} is not a loopback name; without a token the dashboard answers only to 127.0.0.1, [::1] and localhost",
                    req.host.unwrap_or("")
                ),
            );
        }
        if req.method != "GET" && req.method != "HEAD" {
            if !req
                .content_type
                .is_some_and(|c| c.starts_with("application/json"))
            {
                return refused(
                    403,
                    "changes are accepted only as JSON (Content-Type: application/json)",
                );
            }
            if let Some(origin) = req.origin {
                let own = req.host.is_some_and(|h| {
                    origin == format!("http://{h}") || origin == format!("https://{h}")
                });
                if !own {
                    return refused(
                        403,
                        &format!(
                            "origin {origin:?} is not this dashboard's; changes come from its own page"
                        ),
                    );
                }
            }
        }
        Verdict::Allowed
    }
}

/// What [`Access::judge`] looks at.
#[derive(Debug, Default)]
pub struct RequestFacts<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// The query string, if any.
    pub query: Option<&'a str>,
    /// `Host`.
    pub host: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `Cookie`.
    pub cookie: Option<&'a str>,
    /// `Content-Type`.
    pub content_type: Option<&'a str>,
}

fn refused(status: u16, why: &str) -> Verdict {
    Verdict::Refused {
        status,
        error: Error::denied(why.to_string()).hint(
            "open the address envpack ui printed, or send the token: curl -H \"Authorization: Bearer $(cat TOKEN_FILE)\" http://HOST:PORT/api/v1/ladder",
        ),
    }
}

fn read_token(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("read the dashboard token", path, e))?;
    let token = String::from_utf8_lossy(&bytes).trim().to_string();
    if token.len() < 16 || token.contains(char::is_whitespace) {
        return Err(Error::invalid(format!(
            "the token in {} is too short or has spaces: it needs at least 16 characters and no whitespace",
            path.display()
        ))
        .hint(format!(
            "head -c 24 /dev/urandom | base64 | tr '+/' '-_' > {}",
            path.display()
        )));
    }
    Ok(token)
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A parameter of a query string, form-decoded (`%xx`, `+` as a space).
pub fn decoded_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A parameter of a query string, as it was sent.
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .find_map(|kv| kv.trim().strip_prefix(name)?.strip_prefix('='))
}

/// `127.0.0.1:8470`, `[::1]:8470`, `localhost:8470` (any port).
fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn access(token: Option<&str>) -> Access {
        Access {
            token: token.map(str::to_string),
        }
    }

    fn get<'a>(host: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            method: "GET",
            path: "/api/v1/ladder",
            host: Some(host),
            ..RequestFacts::default()
        }
    }

    fn status(v: Verdict) -> u16 {
        match v {
            Verdict::Allowed => 200,
            Verdict::Login { .. } => 303,
            Verdict::Refused { status, .. } => status,
        }
    }

    #[test]
    fn a_network_address_needs_a_token() {
        let err = Access::new("0.0.0.0:8470".parse().unwrap(), None).unwrap_err();
        assert!(err.message().contains("without a token"), "{err:?}");
        assert!(err.hint_text().unwrap().contains("--token-file"));
        assert!(Access::new("127.0.0.1:0".parse().unwrap(), None).is_ok());
        assert!(Access::new("[::1]:0".parse().unwrap(), None).is_ok());
    }

    #[test]
    fn without_a_token_only_loopback_hosts_are_answered() {
        let a = access(None);
        for host in [
            "127.0.0.1:8470",
            "localhost:8470",
            "[::1]:8470",
            "LOCALHOST",
        ] {
            assert_eq!(status(a.judge(&get(host))), 200, "{host}");
        }
        for host in ["evil.example:8470", "10.0.0.1:8470", ""] {
            assert_eq!(status(a.judge(&get(host))), 403, "{host}");
        }
    }

    #[test]
    fn a_token_is_taken_as_bearer_cookie_or_login() {
        let t = "0123456789abcdef0123";
        let a = access(Some(t));
        assert_eq!(status(a.judge(&get("ui.example"))), 401);
        let bearer = format!("Bearer {t}");
        let r = RequestFacts {
            authorization: Some(&bearer),
            ..get("ui.example")
        };
        assert_eq!(status(a.judge(&r)), 200);
        let cookie = format!("other=1; {COOKIE}={t}");
        let r = RequestFacts {
            cookie: Some(&cookie),
            ..get("ui.example")
        };
        assert_eq!(status(a.judge(&r)), 200);
        let wrong = format!("{COOKIE}={t}x");
        let r = RequestFacts {
            cookie: Some(&wrong),
            ..get("ui.example")
        };
        assert_eq!(status(a.judge(&r)), 401);
        let q = format!("token={t}");
        let r = RequestFacts {
            path: "/",
            query: Some(&q),
            ..get("ui.example")
        };
        assert!(
            matches!(a.judge(&r), Verdict::Login { location } if location == "/"),
            "a login"
        );
        let r = RequestFacts {
            query: Some("token=nope"),
            ..get("ui.example")
        };
        assert_eq!(status(a.judge(&r)), 401);
        // A base64 token, as the login form sends it.
        let b64 = access(Some("ab+cd/ef=0123456789"));
        let r = RequestFacts {
            path: "/",
            query: Some("token=ab%2Bcd%2Fef%3D0123456789"),
            ..get("ui.example")
        };
        assert_eq!(status(b64.judge(&r)), 303);
        let r = RequestFacts {
            path: "/",
            query: Some("token=ab+cd/ef=0123456789"),
            ..get("ui.example")
        };
        assert_eq!(status(b64.judge(&r)), 303);
    }

    #[test]
    fn changes_need_json_from_the_own_origin() {
        let a = access(None);
        let post = |ct: Option<&'static str>, origin: Option<&'static str>| RequestFacts {
            method: "POST",
            path: "/api/v1/env/dev/deployments/web/traffic",
            host: Some("127.0.0.1:8470"),
            content_type: ct,
            origin,
            ..RequestFacts::default()
        };
        assert_eq!(status(a.judge(&post(Some("application/json"), None))), 200);
        assert_eq!(
            status(a.judge(&post(
                Some("application/json"),
                Some("http://127.0.0.1:8470")
            ))),
            200
        );
        assert_eq!(
            status(a.judge(&post(Some("text/plain"), Some("http://127.0.0.1:8470")))),
            403
        );
        assert_eq!(
            status(a.judge(&post(Some("application/json"), Some("http://evil.example")))),
            403
        );
    }

    #[test]
    fn short_tokens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        std::fs::write(&f, "short\n").unwrap();
        let err = Access::new("0.0.0.0:1".parse().unwrap(), Some(&f)).unwrap_err();
        assert!(err.message().contains("too short"), "{err:?}");
        std::fs::write(&f, "0123456789abcdef0123\n").unwrap();
        assert!(
            Access::new("0.0.0.0:1".parse().unwrap(), Some(&f))
                .unwrap()
                .has_token()
        );
    }
}
