//! Errors of Kinetic calls, typed so the pack can map each to the host's
//! error kinds and say how to fix it.
//!
//! An Epicor error body (`{HttpStatus, ReasonPhrase, ErrorMessage,
//! ErrorType, ErrorDetails[], CorrelationId}`) becomes [`KineticError::Server`]
//! with its correlation id kept, so an operator can quote it to the Kinetic
//! administrators.

use std::fmt;

use serde_json::Value;

/// The kind of a failure reported by the host (mirrors the SDK's error
/// variants without depending on them, so this module stays native).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKind {
    /// Malformed input.
    InvalidInput,
    /// Missing thing.
    NotFound,
    /// Capability missing.
    Denied,
    /// State conflict.
    Conflict,
    /// Dependency unreachable.
    Unavailable,
    /// Deadline passed.
    Timeout,
    /// A bug.
    Internal,
}

/// One entry of `ErrorDetails`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorDetail {
    /// `Message`.
    pub message: String,
    /// `Type`.
    pub kind: String,
    /// `Table` and `Field`, when given.
    pub table: String,
    /// `Field`.
    pub field: String,
}

/// What went wrong talking to Kinetic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KineticError {
    /// The server refused the credentials: a 401 that a fresh token did not
    /// cure, or the token endpoint refusing. Names the secrets, never values.
    Unauthorized {
        /// What was refused (the URL called).
        url: String,
        /// The secrets the request carried.
        secrets: Vec<String>,
        /// The server's error, when it sent one.
        server: Option<Box<KineticError>>,
    },
    /// The server answered with an error status.
    Server {
        /// HTTP status.
        status: u16,
        /// The service and method called (`Ice.BO.ExportPackageSvc/GetByID`).
        call: String,
        /// `ReasonPhrase`.
        reason: String,
        /// `ErrorMessage` (or the raw body when it is not an Epicor body).
        message: String,
        /// `ErrorType`.
        error_type: String,
        /// `ErrorDetails`.
        details: Vec<ErrorDetail>,
        /// `CorrelationId`.
        correlation_id: String,
    },
    /// A 2xx answer whose body is not what the API documents.
    Protocol {
        /// The call.
        call: String,
        /// What was wrong.
        why: String,
    },
    /// The operator's input (a spec, a backup, an argument) is malformed.
    Input(String),
    /// A failure of the host (transport, kv, config).
    Host(HostKind, String),
}

