//! `oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`: where an artifact lives in
//! a registry, validated once, so no bare string crosses the module.

use std::fmt;
use std::str::FromStr;

use envpack_manifest::Digest;

use crate::error::{Error, Result};

/// The scheme every registry reference starts with.
pub const SCHEME: &str = "oci://";

/// A reference to an artifact in an OCI registry: a tag, a digest, or a
/// tag pinned to a digest (the digest wins when both are given).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OciRef {
    host: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl OciRef {
    /// The registry's `HOST[:PORT]`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The repository path inside the registry.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The manifest digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository at `tag` (no digest).
    pub fn at_tag(&self, tag: &str) -> Result<Self> {
        check_tag(tag, &self.to_string())?;
        Ok(Self {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository and tag, pinned to `digest`.
    pub fn pinned(&self, digest: Digest) -> Self {
        Self {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository at `digest` only (no tag).
    pub fn by_digest(&self, digest: Digest) -> Self {
        Self {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same reference without its digest (what a tag points at now).
    pub fn unpinned(&self) -> Self {
        Self {
            digest: None,
            ..self.clone()
        }
    }

    /// A repository under this one: `oci://HOST/PREFIX/NAME`.
    pub fn child(&self, name: &str) -> Result<Self> {
        let repository = format!("{}/{name}", self.repository.trim_end_matches('/'));
        check_repository(&repository, &repository)?;
        Ok(Self {
            host: self.host.clone(),
            repository,
            tag: None,
            digest: None,
        })
    }

    /// The host without its port.
    fn hostname(&self) -> &str {
        if let Some(rest) = self.host.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        self.host.split(':').next().unwrap_or(&self.host)
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`,
    /// `[::1]`): spoken to over plain HTTP, as docker, oras and crane do.
    pub fn is_loopback(&self) -> bool {
        let h = self.hostname();
        h == "localhost"
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for OciRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.host, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn bad(text: &str, why: &str) -> Error {
    Error::invalid(format!("{text:?} is not a registry reference: {why}")).hint(
        "write oci://HOST[:PORT]/REPOSITORY:TAG or oci://HOST/REPOSITORY@sha256:<64 hex>, e.g. oci://registry.example.com/packs/acme.state.memory:1.2.0",
    )
}

fn check_repository(repo: &str, text: &str) -> Result<()> {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && p.as_bytes()[0].is_ascii_alphanumeric()
            && p.as_bytes()[p.len() - 1].is_ascii_alphanumeric()
    };
    if repo.is_empty() || repo.len() > 255 || !repo.split('/').all(ok_part) {
        return Err(bad(
            text,
            "the repository must be lowercase letters, digits and . _ - in parts separated by /",
        ));
    }
    Ok(())
}

fn check_tag(tag: &str, text: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && (tag.as_bytes()[0].is_ascii_alphanumeric() || tag.starts_with('_'))
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(bad(
            text,
            &format!(
                "tag {tag:?} must be up to 128 letters, digits, . _ - (not starting with . or -)"
            ),
        ));
    }
    Ok(())
}

impl FromStr for OciRef {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad(text, "it does not start with oci://"))?;
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| bad(text, "it names no repository after the host"))?;
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        {
            return Err(bad(text, &format!("{host:?} is not a HOST[:PORT]")));
        }
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => {
                let digest = d
                    .parse::<Digest>()
                    .map_err(|_| bad(text, &format!("{d:?} is not sha256:<64 lowercase hex>")))?;
                (p, Some(digest))
            }
            None => (path, None),
        };
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_slash..].find(':') {
            Some(i) => (&path[..last_slash + i], Some(&path[last_slash + i + 1..])),
            None => (path, None),
        };
        check_repository(repository, text)?;
        if let Some(t) = tag {
            check_tag(t, text)?;
        }
        Ok(Self {
            host: host.to_string(),
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

/// Where an installed pack was pulled from: the reference as asked (a
/// tag, or a digest alone) and the manifest digest it resolved to then.
/// Recorded in the store's ref and copied into each binding's lock entry,
/// so a tag that later points elsewhere is seen as drift.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackOrigin {
    /// The reference given (`oci://HOST/REPO:TAG`, or `...@sha256:...`).
    pub reference: OciRef,
    /// The manifest digest it resolved to when pulled.
    pub manifest: Digest,
}

impl serde::Serialize for OciRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for OciRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e: Error| serde::de::Error::custom(e.message().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_digests_and_ports() {
        let hex = "a".repeat(64);
        let cases = [
            (
                "oci://127.0.0.1:5000/acme/x:1.2.0",
                "127.0.0.1:5000",
                "acme/x",
                Some("1.2.0"),
                false,
            ),
            ("oci://localhost/x", "localhost", "x", None, false),
            (
                &format!("oci://r.example.com/a/b@sha256:{hex}"),
                "r.example.com",
                "a/b",
                None,
                true,
            ),
            (
                &format!("oci://r.example.com:443/a:t@sha256:{hex}"),
                "r.example.com:443",
                "a",
                Some("t"),
                true,
            ),
        ];
        for (text, host, repo, tag, has_digest) in cases {
            let r: OciRef = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.host(), host, "{text}");
            assert_eq!(r.repository(), repo, "{text}");
            assert_eq!(r.tag(), tag, "{text}");
            assert_eq!(r.digest().is_some(), has_digest, "{text}");
            assert_eq!(r.to_string(), text, "round trip");
        }
    }

    #[test]
    fn refuses_what_is_not_a_reference() {
        for bad in [
            "127.0.0.1:5000/x:1",
            "oci://",
            "oci://host",
            "oci://host/",
            "oci://host/UPPER:1",
            "oci://host/x:-bad",
            "oci://host/x@sha256:12",
            "oci://host/a//b",
            "oci:///x",
            "oci://ho st/x",
        ] {
            let e = bad.parse::<OciRef>().expect_err(bad);
            assert!(e.hint_text().is_some_and(|h| h.contains("oci://")), "{bad}");
        }
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for (text, loopback) in [
            ("oci://127.0.0.1:5000/x", true),
            ("oci://127.1.2.3/x", true),
            ("oci://localhost:5000/x", true),
            ("oci://[::1]:5000/x", true),
            ("oci://registry.example.com/x", false),
            ("oci://10.0.0.1:5000/x", false),
            ("oci://localhost.example.com/x", false),
        ] {
            let r: OciRef = text.parse().expect(text);
            assert_eq!(r.is_loopback(), loopback, "{text}");
        }
    }
}
