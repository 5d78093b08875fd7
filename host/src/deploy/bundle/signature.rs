//! Detached ed25519 signatures of bundles (`BUNDLE.sig`).
//!
//! A signature covers the bundle id, which is the sha256 of the canonical
//! manifest, which lists the sha256 of every payload and evidence file: one
//! signature vouches for every byte. The signed message is
//! `envpack-bundle-signature/v1\n` followed by the id (`sha256:<hex>`), so a
//! key used for bundles signs nothing else by accident.
//!
//! Key files are small JSON documents: the private key file (mode 0600)
//! holds the 32-byte seed in hex; `FILE.pub` holds the public key and its
//! key id, the sha256 of the 32 public key bytes.

use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use envpack_manifest::Digest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

/// The only algorithm.
pub const ALGORITHM: &str = "ed25519";
/// The format tag of signature files.
pub const FORMAT: &str = "envpack-bundle-signature/v1";
/// Key files and signatures are small; anything larger is not one.
const MAX_FILE: u64 = 64 << 10;

/// `BUNDLE.sig`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// `sha256:` of the public key bytes.
    pub key_id: String,
    /// The public key, hex: checked against `key_id`; trust comes from the
    /// environment's policy, never from this field.
    pub public_key: String,
    /// The bundle id signed.
    pub bundle: Digest,
    /// The 64-byte signature, hex.
    pub signature: String,
}

/// `FILE.pub`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyFile {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// `sha256:` of the public key bytes.
    pub key_id: String,
    /// The public key, hex.
    pub public_key: String,
}

/// The private key file.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PrivateKeyFile {
    algorithm: String,
    key_id: String,
    /// The 32-byte seed, hex.
    private_key: String,
}

/// The key id of a public key: `sha256:<hex>` of its 32 bytes.
pub fn key_id(public: &VerifyingKey) -> String {
    Digest::of(public.as_bytes()).to_string()
}

fn message(bundle: &Digest) -> Vec<u8> {
    format!("{FORMAT}\n{bundle}").into_bytes()
}

/// Where the signature of `bundle` lives: `BUNDLE.sig`.
pub fn path_for(bundle: &Path) -> PathBuf {
    let mut s = bundle.as_os_str().to_os_string();
    s.push(".sig");
    PathBuf::from(s)
}

fn read_small(path: &Path, what: &str) -> Result<Vec<u8>> {
    let meta = fs::metadata(path).map_err(|e| Error::io(&format!("read {what}"), path, e))?;
    if meta.len() > MAX_FILE {
        return Err(Error::invalid(format!(
            "{what} {} is {} bytes; it cannot be one (at most {MAX_FILE})",
            path.display(),
            meta.len()
        )));
    }
    fs::read(path).map_err(|e| Error::io(&format!("read {what}"), path, e))
}

fn hex_array<const N: usize>(text: &str, what: &str) -> Result<[u8; N]> {
    let bytes =
        hex::decode(text.trim()).map_err(|e| Error::invalid(format!("{what} is not hex ({e})")))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| Error::invalid(format!("{what} is {} bytes, expected {N}", b.len())))
}

/// `bundle keygen --out FILE`: a new key pair; the private key in `out`
/// (mode 0600, never overwritten), the public key in `out.pub`.
pub fn keygen(out: &Path) -> Result<(PublicKeyFile, PathBuf)> {
    let public_path = {
        let mut s = out.as_os_str().to_os_string();
        s.push(".pub");
        PathBuf::from(s)
    };
    for p in [out, public_path.as_path()] {
        if p.exists() {
            return Err(Error::conflict(format!(
                "{} already exists; a key is never overwritten",
                p.display()
            ))
            .hint(format!(
                "choose another path: envpack bundle keygen --out {}-2",
                out.display()
            )));
        }
    }
    let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let public = key.verifying_key();
    let private = PrivateKeyFile {
        algorithm: ALGORITHM.into(),
        key_id: key_id(&public),
        private_key: hex::encode(key.to_bytes()),
    };
    let public_file = PublicKeyFile {
        algorithm: ALGORITHM.into(),
        key_id: key_id(&public),
        public_key: hex::encode(public.as_bytes()),
    };
    write_json(out, &serde_json::to_vec_pretty(&private), 0o600)?;
    write_json(
        &public_path,
        &serde_json::to_vec_pretty(&public_file),
        0o644,
    )?;
    Ok((public_file, public_path))
}

fn write_json(path: &Path, json: &serde_json::Result<Vec<u8>>, mode: u32) -> Result<()> {
    let json = json
        .as_ref()
        .map_err(|e| Error::internal(format!("cannot encode {}: {e}", path.display())))?;
    // The temp file is created 0600, so the private key is never readable
    // by others, not even for a moment.
    fsutil::write_atomic(path, json)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    Ok(())
}

fn load_private(path: &Path) -> Result<SigningKey> {
    let bytes = read_small(path, "private key")?;
    parse_private(&bytes, &format!("private key {}", path.display()))
}

