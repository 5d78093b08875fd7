//! The properties the fuzz targets and the property tests check, one
//! function per parser. Each takes arbitrary bytes, runs the real parser the
//! host runs on that input, and panics only when a property breaks: a
//! parser that panics, accepts what it cannot print back, or prints what it
//! cannot read again.
//!
//! `fuzz_targets/<name>.rs` calls `<name>` under libFuzzer
//! (`cargo +nightly fuzz run <name>`); `host/tests/properties.rs` calls the
//! same functions with proptest inputs on every `cargo test`.

use std::io::Write as _;
use std::path::Path;
use std::sync::OnceLock;

use envpack_host::deploy::bundle::{self, BundleManifest, Limits};
use envpack_host::deploy::model::{Deployment, parse_weight};
use envpack_host::deploy::traffic::resolve_weights;
use envpack_host::descriptor::{Descriptor, Requirement};
use envpack_host::env::EnvName;
use envpack_host::manifest::{Capability, PackManifest, PackToml, embed_manifest, read_manifest};

/// The targets, by name: what `fuzz/run.sh` and the docs list.
pub const TARGETS: &[&str] = &[
    "descriptor",
    "requirement",
    "capability",
    "pack_toml",
    "manifest_section",
    "bundle_manifest",
    "answers",
    "traffic_split",
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

// Each check returns whether the input was accepted, so the property tests
// can prove their shaped inputs reach the accepting paths.

/// `ns.slot.name@version`: what parses prints back to itself.
pub fn descriptor(data: &[u8]) -> bool {
    let Some(s) = text(data) else { return false };
    if let Ok(d) = s.parse::<Descriptor>() {
        let printed = d.to_string();
        let again: Descriptor = printed
            .parse()
            .unwrap_or_else(|e| panic!("{printed:?} (from {s:?}) does not parse again: {e}"));
        assert_eq!(again, d, "{s:?} round trip");
        assert_eq!(again.to_string(), printed);
        return true;
    }
    false
}

/// `ns.slot.name[@req]`: what parses prints back to an equal requirement
/// that matches the same versions.
pub fn requirement(data: &[u8]) -> bool {
    let Some(s) = text(data) else { return false };
    if let Ok(r) = s.parse::<Requirement>() {
        let printed = r.to_string();
        let again: Requirement = printed
            .parse()
            .unwrap_or_else(|e| panic!("{printed:?} (from {s:?}) does not parse again: {e}"));
        assert_eq!(again.to_string(), printed, "{s:?} round trip");
        assert_eq!(again, r, "{s:?} round trip");
        return true;
    }
    false
}

/// `kind[:value]`: what parses prints back to itself and covers itself.
pub fn capability(data: &[u8]) -> bool {
    let Some(s) = text(data) else { return false };
    if let Ok(c) = s.parse::<Capability>() {
        let printed = c.to_string();
        let again: Capability = printed
            .parse()
            .unwrap_or_else(|e| panic!("{printed:?} (from {s:?}) does not parse again: {e}"));
        assert_eq!(again.to_string(), printed, "{s:?} round trip");
        assert!(c.covers(&again), "{printed:?} does not cover itself");
        return true;
    }
    false
}

/// `pack.toml`: parse, then build the manifest the builder would embed;
/// an accepted manifest survives its own JSON.
pub fn pack_toml(data: &[u8]) -> bool {
    let Some(s) = text(data) else { return false };
    let path = Path::new("pack.toml");
    let Ok(t) = PackToml::parse(s, path) else {
        return false;
    };
    let version = semver::Version::new(1, 0, 0);
    let api = semver::Version::new(0, 1, 0);
    if let Ok(m) = t.to_manifest(path, &version, api, None) {
        let again = PackManifest::from_json(&m.to_json())
            .unwrap_or_else(|e| panic!("the manifest built from {s:?} does not read back: {e}"));
        assert_eq!(again, m);
        return true;
    }
    false
}

/// An empty component: the magic, then the component-model layer.
const COMPONENT_HEADER: &[u8] = b"\0asm\x0d\x00\x01\x00";

/// The pack file's custom section: the first byte chooses between raw
/// component bytes (section walking, stamps) and manifest JSON embedded in
/// a component the way the builder embeds it.
pub fn manifest_section(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    if mode % 2 == 0 {
        let _ = envpack_host::manifest::read_api_stamp(rest);
        let _ = envpack_host::manifest::read_sdk_stamp(rest);
        return read_manifest(rest).is_ok();
    }
    let Ok(m) = PackManifest::from_json(rest) else {
        return false;
    };
    let component = embed_manifest(COMPONENT_HEADER, &m)
        .unwrap_or_else(|e| panic!("an accepted manifest cannot be embedded: {e}"));
    let read = read_manifest(&component)
        .unwrap_or_else(|e| panic!("an embedded manifest does not read back: {e}"));
    assert_eq!(read, m);
    // Embedding again replaces the section rather than adding a second.
    let twice = embed_manifest(&component, &m).expect("re-embed");
    assert_eq!(read_manifest(&twice).expect("read re-embedded"), m);
    true
}

/// `bundle_manifest.json`: the bytes become the manifest entry of a real
/// gzip tar bundle, verified the way `deploy` verifies one. An accepted
/// bundle's id is the digest of its canonical manifest, and the canonical
/// form reads back to the same manifest.
pub fn bundle_manifest(data: &[u8]) -> bool {
    let archive = archive_with_manifest(data);
    let limits = Limits::default();
    let Ok(v) = bundle::open_reader(&archive[..], "fuzz", None, &limits) else {
        return false;
    };
    let canonical = v.manifest.canonical();
    assert_eq!(v.id, envpack_host::manifest::Digest::of(&canonical));
    let again: BundleManifest =
        serde_json::from_slice(&canonical).expect("a canonical manifest reads back");
    assert_eq!(again, v.manifest);
    assert_eq!(again.canonical(), canonical, "canonical form is stable");
    true
}

/// A bundle file holding `manifest` as `bundle_manifest.json` and nothing
/// else (stored, not compressed, so each run stays cheap).
fn archive_with_manifest(manifest: &[u8]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    let mut tar = tar::Builder::new(gz);
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "bundle_manifest.json", manifest)
        .expect("appending to a Vec cannot fail");
    let gz = tar.into_inner().expect("finishing a Vec cannot fail");
    let mut bytes = gz.finish().expect("finishing a Vec cannot fail");
    bytes.flush().expect("a Vec flushes");
    bytes
}

