//! Errors: the Epicor error body the double answers with, and the library's own errors.
//!
//! Kinetic answers every failure with one JSON shape
//! (`{HttpStatus, ReasonPhrase, ErrorMessage, ErrorType, ErrorDetails[], CorrelationId}`);
//! clients key off `HttpStatus` and show `ErrorMessage`, so the double builds every failure
//! through [`EpicorError`] and never answers a bare status.

use serde_json::{Value, json};

/// A failure as Kinetic reports it. The correlation id is added when the body is rendered,
/// so every answer gets a fresh one.
#[derive(Debug, Clone, PartialEq)]
pub struct EpicorError {
    /// HTTP status (400 business rule, 401 credentials, 403 scope, 404 unknown, 409 duplicate...).
    pub status: u16,
    /// The human message (`ErrorMessage`).
    pub message: String,
    /// The server-side exception type (`ErrorType`).
    pub error_type: String,
    /// `ErrorDetails[]` rows: `{Message, Type, Table, Field}`.
    pub details: Vec<Value>,
}

impl EpicorError {
    /// An error with the given status, message and exception type.
    pub fn new(status: u16, message: impl Into<String>, error_type: &str) -> Self {
        Self {
            status,
            message: message.into(),
            error_type: error_type.to_string(),
            details: Vec::new(),
        }
    }

    /// 400: a business rule or OData error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message, "Ice.Common.BusinessObjectException")
    }

    /// 400: the record does not exist (Kinetic answers unknown ids with 400, not 404).
    pub fn record_not_found(message: impl Into<String>) -> Self {
        Self::new(400, message, "Ice.Common.RecordNotFoundException")
    }

    /// 401: missing or wrong credentials, API key or token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message, "Ice.Common.UnauthorizedAccessException")
    }

    /// 403: authenticated but outside the caller's scope (an unknown company).
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message, "Ice.Common.AccessDeniedException")
    }

    /// 404: unknown service, method or route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            404,
            message,
            "Epicor.RESTApi.ErrorHandling.NotFoundException",
        )
    }

    /// 409: a duplicate record.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message, "Ice.Common.DuplicateRecordException")
    }

    /// Adds one `ErrorDetails` row naming the table and field at fault.
    pub fn with_detail(mut self, table: &str, field: &str) -> Self {
        self.details.push(json!({
            "Message": self.message,
            "Type": "Error",
            "Table": table,
            "Field": field,
        }));
        self
    }

    /// The JSON body Kinetic would send, with the given correlation id.
    pub fn body(&self, correlation_id: &str) -> Value {
        let details = if self.details.is_empty() {
            vec![json!({"Message": self.message, "Type": "Error", "Table": "", "Field": ""})]
        } else {
            self.details.clone()
        };
        json!({
            "HttpStatus": self.status,
            "ReasonPhrase": reason_phrase(self.status),
            "ErrorMessage": self.message,
            "ErrorType": self.error_type,
            "ErrorDetails": details,
            "CorrelationId": correlation_id,
        })
    }
}

/// The standard reason phrase for a status, as Kinetic puts it in `ReasonPhrase`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Gone",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    }
}

/// Why the double could not start or a library call was refused.
#[derive(Debug, thiserror::Error)]
pub enum DoubleError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}\nhelp: pick a free port, e.g. --listen 127.0.0.1:0")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The runtime thread could not be started.
    #[error("cannot start the double's runtime: {0}")]
    Runtime(std::io::Error),
    /// A control call named a company the double does not serve.
    #[error("unknown company '{0}'\nhelp: start the double with --company {0}")]
    UnknownCompany(String),
    /// A control call named a record that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A control call's input was malformed.
    #[error("{0}")]
    Invalid(String),
}