/// A private key from the text of a key file; `what` names where it came
/// from (a file, a secret) in messages, which never show the key.
fn parse_private(bytes: &[u8], what: &str) -> Result<SigningKey> {
    let f: PrivateKeyFile = serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid(format!(
            "{what} is not an envpack private key (line {}, column {})",
            e.line(),
            e.column()
        ))
        .hint("make one: envpack bundle keygen --out release.key")
    })?;
    let seed = hex_array::<32>(&f.private_key, what)?;
    let key = SigningKey::from_bytes(&seed);
    if f.algorithm != ALGORITHM || f.key_id != key_id(&key.verifying_key()) {
        return Err(Error::invalid(format!(
            "{what} is damaged: its key id does not match the key"
        )));
    }
    Ok(key)
}

/// Reads a public key file (`FILE.pub`), checking its key id.
pub fn read_public(path: &Path) -> Result<PublicKeyFile> {
    let bytes = read_small(path, "public key")?;
    let f: PublicKeyFile = serde_json::from_slice(&bytes).map_err(|e| {
        Error::invalid(format!(
            "{} is not an envpack public key ({e}); pass the .pub file bundle keygen wrote",
            path.display()
        ))
    })?;
    let key = verifying_key(&f.public_key, &path.display().to_string())?;
    if f.algorithm != ALGORITHM || f.key_id != key_id(&key) {
        return Err(Error::invalid(format!(
            "public key {} is damaged: its key id does not match the key",
            path.display()
        )));
    }
    Ok(f)
}

fn verifying_key(hex_key: &str, what: &str) -> Result<VerifyingKey> {
    let bytes = hex_array::<32>(hex_key, &format!("public key of {what}"))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|e| Error::invalid(format!("public key of {what} is not an ed25519 key ({e})")))
}

/// Signs bundle `id` with the private key in the file `key`.
pub fn sign(id: &Digest, key: &Path) -> Result<SignatureFile> {
    Ok(signature_by(id, &load_private(key)?))
}

/// Signs bundle `id` with a private key given as the key file's text (a
/// secret's value); `what` names where it came from.
pub fn sign_with(id: &Digest, key_text: &[u8], what: &str) -> Result<SignatureFile> {
    Ok(signature_by(id, &parse_private(key_text, what)?))
}

fn signature_by(id: &Digest, key: &SigningKey) -> SignatureFile {
    let public = key.verifying_key();
    SignatureFile {
        format: FORMAT.into(),
        algorithm: ALGORITHM.into(),
        key_id: key_id(&public),
        public_key: hex::encode(public.as_bytes()),
        bundle: *id,
        signature: hex::encode(key.sign(&message(id)).to_bytes()),
    }
}

/// Writes a signature as JSON to `path`.
pub fn write(path: &Path, sig: &SignatureFile) -> Result<()> {
    write_json(path, &serde_json::to_vec_pretty(sig), 0o644)
}

/// Reads `BUNDLE.sig` when there is one.
pub fn read_for(bundle: &Path) -> Result<Option<SignatureFile>> {
    let path = path_for(bundle);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = read_small(&path, "signature")?;
    parse(&bytes, &path.display().to_string()).map(Some)
}

/// Parses a signature file's bytes; `name` says where they came from.
pub fn parse(bytes: &[u8], name: &str) -> Result<SignatureFile> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::integrity(format!("signature {name} does not parse ({e})"))
            .hint("sign the bundle again: envpack bundle sign BUNDLE --key KEYFILE")
    })
}

/// Why a signature does not prove that `public_key` signed bundle `id`,
/// if it does not.
pub fn verify(sig: &SignatureFile, id: &Digest, public_key: &str) -> Option<String> {
    if sig.format != FORMAT || sig.algorithm != ALGORITHM {
        return Some(format!(
            "it is a {:?} {:?} signature, expected {FORMAT:?} {ALGORITHM:?}",
            sig.format, sig.algorithm
        ));
    }
    if sig.bundle != *id {
        return Some(format!("it signs bundle {}, not {id}", sig.bundle));
    }
    let key = match verifying_key(public_key, &sig.key_id) {
        Ok(k) => k,
        Err(e) => return Some(e.message().to_string()),
    };
    let bytes = match hex_array::<64>(&sig.signature, "the signature") {
        Ok(b) => b,
        Err(e) => return Some(e.message().to_string()),
    };
    let signature = ed25519_dalek::Signature::from_bytes(&bytes);
    key.verify_strict(&message(id), &signature)
        .err()
        .map(|_| "the signature does not match the bundle and key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let dir = tempfile::tempdir().expect("tmp");
        let keyfile = dir.path().join("k");
        let (public, pub_path) = keygen(&keyfile).expect("keygen");
        assert_eq!(read_public(&pub_path).expect("pub"), public);
        assert!(keygen(&keyfile).is_err(), "never overwrites");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&keyfile).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let id = Digest::of(b"manifest");
        let sig = sign(&id, &keyfile).expect("sign");
        assert_eq!(sig.key_id, public.key_id);
        assert_eq!(verify(&sig, &id, &public.public_key), None);
        assert!(verify(&sig, &Digest::of(b"other"), &public.public_key).is_some());
        let mut bad = sig.clone();
        let flipped = if sig.signature.starts_with("00") {
            "ff"
        } else {
            "00"
        };
        bad.signature = format!("{flipped}{}", &sig.signature[2..]);
        assert!(verify(&bad, &id, &public.public_key).is_some());
    }
}
