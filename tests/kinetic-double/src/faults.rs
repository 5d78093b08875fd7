//! Fault injection: the next N calls to a route answer a given status and body, or are
//! delayed before being answered normally.
//!
//! Faults are checked before authentication, as a failing gateway or app server would answer
//! before Kinetic looks at credentials.

use std::time::Duration;

use serde_json::Value;

use crate::error::DoubleError;
use crate::util::field;

/// What a matching call gets.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answer this status. With `body: None` the body is an Epicor error body for the status
    /// (or `{}` for a 2xx); with a body, that JSON verbatim.
    Respond {
        /// The HTTP status.
        status: u16,
        /// The JSON body, or `None` for the standard one.
        body: Option<Value>,
        /// `ErrorMessage` of the standard error body.
        message: Option<String>,
    },
    /// Wait, then answer normally.
    Delay(Duration),
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// `Service/Method` (`Ice.BO.ExportPackageSvc/Install`), `Service` for every method of it,
    /// `TokenResource.svc`, or `*` for every call. Case-insensitive.
    pub route: String,
    /// How many more calls it applies to.
    pub remaining: u32,
    /// What those calls get.
    pub action: FaultAction,
}

impl Fault {
    /// The next `times` calls to `route` answer `status` with the standard body.
    pub fn status(route: &str, times: u32, status: u16) -> Self {
        Self {
            route: route.to_string(),
            remaining: times,
            action: FaultAction::Respond {
                status,
                body: None,
                message: None,
            },
        }
    }

    /// The next `times` calls to `route` answer `status` with this JSON body verbatim.
    pub fn body(route: &str, times: u32, status: u16, body: Value) -> Self {
        Self {
            route: route.to_string(),
            remaining: times,
            action: FaultAction::Respond {
                status,
                body: Some(body),
                message: None,
            },
        }
    }

    /// The next `times` calls to `route` answer `status` with an Epicor error body whose
    /// `ErrorMessage` is `message`.
    pub fn message(route: &str, times: u32, status: u16, message: &str) -> Self {
        Self {
            route: route.to_string(),
            remaining: times,
            action: FaultAction::Respond {
                status,
                body: None,
                message: Some(message.to_string()),
            },
        }
    }

    /// The next `times` calls to `route` wait `delay` first.
    pub fn delay(route: &str, times: u32, delay: Duration) -> Self {
        Self {
            route: route.to_string(),
            remaining: times,
            action: FaultAction::Delay(delay),
        }
    }

    /// Parses the control API's form:
    /// `{route, times?, status?, body?, message?, delayMs?}` (times defaults to 1).
    pub fn from_json(v: &Value) -> Result<Self, DoubleError> {
        let route = field(v, "route");
        if route.is_empty() {
            return Err(DoubleError::Invalid(
                "a fault needs a \"route\" such as \"Ice.BO.ExportPackageSvc/Install\" or \"*\""
                    .into(),
            ));
        }
        let times = v.get("times").and_then(Value::as_u64).unwrap_or(1);
        let times = u32::try_from(times).unwrap_or(u32::MAX);
        if let Some(ms) = v.get("delayMs").and_then(Value::as_u64) {
            return Ok(Self::delay(route, times, Duration::from_millis(ms)));
        }
        let status = v.get("status").and_then(Value::as_u64).ok_or_else(|| {
            DoubleError::Invalid("a fault needs a \"status\" (e.g. 503) or a \"delayMs\"".into())
        })?;
        let status = u16::try_from(status)
            .ok()
            .filter(|s| (100..=599).contains(s))
            .ok_or_else(|| DoubleError::Invalid(format!("fault status {status} is not 100-599")))?;
        Ok(Self {
            route: route.to_string(),
            remaining: times,
            action: FaultAction::Respond {
                status,
                body: v.get("body").cloned(),
                message: v.get("message").and_then(Value::as_str).map(str::to_string),
            },
        })
    }

    fn matches(&self, route: &str) -> bool {
        if self.route == "*" {
            return true;
        }
        let (want, got) = (self.route.to_ascii_lowercase(), route.to_ascii_lowercase());
        got == want || got.starts_with(&format!("{want}/"))
    }
}

/// Takes one use of the first live fault matching `route`, if any.
pub fn take(faults: &mut Vec<Fault>, route: &str) -> Option<FaultAction> {
    let i = faults
        .iter()
        .position(|f| f.remaining > 0 && f.matches(route))?;
    faults[i].remaining -= 1;
    let action = faults[i].action.clone();
    faults.retain(|f| f.remaining > 0);
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_by_service_or_method() {
        let table = [
            ("*", "TokenResource.svc", true),
            (
                "Ice.BO.ExportPackageSvc",
                "Ice.BO.ExportPackageSvc/Install",
                true,
            ),
            (
                "ice.bo.exportpackagesvc/install",
                "Ice.BO.ExportPackageSvc/Install",
                true,
            ),
            (
                "Ice.BO.ExportPackageSvc/Install",
                "Ice.BO.ExportPackageSvc/GetList",
                false,
            ),
            (
                "Ice.BO.ExportPackage",
                "Ice.BO.ExportPackageSvc/GetList",
                false,
            ),
        ];
        for (fault, route, expected) in table {
            assert_eq!(
                Fault::status(fault, 1, 503).matches(route),
                expected,
                "{fault} {route}"
            );
        }
    }

    #[test]
    fn a_fault_is_used_up() {
        let mut faults = vec![Fault::status("*", 2, 503)];
        assert!(take(&mut faults, "a/b").is_some());
        assert!(take(&mut faults, "a/b").is_some());
        assert!(take(&mut faults, "a/b").is_none());
        assert!(faults.is_empty());
    }
}