/// Answers files: every verb's answer type and the checks it runs first.
pub fn answers(data: &[u8]) -> bool {
    let accepted = envpack_host::cli::check_answers(data);
    assert!(accepted <= 6);
    accepted > 0
}

/// A deployment with ready revisions `r1`, `r2`, `a1b2` and a failed `r9`,
/// to resolve splits against.
fn deployment() -> &'static Deployment {
    static DEPLOYMENT: OnceLock<Deployment> = OnceLock::new();
    DEPLOYMENT.get_or_init(|| {
        let revision = |id: &str, seq: u64, state: &str| {
            serde_json::json!({
                "id": id, "sequence": seq,
                "bundle_id": format!("sha256:{}", "ab".repeat(32)),
                "version": "1.0.0", "source": "main", "state": state,
                "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
                "plan": null, "attributes": {}
            })
        };
        let mut d = Deployment::new("web", "2026-01-01T00:00:00Z");
        d.revisions = ["r1", "r2", "a1b2"]
            .iter()
            .zip(1..)
            .map(|(id, seq)| revision(id, seq, "ready"))
            .chain([revision("r9", 4, "failed")])
            .map(|v| serde_json::from_value(v).expect("the fixture revision reads"))
            .collect();
        d
    })
}

/// `traffic set REV=WEIGHT...`: whitespace-separated entries, each parsed
/// and the whole split resolved against a deployment. An accepted split
/// names known, ready revisions once each, sums to exactly 10,000 basis
/// points, and each weight prints back (`{bps}bps`) to itself.
pub fn traffic_split(data: &[u8]) -> bool {
    let Some(s) = text(data) else { return false };
    let entries: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    for e in &entries {
        if let Ok((rev, bps)) = parse_weight(e) {
            assert!(bps <= 10_000, "{e:?} gave {bps}bps");
            let printed = format!("{rev}={bps}bps");
            assert_eq!(parse_weight(&printed).ok(), Some((rev, bps)), "{e:?}");
        }
    }
    let env: EnvName = "fuzz".parse().expect("a valid environment name");
    let d = deployment();
    let Ok(weights) = resolve_weights(&env, d, &entries) else {
        return false;
    };
    {
        let sum: u64 = weights.iter().map(|w| u64::from(w.basis_points)).sum();
        assert_eq!(sum, 10_000, "{entries:?}");
        let mut ids: Vec<_> = weights.iter().map(|w| w.revision.as_str()).collect();
        ids.dedup();
        assert_eq!(
            ids.len(),
            weights.len(),
            "{entries:?} names a revision twice"
        );
        for w in &weights {
            assert!(w.basis_points > 0);
            let r = d.revisions.iter().find(|r| r.id == w.revision);
            assert!(
                r.is_some_and(|r| r.id != "r9"),
                "{entries:?} routed to {}",
                w.revision
            );
        }
    }
    true
}
