//! Property tests for parsing, printing and serde of pack ids, descriptors
//! and requirements.

use envpack_descriptor::semver::Version;
use envpack_descriptor::{Descriptor, DescriptorError, PackId, Requirement, Slot};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,63}"
}

fn slot() -> impl Strategy<Value = Slot> {
    prop::sample::select(Slot::ALL.to_vec())
}

fn pack_id() -> impl Strategy<Value = PackId> {
    (segment(), slot(), segment()).prop_map(|(namespace, slot, name)| {
        PackId::new(&namespace, slot, &name).expect("generated segments are valid")
    })
}

/// A dot-separated pre-release or build identifier list.
fn identifiers(alnum: &'static str) -> impl Strategy<Value = String> {
    let identifier = prop_oneof![
        alnum,
        // Numeric pre-release identifiers may not have leading zeros.
        (0u64..10_000).prop_map(|n| n.to_string()),
    ];
    prop::collection::vec(identifier, 1..4).prop_map(|ids| ids.join("."))
}

fn version() -> impl Strategy<Value = Version> {
    (
        0u64..1000,
        0u64..1000,
        0u64..1000,
        prop::option::of(identifiers("[a-z][a-z0-9-]{0,6}")),
        prop::option::of(identifiers("[a-zA-Z0-9-]{1,6}")),
    )
        .prop_map(|(major, minor, patch, pre, build)| {
            let mut text = format!("{major}.{minor}.{patch}");
            if let Some(pre) = pre {
                text = format!("{text}-{pre}");
            }
            if let Some(build) = build {
                text = format!("{text}+{build}");
            }
            Version::parse(&text).expect("generated versions are valid")
        })
}

fn descriptor() -> impl Strategy<Value = Descriptor> {
    (pack_id(), version()).prop_map(|(id, version)| Descriptor::new(id, version))
}

/// One comparator in cargo syntax, possibly partial and possibly padded with
/// spaces that parsing must normalise away.
fn comparator() -> impl Strategy<Value = String> {
    let op = prop::sample::select(vec!["", "^", "~", "=", ">", ">=", "<", "<="]);
    let partial = prop_oneof![
        (0u64..100).prop_map(|m| m.to_string()),
        (0u64..100, 0u64..100).prop_map(|(m, n)| format!("{m}.{n}")),
        (0u64..100, 0u64..100, 0u64..100).prop_map(|(m, n, p)| format!("{m}.{n}.{p}")),
        (
            0u64..100,
            0u64..100,
            0u64..100,
            identifiers("[a-z][a-z0-9-]{0,6}")
        )
            .prop_map(|(m, n, p, pre)| format!("{m}.{n}.{p}-{pre}")),
    ];
    let space = prop::sample::select(vec!["", " ", "  "]);
    (op, space, partial).prop_map(|(op, space, v)| format!("{op}{space}{v}"))
}

fn requirement_text() -> impl Strategy<Value = Option<String>> {
    let list = prop::collection::vec(comparator(), 1..4);
    let sep = prop::sample::select(vec![",", ", ", " , ", ",  "]);
    prop::option::of(prop_oneof![
        Just("*".to_owned()),
        (0u64..100).prop_map(|m| format!("{m}.*")),
        (list, sep).prop_map(|(list, sep)| list.join(sep)),
    ])
}

fn requirement() -> impl Strategy<Value = Requirement> {
    (pack_id(), requirement_text()).prop_map(|(id, text)| {
        let input = match text {
            Some(text) => format!("{id}@{text}"),
            None => id.to_string(),
        };
        input.parse().expect("generated requirements are valid")
    })
}

