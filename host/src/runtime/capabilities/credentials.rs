//! `credential:<name>`: secrets the host puts into a pack's outbound HTTP
//! request headers, so packs that talk to APIs never hold the keys.
//!
//! A pack writes `{{credential:NAME}}` where the value goes, in any header
//! value (`x-api-key: {{credential:KINETIC_API_KEY}}`, `authorization:
//! Bearer {{credential:K8S_TOKEN}}`). Just before the request leaves, and
//! only for a request the `http:` grants already allow, the host replaces
//! each placeholder with the secret from the environment's secrets pack and
//! marks the header sensitive. Placeholders elsewhere (URL, body) are never
//! replaced.
//!
//! | manifest requests      | operator granted       | `{{credential:API_KEY}}` in a header |
//! |------------------------|------------------------|--------------------------------------|
//! | `credential:API_KEY`   | `credential:API_KEY`   | replaced with the secret's value     |
//! | `credential:API_KEY`   | -                      | request refused (`HTTP-request-denied`) |
//! | -                      | `credential:API_KEY`   | request refused                      |
//!
//! `credential:X` never allows reading X through `secrets-access`.

use envpack_manifest::Capability;
use http::HeaderValue;
use http::header::HeaderMap;

use super::Granter;
use super::secrets::SecretSource;

/// Opens a placeholder.
pub const OPEN: &str = "{{credential:";

/// Why a request's credentials could not be attached.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not requested or not granted (recorded as a denial).
    Denied,
    /// Granted, but the secret is not set (or the secrets pack failed).
    Missing(String),
}

/// The names of the placeholders in `value`, or `None` for a malformed one.
fn placeholders(value: &str) -> Option<Vec<&str>> {
    let mut names = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let end = after.find("}}")?;
        names.push(&after[..end]);
        rest = &after[end + 2..];
    }
    Some(names)
}

/// Replaces every placeholder in `headers` with its secret.
pub(crate) fn attach(
    granter: &Granter,
    secrets: &dyn SecretSource,
    headers: &mut HeaderMap,
) -> Result<(), Refusal> {
    for value in headers.values_mut() {
        let Ok(text) = value.to_str() else { continue };
        if !text.contains(OPEN) {
            continue;
        }
        let mut filled = text.to_string();
        for name in placeholders(text).ok_or(Refusal::Missing(
            "a header has an unterminated {{credential:...}} placeholder".into(),
        ))? {
            granter
                .check(&Capability::Credential(name.to_string()))
                .map_err(|_| Refusal::Denied)?;
            let secret = match secrets.get(granter.pack(), name) {
                Ok(Some(v)) => v,
                Ok(None) => {
                    return Err(Refusal::Missing(format!(
                        "secret {name:?} is not set in this environment; help: envpack secrets put --env <env> {name}"
                    )));
                }
                Err(_) => {
                    return Err(Refusal::Missing(format!(
                        "secret {name:?} could not be read from the environment's secrets pack"
                    )));
                }
            };
            filled = filled.replace(&format!("{OPEN}{name}}}}}"), &secret);
        }
        let mut new = HeaderValue::from_str(&filled)
            .map_err(|_| Refusal::Missing("a credential is not a valid header value".into()))?;
        new.set_sensitive(true);
        *value = new;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::runtime::capabilities::table::granter;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(value).expect("value"),
        );
        h
    }

    /// The table above, a missing secret, and placeholders parsed exactly.
    #[test]
    fn allows() {
        let secrets: BTreeMap<String, String> =
            [("API_KEY".to_string(), "s3cr3t".to_string())].into();
        let g = granter(&["credential:API_KEY"], &["credential:API_KEY"]);
        let mut h = headers("Bearer {{credential:API_KEY}}");
        attach(&g, &secrets, &mut h).expect("attached");
        assert_eq!(h["authorization"], "Bearer s3cr3t");
        assert!(h["authorization"].is_sensitive());
        for (requested, granted) in [
            (&["credential:API_KEY"][..], &[][..]),
            (&[][..], &["credential:API_KEY"][..]),
        ] {
            let mut h = headers("{{credential:API_KEY}}");
            assert_eq!(
                attach(&granter(requested, granted), &secrets, &mut h),
                Err(Refusal::Denied)
            );
        }
        // Reading the secret is still refused with only the credential.
        assert!(g.check(&Capability::Secret("API_KEY".into())).is_err());
        let g = granter(&["credential:*"], &["credential:OTHER"]);
        let mut h = headers("{{credential:OTHER}}");
        assert!(matches!(
            attach(&g, &secrets, &mut h),
            Err(Refusal::Missing(_))
        ));
        assert_eq!(
            placeholders("a {{credential:X}} b {{credential:Y}}"),
            Some(vec!["X", "Y"])
        );
        assert_eq!(placeholders("{{credential:X"), None);
    }
}
