//! One registry session: `oci-client` on a runtime of its own, every byte
//! pulled checked against the digest it was asked for before it is used.
//!
//! A manifest is fetched by tag or digest and hashed: by digest it must
//! hash to that digest; by tag, to the digest the registry says the tag
//! points at. A blob is hashed while it streams, bounded by the size its
//! descriptor declares, and must match the descriptor's digest. Anything
//! else is an `integrity` error (exit 6): the registry, or what it stores,
//! is not serving what was pushed.

use std::collections::BTreeMap;
use std::time::Duration;

use envpack_manifest::Digest;
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use sha2::{Digest as _, Sha256};

use super::config::Registries;
use crate::error::{Error, Kind, Result};
use crate::types::OciRef;

/// Manifests are small JSON documents; a registry sending more is not
/// sending one.
const MAX_MANIFEST: usize = 4 << 20;

/// A blob to push: its media type, bytes and annotations.
#[derive(Clone, Debug)]
pub struct Blob {
    /// The descriptor's media type.
    pub media_type: &'static str,
    /// The content.
    pub bytes: Vec<u8>,
    /// The descriptor's annotations.
    pub annotations: BTreeMap<String, String>,
}

impl Blob {
    /// A blob without annotations.
    pub fn new(media_type: &'static str, bytes: Vec<u8>) -> Self {
        Self {
            media_type,
            bytes,
            annotations: BTreeMap::new(),
        }
    }

    fn descriptor(&self) -> OciDescriptor {
        OciDescriptor {
            media_type: self.media_type.to_string(),
            digest: Digest::of(&self.bytes).to_string(),
            size: self.bytes.len() as i64,
            urls: None,
            annotations: (!self.annotations.is_empty()).then(|| self.annotations.clone()),
            ..OciDescriptor::default()
        }
    }
}

/// What a manifest pull gives: the digest its bytes hash to, and the
/// manifest.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// sha256 of the manifest's bytes, checked.
    pub digest: Digest,
    /// The manifest.
    pub manifest: OciImageManifest,
}

/// A connection to one registry.
pub struct Remote {
    client: oci_client::Client,
    rt: tokio::runtime::Runtime,
    auth: RegistryAuth,
    registry: String,
}

