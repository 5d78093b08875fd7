//! A small Kubernetes API client over the host's outbound HTTP. The bearer
//! token is a `{{credential:...}}` placeholder the host fills in as the
//! request leaves: this pack never holds it.
//!
//! Failures become errors an operator can act on: 401 is `denied` naming
//! the secret (never its value) and the command that sets it, 403 names the
//! verb and resource RBAC refused, 409 on apply names the conflicting field
//! managers and the config key that forces.

use envpack_sdk::Error;
use envpack_sdk::http::{Request, Response};
use serde_json::Value;

use crate::objects::Kind;
use crate::settings::{PACK, Settings};

/// The field manager of everything this pack applies.
pub const FIELD_MANAGER: &str = "envpack";

/// One API server, as configured.
pub struct Kube<'a> {
    pub settings: &'a Settings,
}

/// `%`-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `message` (and `reason`) of a Kubernetes `Status` body, or the text.
pub fn status_message(resp: &Response) -> String {
    match serde_json::from_slice::<Value>(&resp.body) {
        Ok(v) if v["kind"] == "Status" => {
            let message = v["message"].as_str().unwrap_or("");
            match v["reason"].as_str() {
                Some(reason) if !reason.is_empty() => format!("{reason}: {message}"),
                _ => message.to_string(),
            }
        }
        _ => {
            let mut text = resp.text();
            text.truncate(300);
            text
        }
    }
}

