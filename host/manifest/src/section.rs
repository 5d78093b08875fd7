//! Reading and writing the manifest custom section of a component.
//!
//! Only the component's top level is walked to find the manifest: section
//! headers are read and their bodies skipped, so reading a manifest costs a
//! few microseconds however large the pack is.

use wasm_encoder::ComponentSection as _;
use wasmparser::{BinaryReader, Parser, Payload};

use crate::manifest::{ManifestError, PackManifest};

/// Name of the top-level custom section that carries the JSON manifest.
pub const MANIFEST_SECTION: &str = "envpack-manifest";

/// Name of the custom section `envpack-sdk` stamps into the pack's core
/// module, holding the WIT API version it was built against.
pub const API_VERSION_SECTION: &str = "envpack:api-version";

const CUSTOM_SECTION_ID: u8 = 0;

/// A file that is not a pack, or whose manifest cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SectionError {
    /// Not a WebAssembly component.
    #[error(
        "not a WebAssembly component ({reason}); help: build packs with `envpack pack build`, which targets wasm32-wasip2"
    )]
    NotComponent {
        /// What was found instead.
        reason: String,
    },
    /// The binary is cut short or malformed.
    #[error("malformed WebAssembly binary at byte {offset}: {message}")]
    Malformed {
        /// Where.
        offset: usize,
        /// The parser's message.
        message: String,
    },
    /// No manifest section.
    #[error(
        "the component has no \"{MANIFEST_SECTION}\" section, so it is not an envpack pack; help: build it with `envpack pack build`"
    )]
    NoManifest,
    /// Two manifest sections: ambiguous, and a sign of tampering.
    #[error("the component has more than one \"{MANIFEST_SECTION}\" section")]
    DuplicateManifest,
    /// The manifest does not validate.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The SDK stamp is missing or unreadable.
    #[error(
        "the component carries no \"{API_VERSION_SECTION}\" stamp, so it was not built with envpack-sdk; help: depend on envpack-sdk and export the pack with its macro"
    )]
    NoApiStamp,
    /// The stamp is not a version.
    #[error("the \"{API_VERSION_SECTION}\" stamp {0:?} is not a version")]
    BadApiStamp(String),
}

fn malformed(e: wasmparser::BinaryReaderError) -> SectionError {
    SectionError::Malformed {
        offset: e.offset(),
        message: e.message().to_string(),
    }
}

/// One top-level section: its id, the byte range of the whole section
/// (header included), and the range of its body.
struct TopSection {
    id: u8,
    whole: std::ops::Range<usize>,
    body: std::ops::Range<usize>,
}

fn top_level_sections(bytes: &[u8]) -> Result<Vec<TopSection>, SectionError> {
    // The 8-byte header: magic, then version 0x0d and layer 1 for components.
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => {}
        Some([0, b'a', b's', b'm', _, _, 0, 0]) => {
            return Err(SectionError::NotComponent {
                reason: "it is a core module".into(),
            });
        }
        _ => {
            return Err(SectionError::NotComponent {
                reason: "it does not start with the WebAssembly magic number".into(),
            });
        }
    }
    let mut reader = BinaryReader::new(bytes, 0);
    reader.read_bytes(8).map_err(malformed)?;
    let mut out = Vec::new();
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8().map_err(malformed)?;
        let len = reader.read_var_u32().map_err(malformed)? as usize;
        let body_start = reader.original_position();
        reader.read_bytes(len).map_err(malformed)?;
        out.push(TopSection {
            id,
            whole: start..reader.original_position(),
            body: body_start..reader.original_position(),
        });
    }
    Ok(out)
}

/// The name and data of a custom section body.
fn custom_section(
    bytes: &[u8],
    body: std::ops::Range<usize>,
) -> Result<(&str, &[u8]), SectionError> {
    let mut reader = BinaryReader::new(&bytes[body.clone()], body.start);
    let name = reader.read_string().map_err(malformed)?;
    let rest = reader.original_position() - body.start;
    Ok((name, &bytes[body.start + rest..body.end]))
}

/// Reads the raw manifest JSON of a pack, if it has one.
fn manifest_bytes(bytes: &[u8]) -> Result<Option<&[u8]>, SectionError> {
    let mut found = None;
    for s in top_level_sections(bytes)? {
        if s.id != CUSTOM_SECTION_ID {
            continue;
        }
        let (name, data) = custom_section(bytes, s.body)?;
        if name == MANIFEST_SECTION {
            if found.is_some() {
                return Err(SectionError::DuplicateManifest);
            }
            found = Some(data);
        }
    }
    Ok(found)
}

/// Reads and validates the manifest of a pack file, without compiling it.
pub fn read_manifest(bytes: &[u8]) -> Result<PackManifest, SectionError> {
    let data = manifest_bytes(bytes)?.ok_or(SectionError::NoManifest)?;
    Ok(PackManifest::from_json(data)?)
}