impl Remote {
    /// A session for `r`, with the login the home's registries give it
    /// (read now, kept in memory only).
    pub fn connect(registries: &Registries, r: &OciRef, insecure: bool) -> Result<Self> {
        let access = registries.access(r, insecure);
        let auth = access.credentials.auth(&access.registry)?;
        // reqwest is built without a default crypto provider (the
        // workspace's rustls uses ring); install it once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the registry client: {e}")))?;
        let config = ClientConfig {
            protocol: if access.plain_http {
                ClientProtocol::Http
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            ..ClientConfig::default()
        };
        // `Client::new` would fall back to a default (TLS) configuration
        // on failure; refuse instead.
        let client = {
            let _in = rt.enter();
            oci_client::Client::try_from(config).map_err(|e| {
                Error::internal(format!("cannot set up the registry client for {r}: {e}"))
            })?
        };
        Ok(Self {
            client,
            rt,
            auth,
            registry: access.registry,
        })
    }

    /// Pushes `config` and `layers`, then a manifest naming them with
    /// `annotations`, at `r`'s tag (or only by digest without one).
    /// Returns the manifest's digest.
    pub fn push(
        &self,
        r: &OciRef,
        artifact_type: Option<&str>,
        config: &Blob,
        layers: &[Blob],
        annotations: BTreeMap<String, String>,
    ) -> Result<Digest> {
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_string()),
            config: config.descriptor(),
            layers: layers.iter().map(Blob::descriptor).collect(),
            subject: None,
            artifact_type: artifact_type.map(str::to_string),
            annotations: (!annotations.is_empty()).then_some(annotations),
        };
        let body = serde_json::to_vec(&manifest)
            .map_err(|e| Error::internal(format!("cannot encode the manifest: {e}")))?;
        let digest = Digest::of(&body);
        let target = match r.tag() {
            Some(_) => r.unpinned(),
            None => r.by_digest(digest),
        };
        let image = to_client(&target);
        self.rt.block_on(async {
            self.client
                .auth(&image, &self.auth, oci_client::RegistryOperation::Push)
                .await
                .map_err(|e| self.error(r, "log in to push", e))?;
            for blob in std::iter::once(config).chain(layers) {
                let d = Digest::of(&blob.bytes).to_string();
                let exists = self.client.blob_exists(&image, &d).await.unwrap_or(false);
                if !exists {
                    self.client
                        .push_blob(&image, blob.bytes.clone(), &d)
                        .await
                        .map_err(|e| self.error(r, "push a blob to", e))?;
                }
            }
            let content_type = http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE);
            self.client
                .push_manifest_raw(&image, body, content_type)
                .await
                .map_err(|e| self.error(r, "push the manifest to", e))
        })?;
        Ok(digest)
    }

    /// The manifest at `r`, its bytes checked against `r`'s digest (or,
    /// for a tag, the digest the registry says the tag points at).
    pub fn manifest(&self, r: &OciRef) -> Result<Pulled> {
        let image = to_client(r);
        let (body, said) = self.rt.block_on(async {
            self.client
                .pull_manifest_raw(&image, &self.auth, &[OCI_IMAGE_MEDIA_TYPE])
                .await
                .map_err(|e| self.error(r, "pull the manifest of", e))
        })?;
        if body.len() > MAX_MANIFEST {
            return Err(Error::integrity(format!(
                "{r}: the registry sent a manifest of {} bytes (at most {MAX_MANIFEST}); refusing it",
                body.len()
            )));
        }
        let actual = Digest::of(&body);
        let expected = match r.digest() {
            Some(d) => *d,
            None => said.parse::<Digest>().map_err(|_| {
                Error::integrity(format!(
                    "{r}: the registry named the manifest {said:?}, which is not a sha256 digest"
                ))
            })?,
        };
        if actual != expected {
            return Err(tampered(r, "manifest", &expected, &actual));
        }
        let manifest: OciImageManifest = serde_json::from_slice(&body).map_err(|e| {
            Error::invalid(format!("{r} is not an OCI image manifest: {e}"))
                .hint("push it again with envpack pack push or envpack bundle push")
        })?;
        Ok(Pulled {
            digest: actual,
            manifest,
        })
    }

    /// The blob `desc` of `r`, at most `max` bytes, checked against the
    /// descriptor's digest and size.
    pub fn blob(&self, r: &OciRef, desc: &OciDescriptor, max: u64) -> Result<Vec<u8>> {
        let expected: Digest = desc.digest.parse().map_err(|_| {
            Error::integrity(format!(
                "{r}: the manifest names a layer {:?}, which is not a sha256 digest",
                desc.digest
            ))
        })?;
        let size = u64::try_from(desc.size).unwrap_or(u64::MAX);
        if size > max {
            return Err(Error::invalid(format!(
                "{r}: its {} layer is {size} bytes, more than the {max} allowed",
                desc.media_type
            )));
        }
        let image = to_client(r);
        let bytes = self.rt.block_on(async {
            self.client
                .auth(&image, &self.auth, oci_client::RegistryOperation::Pull)
                .await
                .map_err(|e| self.error(r, "log in to pull", e))?;
            let mut stream = self
                .client
                .pull_blob_stream(&image, desc)
                .await
                .map_err(|e| self.error(r, "pull a layer of", e))?;
            let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(64 << 20));
            let mut hasher = Sha256::new();
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    // All the declared bytes came: the error is oci-client's
                    // own digest check, said below with both digests.
                    Err(_) if out.len() as u64 == size => break,
                    Err(e) => {
                        return Err(Error::unavailable(format!(
                            "{r}: the download of layer {expected} broke off after {} bytes: {e}",
                            out.len()
                        ))
                        .hint("run the command again"));
                    }
                };
                if out.len() + chunk.len() > usize::try_from(size).unwrap_or(usize::MAX) {
                    return Err(Error::integrity(format!(
                        "{r}: the registry sent more than the {size} bytes the manifest declares for layer {expected}"
                    )));
                }
                hasher.update(&chunk);
                out.extend_from_slice(&chunk);
            }
            let actual = Digest::from_bytes(hasher.finalize().into());
            if actual != expected {
                return Err(tampered(r, "layer", &expected, &actual));
            }
            Ok(out)
        })?;
        if bytes.len() as u64 != size {
            return Err(Error::integrity(format!(
                "{r}: layer {expected} is {} bytes, the manifest declares {size}",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Every tag of `r`'s repository (none when the repository does not
    /// exist yet).
    pub fn tags(&self, r: &OciRef) -> Result<Vec<String>> {
        let image = to_client(r);
        let mut all = Vec::new();
        self.rt.block_on(async {
            let mut last: Option<String> = None;
            loop {
                let page = match self
                    .client
                    .list_tags(&image, &self.auth, Some(1000), last.as_deref())
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        let e = self.error(r, "list the tags of", e);
                        return if e.kind() == Kind::NotFound {
                            Ok(())
                        } else {
                            Err(e)
                        };
                    }
                };
                let n = page.tags.len();
                last = page.tags.last().cloned();
                all.extend(page.tags);
                if n < 1000 {
                    return Ok(());
                }
            }
        })?;
        Ok(all)
    }

    /// The digest `r`'s tag points at now (a manifest pull, checked).
    pub fn current(&self, r: &OciRef) -> Result<Digest> {
        self.manifest(&r.unpinned()).map(|p| p.digest)
    }

    /// A host error for an `oci-client` failure while doing `what` on `r`.
    fn error(&self, r: &OciRef, what: &str, e: OciDistributionError) -> Error {
        classify(&self.registry, r, what, e)
    }
}

/// The reference in `oci-client`'s terms: the tag is dropped when a digest
/// is given, so what is fetched is exactly the digest.
fn to_client(r: &OciRef) -> oci_client::Reference {
    let (host, repo) = (r.host().to_string(), r.repository().to_string());
    match (r.digest(), r.tag()) {
        (Some(d), _) => oci_client::Reference::with_digest(host, repo, d.to_string()),
        (None, Some(t)) => oci_client::Reference::with_tag(host, repo, t.to_string()),
        (None, None) => oci_client::Reference::with_tag(host, repo, "latest".into()),
    }
}

fn tampered(r: &OciRef, what: &str, expected: &Digest, actual: &Digest) -> Error {
    Error::integrity(format!(
        "{r}: the registry served a {what} whose bytes hash to {actual}, not {expected}; it was tampered with or corrupted, so it is refused"
    ))
    .hint(format!(
        "push the artifact again from a trusted copy (envpack pack push FILE {r} / envpack bundle push BUNDLE {r}), or ask the registry's operator to check its storage"
    ))
}

fn codes(e: &OciDistributionError) -> Vec<&OciErrorCode> {
    match e {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().map(|x| &x.code).collect()
        }
        _ => Vec::new(),
    }
}