impl Kube<'_> {
    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, Error> {
        let url = format!("{}{path}", self.settings.server);
        let mut req = Request::new(method, &url)
            .header("accept", "application/json")
            .credential_header("authorization", "Bearer {}", &self.settings.token_secret);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct).body(body);
        }
        req.send().map_err(|e| match e {
            Error::Denied(m) => Error::denied(format!(
                "{m} (this pack needs http:{} and credential:{} granted); help: {}",
                self.settings.authority(),
                self.settings.token_secret,
                self.settings.grant_hint()
            )),
            Error::Unavailable(m) => Error::unavailable(format!(
                "the Kubernetes API server {} is not reachable: {m}; help: check it with kubectl --server {} version, or set the right one: envpack env config {} {PACK} server <URL>",
                self.settings.server, self.settings.server, self.settings.environment
            )),
            other => other,
        })
    }

    /// The error for a failed call of `verb` on `kind` (object `name`).
    pub fn failure(&self, verb: &str, kind: &Kind, name: &str, resp: &Response) -> Error {
        let s = self.settings;
        let what = if name.is_empty() {
            format!("{} in namespace {:?}", kind.resource(), s.namespace)
        } else {
            format!(
                "{} {name:?} in namespace {:?}",
                kind.resource(),
                s.namespace
            )
        };
        let detail = status_message(resp);
        match resp.status {
            401 => Error::denied(format!(
                "the Kubernetes API server {} refused the bearer token in secret {:?} (401 Unauthorized: the token is wrong or expired); help: envpack secrets put --env {} {}",
                s.server, s.token_secret, s.environment, s.token_secret
            )),
            403 => Error::denied(format!(
                "RBAC denies {verb} on {what} to the token in secret {:?}: {detail}; help: {}",
                s.token_secret,
                rbac_fix(s, verb, kind)
            )),
            404 => Error::not_found(format!("{what} does not exist: {detail}")),
            409 => Error::conflict(format!(
                "server-side apply of {what} conflicts with other field managers: {detail}; help: take the fields over with envpack env config {} {PACK} force_conflicts true, or change them back with the manager that owns them",
                s.environment
            )),
            422 | 400 => Error::invalid_input(format!(
                "the API server rejected {verb} on {what}: {detail}"
            )),
            code => Error::unavailable(format!(
                "{verb} on {what} failed with HTTP {code}: {detail}"
            )),
        }
    }

    /// GET `path`; `None` on 404.
    pub fn get(&self, kind: &Kind, name: &str) -> Result<Option<Value>, Error> {
        let resp = self.send(
            "GET",
            &kind.object(&self.settings.namespace, name),
            None,
            vec![],
        )?;
        match resp.status {
            200 => parse(&resp).map(Some),
            404 => Ok(None),
            _ => Err(self.failure("get", kind, name, &resp)),
        }
    }

    /// GET any path, such as discovery; the status and parsed body.
    pub fn raw_get(&self, path: &str) -> Result<(u16, Value), Error> {
        let resp = self.send("GET", path, None, vec![])?;
        Ok((
            resp.status,
            serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
        ))
    }

    /// POST a JSON body to any path.
    pub fn raw_post(&self, path: &str, body: &Value) -> Result<Response, Error> {
        self.send(
            "POST",
            path,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
    }

    /// The objects of `kind` matching `selector`, sorted by name.
    pub fn list(&self, kind: &Kind, selector: &str) -> Result<Vec<Value>, Error> {
        let path = format!(
            "{}?labelSelector={}",
            kind.collection(&self.settings.namespace),
            encode(selector)
        );
        let resp = self.send("GET", &path, None, vec![])?;
        if resp.status != 200 {
            return Err(self.failure("list", kind, "", &resp));
        }
        let mut items = match parse(&resp)?["items"].take() {
            Value::Array(items) => items,
            _ => vec![],
        };
        items.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        Ok(items)
    }

    /// Server-side apply of `body` as `manager`; returns the object.
    pub fn apply(
        &self,
        kind: &Kind,
        name: &str,
        body: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, Error> {
        let mut path = format!(
            "{}?fieldManager={}",
            kind.object(&self.settings.namespace, name),
            encode(manager)
        );
        if force {
            path.push_str("&force=true");
        }
        let resp = self.send(
            "PATCH",
            &path,
            Some("application/apply-patch+yaml"),
            body.to_string().into_bytes(),
        )?;
        match resp.status {
            200 | 201 => parse(&resp),
            _ => Err(self.failure("patch", kind, name, &resp)),
        }
    }

    /// DELETE any path; the raw answer.
    pub fn delete_path(&self, path: &str) -> Result<Response, Error> {
        self.send("DELETE", path, None, vec![])
    }

    /// DELETE an object; `false` when it was already gone.
    pub fn delete(&self, kind: &Kind, name: &str) -> Result<bool, Error> {
        let body =
            br#"{"apiVersion":"v1","kind":"DeleteOptions","propagationPolicy":"Background"}"#
                .to_vec();
        let resp = self.send(
            "DELETE",
            &kind.object(&self.settings.namespace, name),
            Some("application/json"),
            body,
        )?;
        match resp.status {
            200 | 202 => Ok(true),
            404 => Ok(false),
            _ => Err(self.failure("delete", kind, name, &resp)),
        }
    }
}

/// `metadata.name` of an object.
pub fn name_of(v: &Value) -> &str {
    v["metadata"]["name"].as_str().unwrap_or("")
}

fn parse(resp: &Response) -> Result<Value, Error> {
    serde_json::from_slice(&resp.body).map_err(|e| {
        Error::unavailable(format!(
            "the API server answered {} with a body that is not JSON: {e}",
            resp.status
        ))
    })
}

/// The kubectl commands that grant what this pack needs.
pub fn rbac_fix(s: &Settings, verb: &str, kind: &Kind) -> String {
    format!(
        "kubectl -n {ns} create role envpack-deployer --verb=get,list,watch,create,patch,update,delete --resource=deployments.apps,services,configmaps,pods,events,httproutes.gateway.networking.k8s.io && kubectl -n {ns} create rolebinding envpack-deployer --role=envpack-deployer --serviceaccount={ns}:<service-account> (this call needed {verb} on {})",
        kind.resource(),
        ns = s.namespace
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_selectors() {
        assert_eq!(encode("a.b/c=d,e"), "a.b%2Fc%3Dd%2Ce");
    }

    #[test]
    fn reads_status_bodies() {
        let resp = Response {
            status: 409,
            headers: vec![],
            body: br#"{"kind":"Status","reason":"Conflict","message":"Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas","code":409}"#.to_vec(),
        };
        assert_eq!(
            status_message(&resp),
            "Conflict: Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"
        );
    }
}