/// Returns a copy of `component` carrying `manifest`, replacing any manifest
/// it already had.
pub fn embed_manifest(component: &[u8], manifest: &PackManifest) -> Result<Vec<u8>, SectionError> {
    let sections = top_level_sections(component)?;
    let mut out = Vec::with_capacity(component.len() + 4096);
    out.extend_from_slice(&component[..8]);
    for s in sections {
        if s.id == CUSTOM_SECTION_ID
            && custom_section(component, s.body.clone())?.0 == MANIFEST_SECTION
        {
            continue;
        }
        out.extend_from_slice(&component[s.whole]);
    }
    wasm_encoder::CustomSection {
        name: MANIFEST_SECTION.into(),
        data: manifest.to_json().into(),
    }
    .append_to_component(&mut out);
    Ok(out)
}

/// Name of the custom section holding the `envpack-sdk` crate version.
pub const SDK_VERSION_SECTION: &str = "envpack:sdk-version";

/// The first custom section named `name` anywhere in the component,
/// including nested core modules.
fn nested_custom_section(component: &[u8], name: &str) -> Result<Option<String>, SectionError> {
    for payload in Parser::new(0).parse_all(component) {
        if let Payload::CustomSection(reader) = payload.map_err(malformed)?
            && reader.name() == name
        {
            let text = String::from_utf8_lossy(reader.data());
            return Ok(Some(text.trim_end_matches('\0').trim().to_string()));
        }
    }
    Ok(None)
}

/// Reads the API version `envpack-sdk` stamped into the component (in its
/// core module), walking every nested module.
pub fn read_api_stamp(component: &[u8]) -> Result<semver::Version, SectionError> {
    let text =
        nested_custom_section(component, API_VERSION_SECTION)?.ok_or(SectionError::NoApiStamp)?;
    text.parse().map_err(|_| SectionError::BadApiStamp(text))
}

/// Reads the `envpack-sdk` crate version stamped into the component, if any.
pub fn read_sdk_stamp(component: &[u8]) -> Result<Option<String>, SectionError> {
    nested_custom_section(component, SDK_VERSION_SECTION)
}

/// Section id of a component's export section.
const COMPONENT_EXPORT_SECTION_ID: u8 = 11;

/// The names of the component's top-level exports, such as
/// `greentic:envpack/state@0.1.0`.
pub fn exported_interfaces(component: &[u8]) -> Result<Vec<String>, SectionError> {
    let mut out = Vec::new();
    for s in top_level_sections(component)? {
        if s.id != COMPONENT_EXPORT_SECTION_ID {
            continue;
        }
        let reader = wasmparser::ComponentExportSectionReader::new(BinaryReader::new(
            &component[s.body.clone()],
            s.body.start,
        ))
        .map_err(malformed)?;
        for export in reader {
            out.push(export.map_err(malformed)?.name.name.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: just the header.
    const EMPTY_COMPONENT: &[u8] = &[0, b'a', b's', b'm', 0x0d, 0, 1, 0];

    fn manifest() -> PackManifest {
        PackManifest {
            format: 1,
            descriptor: "acme.state.memory@1.2.0".parse().expect("d"),
            api_version: semver::Version::new(0, 1, 0),
            description: "d".into(),
            sdk_version: None,
            capabilities: Default::default(),
            commands: vec![],
        }
    }

    #[test]
    fn embed_then_read_and_replace() {
        let once = embed_manifest(EMPTY_COMPONENT, &manifest()).expect("embed");
        assert_eq!(read_manifest(&once).expect("read"), manifest());
        let mut m2 = manifest();
        m2.description = "second".into();
        let twice = embed_manifest(&once, &m2).expect("embed again");
        assert_eq!(read_manifest(&twice).expect("read").description, "second");
        assert!(exported_interfaces(&twice).expect("exports").is_empty());
    }

    #[test]
    fn rejects_non_packs() {
        assert!(matches!(
            read_manifest(b"hello"),
            Err(SectionError::NotComponent { .. })
        ));
        assert!(matches!(
            read_manifest(&[0, b'a', b's', b'm', 1, 0, 0, 0]),
            Err(SectionError::NotComponent { .. })
        ));
        assert!(matches!(
            read_manifest(EMPTY_COMPONENT),
            Err(SectionError::NoManifest)
        ));
        let mut truncated = embed_manifest(EMPTY_COMPONENT, &manifest()).expect("embed");
        truncated.pop();
        assert!(matches!(
            read_manifest(&truncated),
            Err(SectionError::Malformed { .. })
        ));
        // Two manifest sections is ambiguous.
        let once = embed_manifest(EMPTY_COMPONENT, &manifest()).expect("embed");
        let mut doubled = once.clone();
        doubled.extend_from_slice(&once[8..]);
        assert!(matches!(
            read_manifest(&doubled),
            Err(SectionError::DuplicateManifest)
        ));
    }
}