/// Parses with every parser and renders any error; neither may panic.
fn parse_everything(s: &str) {
    let errors = [
        s.parse::<PackId>().err(),
        s.parse::<Descriptor>().err(),
        s.parse::<Requirement>().err(),
        s.parse::<Slot>().err(),
    ];
    for err in errors.into_iter().flatten() {
        let _ = err.to_string();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pack_id_round_trips(id in pack_id()) {
        prop_assert_eq!(id.to_string().parse::<PackId>(), Ok(id));
    }

    #[test]
    fn descriptor_round_trips(d in descriptor()) {
        prop_assert_eq!(d.to_string().parse::<Descriptor>(), Ok(d));
    }

    #[test]
    fn requirement_round_trips(r in requirement()) {
        let again: Requirement = r.to_string().parse().expect("displayed requirement parses");
        prop_assert_eq!(again.to_string(), r.to_string());
        prop_assert_eq!(again.version_req(), r.version_req());
        prop_assert_eq!(again, r);
    }

    #[test]
    fn an_exact_requirement_matches_its_descriptor(d in descriptor()) {
        let r = Requirement::exact(&d);
        prop_assert!(r.matches(&d));
        prop_assert_eq!(r.resolve([&d]), Some(&d));
        prop_assert_eq!(r.to_string().parse::<Requirement>(), Ok(r));
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".*") {
        parse_everything(&s);
    }

    #[test]
    fn near_miss_strings_never_panic(s in "[a-zA-Z0-9.@^~<>=, *_-]{0,40}") {
        parse_everything(&s);
    }

    #[test]
    fn a_bad_character_in_a_name_is_invalid_char(
        d in descriptor(),
        at in any::<prop::sample::Index>(),
        // `.` is excluded because it is the segment separator: it changes the
        // segment count instead (covered by the unit table).
        ch in any::<char>().prop_filter("outside [a-z0-9-.]", |c| {
            !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '.')
        }),
        in_namespace in any::<bool>(),
    ) {
        let (namespace, name) = (d.namespace().to_owned(), d.name().to_owned());
        let target_len = if in_namespace { namespace.len() } else { name.len() };
        let pos = at.index(target_len + 1);
        // Whitespace at the very start of the input is reported as
        // surrounding whitespace, which is the more useful message.
        prop_assume!(!(in_namespace && pos == 0 && ch.is_whitespace()));
        let insert = |s: &str| {
            let mut s = s.to_owned();
            s.insert(pos, ch);
            s
        };
        let (namespace, name) = if in_namespace {
            (insert(&namespace), name)
        } else {
            (namespace, insert(&name))
        };
        let slot = d.slot();
        let version = d.version();
        let input = format!("{namespace}.{slot}.{name}@{version}");
        let descriptor = input.parse::<Descriptor>();
        prop_assert!(
            matches!(descriptor, Err(DescriptorError::InvalidChar { .. })),
            "{input:?} gave {descriptor:?}"
        );
        let requirement = input.parse::<Requirement>();
        prop_assert!(
            matches!(requirement, Err(DescriptorError::InvalidChar { .. })),
            "{input:?} gave {requirement:?}"
        );
        // `PackId::new` checks parts directly, so even `.` is a bad character.
        let id = PackId::new(&namespace, slot, &name);
        prop_assert!(
            matches!(id, Err(DescriptorError::InvalidChar { .. })),
            "{namespace:?}/{name:?} gave {id:?}"
        );
    }

    #[test]
    fn serde_json_round_trips(d in descriptor(), r in requirement()) {
        let id = d.id().clone();
        let slot = id.slot();
        let json = serde_json::to_string(&id).expect("serialise id");
        prop_assert_eq!(&json, &format!("{:?}", id.to_string()));
        prop_assert_eq!(serde_json::from_str::<PackId>(&json).expect("id"), id);

        let json = serde_json::to_string(&d).expect("serialise descriptor");
        prop_assert_eq!(serde_json::from_str::<Descriptor>(&json).expect("descriptor"), d);

        let json = serde_json::to_string(&r).expect("serialise requirement");
        prop_assert_eq!(serde_json::from_str::<Requirement>(&json).expect("requirement"), r);

        let json = serde_json::to_string(&slot).expect("serialise slot");
        prop_assert_eq!(serde_json::from_str::<Slot>(&json).expect("slot"), slot);
    }
}

#[test]
fn serde_rejects_invalid_strings_with_the_parse_message() {
    let err = serde_json::from_str::<Descriptor>(r#""a.state.b@^1""#).expect_err("not exact");
    assert!(
        err.to_string().contains("an exact version is required"),
        "{err}"
    );
    let err = serde_json::from_str::<PackId>(r#""a.deploy.b""#).expect_err("unknown slot");
    assert!(err.to_string().contains("did you mean"), "{err}");
    let err = serde_json::from_str::<Requirement>(r#""A.state.b""#).expect_err("uppercase");
    assert!(err.to_string().contains("has \"A\" at byte 0"), "{err}");
}