impl KineticError {
    /// Parses an error response of `call` with `status` and `body`.
    pub fn from_response(call: &str, status: u16, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        match parsed {
            Some(v) if v.is_object() => {
                let details = v
                    .get("ErrorDetails")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|d| ErrorDetail {
                                message: field(d, "Message"),
                                kind: field(d, "Type"),
                                table: field(d, "Table"),
                                field: field(d, "Field"),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let mut message = field(&v, "ErrorMessage");
                if message.is_empty() {
                    message = field(&v, "Message");
                }
                KineticError::Server {
                    status,
                    call: call.to_string(),
                    reason: field(&v, "ReasonPhrase"),
                    message,
                    error_type: field(&v, "ErrorType"),
                    details,
                    correlation_id: field(&v, "CorrelationId"),
                }
            }
            _ => KineticError::Server {
                status,
                call: call.to_string(),
                reason: String::new(),
                message: truncate(&String::from_utf8_lossy(body), 400),
                error_type: String::new(),
                details: Vec::new(),
                correlation_id: String::new(),
            },
        }
    }

    /// A protocol error for `call`.
    pub fn protocol(call: &str, why: impl Into<String>) -> Self {
        KineticError::Protocol {
            call: call.to_string(),
            why: why.into(),
        }
    }

    /// The HTTP status of a server error.
    pub fn status(&self) -> Option<u16> {
        match self {
            KineticError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's message (and details), for text heuristics such as the
    /// layer-conflict parser.
    pub fn server_text(&self) -> String {
        match self {
            KineticError::Server {
                message, details, ..
            } => {
                let mut out = message.clone();
                for d in details {
                    out.push('\n');
                    out.push_str(&d.message);
                }
                out
            }
            _ => String::new(),
        }
    }

    /// The host error kind this maps to.
    pub fn kind(&self) -> HostKind {
        match self {
            KineticError::Unauthorized { .. } => HostKind::Denied,
            // Kinetic answers an unknown record (a solution id, a table)
            // with 400 and a RecordNotFound error: that is `not-found`.
            KineticError::Server {
                status: 400,
                message,
                error_type,
                ..
            } if error_type.to_ascii_lowercase().contains("recordnotfound")
                || message.to_ascii_lowercase().starts_with("record not found") =>
            {
                HostKind::NotFound
            }
            KineticError::Server { status, .. } => match status {
                400 | 422 => HostKind::InvalidInput,
                401 | 403 => HostKind::Denied,
                404 => HostKind::NotFound,
                409 => HostKind::Conflict,
                408 | 504 => HostKind::Timeout,
                _ => HostKind::Unavailable,
            },
            KineticError::Protocol { .. } => HostKind::Unavailable,
            KineticError::Input(_) => HostKind::InvalidInput,
            KineticError::Host(kind, _) => *kind,
        }
    }
}

impl fmt::Display for KineticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KineticError::Unauthorized {
                url,
                secrets,
                server,
            } => {
                let names: Vec<String> = secrets.iter().map(|s| format!("{s:?}")).collect();
                write!(f, "kinetic refused the credentials for {url} (401)")?;
                if let Some(KineticError::Server {
                    correlation_id,
                    message,
                    ..
                }) = server.as_deref()
                {
                    if !message.is_empty() {
                        write!(f, ": {message}")?;
                    }
                    if !correlation_id.is_empty() {
                        write!(f, " (correlation id {correlation_id})")?;
                    }
                }
                write!(
                    f,
                    "; the API key and user come from the secrets {}: check them and store the right value; help: envpack secrets put --env <env> {}",
                    names.join(", "),
                    secrets
                        .first()
                        .map(String::as_str)
                        .unwrap_or("KINETIC_API_KEY")
                )
            }
            KineticError::Server {
                status,
                call,
                reason,
                message,
                error_type,
                details,
                correlation_id,
            } => {
                write!(f, "kinetic {call} answered {status}")?;
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                for d in details.iter().filter(|d| d.message != *message) {
                    write!(f, "; {}", d.message)?;
                }
                if !error_type.is_empty() {
                    write!(f, " [{error_type}]")?;
                }
                if !correlation_id.is_empty() {
                    write!(f, " (correlation id {correlation_id})")?;
                }
                Ok(())
            }
            KineticError::Protocol { call, why } => {
                write!(f, "kinetic {call} answered in an unexpected shape: {why}")
            }
            KineticError::Input(m) | KineticError::Host(_, m) => f.write_str(m),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epicor_bodies_keep_the_correlation_id() {
        let body = br#"{"HttpStatus":400,"ReasonPhrase":"BLException","ErrorMessage":"Record not found.","ErrorType":"Ice.BLException","ErrorDetails":[{"Message":"Record not found.","Type":"Error","Table":"ExportPackage","Field":""},{"Message":"PackageID FOO","Type":"Error"}],"CorrelationId":"c0ffee-1"}"#;
        let e = KineticError::from_response("Ice.BO.ExportPackageSvc/GetByID", 400, body);
        // An unknown record is not-found, though Kinetic says 400.
        assert_eq!(e.kind(), HostKind::NotFound);
        let rule = br#"{"HttpStatus":400,"ErrorMessage":"Solution ID is required.","ErrorType":"Ice.BLException"}"#;
        assert_eq!(
            KineticError::from_response("S/M", 400, rule).kind(),
            HostKind::InvalidInput,
            "other business errors stay invalid-input"
        );
        let text = e.to_string();
        assert!(text.contains("Record not found."), "{text}");
        assert!(text.contains("correlation id c0ffee-1"), "{text}");
        assert!(text.contains("PackageID FOO"), "{text}");
        assert_eq!(text.matches("Record not found.").count(), 1, "{text}");
    }

    #[test]
    fn statuses_map_to_kinds() {
        for (status, kind) in [
            (404, HostKind::NotFound),
            (409, HostKind::Conflict),
            (403, HostKind::Denied),
            (410, HostKind::Unavailable),
            (503, HostKind::Unavailable),
        ] {
            assert_eq!(
                KineticError::from_response("S/M", status, b"{}").kind(),
                kind
            );
        }
        let raw = KineticError::from_response("S/M", 502, b"<html>bad gateway</html>");
        assert!(raw.to_string().contains("bad gateway"));
    }

    #[test]
    fn unauthorized_names_secrets_and_the_fix() {
        let e = KineticError::Unauthorized {
            url: "http://k/api".into(),
            secrets: vec!["KINETIC_API_KEY".into(), "KINETIC_USER".into()],
            server: None,
        };
        let text = e.to_string();
        assert!(text.contains("\"KINETIC_API_KEY\""));
        assert!(text.contains("envpack secrets put"));
        assert_eq!(e.kind(), HostKind::Denied);
    }
}