/// Maps an `oci-client` error onto the host's kinds, with a fix.
fn classify(registry: &str, r: &OciRef, what: &str, e: OciDistributionError) -> Error {
    use OciDistributionError as E;
    let message = format!("cannot {what} {r}: {e}");
    let login = format!(
        "check the login of registry {registry}: envpack registry list (set its user and password or token with envpack registry add NAME URL --username USER --password-env VAR)"
    );
    let codes = codes(&e);
    let not_found = codes.iter().any(|c| {
        matches!(
            c,
            OciErrorCode::ManifestUnknown | OciErrorCode::BlobUnknown | OciErrorCode::NameUnknown
        )
    });
    let denied = codes
        .iter()
        .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied));
    match &e {
        E::DigestError(_) => Error::integrity(message)
            .hint("push the artifact again from a trusted copy, or ask the registry's operator to check its storage"),
        _ if not_found => Error::not_found(message).hint(format!(
            "check the repository and tag: envpack registry tags oci://{}/{}",
            r.host(),
            r.repository()
        )),
        E::ImageManifestNotFoundError(_) => Error::not_found(message),
        E::ServerError { code: 404, .. } => Error::not_found(message),
        _ if denied => Error::denied(message).hint(login),
        E::UnauthorizedError { .. }
        | E::AuthenticationFailure(_)
        | E::ServerError { code: 401 | 403, .. } => Error::denied(message).hint(login),
        E::RequestError(req) if req.is_connect() || req.is_timeout() => {
            let hint = if r.is_loopback() {
                format!(
                    "is a registry listening on {}? (curl http://{}/v2/ answers when one is)",
                    r.host(),
                    r.host()
                )
            } else {
                format!(
                    "check that {} is reachable; for a registry without TLS, add it with --insecure: envpack registry add NAME oci://{}/PREFIX --insecure",
                    r.host(),
                    r.host()
                )
            };
            Error::unavailable(message).hint(hint)
        }
        E::RequestError(_) | E::IoError(_) | E::ServerError { .. } | E::RegistryError { .. } => {
            Error::unavailable(message)
        }
        _ => Error::new(Kind::Unavailable, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::errors::{OciEnvelope, OciError};

    fn envelope(code: OciErrorCode) -> OciDistributionError {
        OciDistributionError::RegistryError {
            envelope: OciEnvelope {
                errors: vec![OciError {
                    code,
                    message: "x".into(),
                    detail: serde_json::Value::Null,
                }],
            },
            url: "http://r/v2/x".into(),
        }
    }

    /// Each registry failure gets the kind (hence exit code) scripts act on.
    #[test]
    fn registry_failures_map_onto_kinds() {
        let r: OciRef = "oci://127.0.0.1:5000/x:1".parse().expect("ref");
        let digest =
            OciDistributionError::DigestError(oci_client::errors::DigestError::VerificationError {
                expected: "sha256:a".into(),
                actual: "sha256:b".into(),
            });
        let cases = [
            (digest, Kind::Integrity),
            (envelope(OciErrorCode::ManifestUnknown), Kind::NotFound),
            (envelope(OciErrorCode::NameUnknown), Kind::NotFound),
            (envelope(OciErrorCode::BlobUnknown), Kind::NotFound),
            (envelope(OciErrorCode::Denied), Kind::Denied),
            (envelope(OciErrorCode::Unauthorized), Kind::Denied),
            (
                OciDistributionError::UnauthorizedError { url: "u".into() },
                Kind::Denied,
            ),
            (
                OciDistributionError::ServerError {
                    code: 404,
                    url: "u".into(),
                    message: "m".into(),
                },
                Kind::NotFound,
            ),
            (
                OciDistributionError::ServerError {
                    code: 502,
                    url: "u".into(),
                    message: "m".into(),
                },
                Kind::Unavailable,
            ),
        ];
        for (e, kind) in cases {
            let shown = e.to_string();
            let got = classify("local", &r, "pull", e);
            assert_eq!(got.kind(), kind, "{shown}");
            assert!(
                got.message().contains("oci://127.0.0.1:5000/x:1"),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_tampered_artifact_names_both_digests() {
        let r: OciRef = "oci://h/x:1".parse().expect("ref");
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let e = tampered(&r, "layer", &a, &b);
        assert_eq!(e.kind(), Kind::Integrity);
        assert!(e.message().contains(&a.to_string()) && e.message().contains(&b.to_string()));
        assert_eq!(e.kind().exit_code(), 6);
    }
}
