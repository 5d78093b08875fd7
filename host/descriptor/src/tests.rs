//! Table-driven tests: each input is parsed as a pack id, a descriptor and a
//! requirement, and the outcome of each is checked.

use crate::{Descriptor, DescriptorError, PackId, Requirement, Segment, Slot};

/// The outcome of a parse, reduced to what the table checks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Kind {
    Valid,
    Empty,
    Whitespace,
    SegmentCount,
    EmptySegment,
    InvalidChar,
    TooLong,
    UnknownSlot,
    InvalidVersion,
    NotExact,
    InvalidRequirement,
}

use Kind::*;

fn kind<T>(result: &Result<T, DescriptorError>) -> Kind {
    match result {
        Ok(_) => Valid,
        Err(e) => match e {
            DescriptorError::Empty { .. } => Empty,
            DescriptorError::Whitespace { .. } => Whitespace,
            DescriptorError::SegmentCount { .. } => SegmentCount,
            DescriptorError::EmptySegment { .. } => EmptySegment,
            DescriptorError::InvalidChar { .. } => InvalidChar,
            DescriptorError::TooLong { .. } => TooLong,
            DescriptorError::UnknownSlot { .. } => UnknownSlot,
            DescriptorError::InvalidVersion { .. } => InvalidVersion,
            DescriptorError::NotExact { .. } => NotExact,
            DescriptorError::InvalidRequirement { .. } => InvalidRequirement,
        },
    }
}

/// `(input, as PackId, as Descriptor, as Requirement)`.
const TABLE: &[(&str, Kind, Kind, Kind)] = &[
    // Valid shapes.
    ("greentic.deployer.k8s@1.0.0", SegmentCount, Valid, Valid),
    ("greentic.deployer.k8s", Valid, NotExact, Valid),
    ("a.secrets.b@0.0.1", SegmentCount, Valid, Valid),
    ("a.telemetry.b", Valid, NotExact, Valid),
    ("a.kinetic.b", Valid, NotExact, Valid),
    ("0.state.9", Valid, NotExact, Valid),
    ("ns-.state.fs-", Valid, NotExact, Valid),
    ("my-ns.state.file-system@1.0.0", SegmentCount, Valid, Valid),
    // Versions and requirements.
    ("a.state.b@1.0.0-beta.1", SegmentCount, Valid, Valid),
    ("a.state.b@1.0.0-beta.1+build.5", SegmentCount, Valid, Valid),
    ("a.state.b@1.0.0+build.5", SegmentCount, Valid, Valid),
    ("a.state.b@1", InvalidChar, NotExact, Valid),
    ("a.state.b@1.0", SegmentCount, NotExact, Valid),
    ("a.state.b@^1.2", SegmentCount, NotExact, Valid),
    ("a.state.b@~1.2", SegmentCount, NotExact, Valid),
    ("a.state.b@=1.2.3", SegmentCount, NotExact, Valid),
    ("a.state.b@>=1.0, <2", SegmentCount, NotExact, Valid),
    ("a.state.b@>=1.0,<2", SegmentCount, NotExact, Valid),
    ("a.state.b@*", InvalidChar, NotExact, Valid),
    ("a.state.b@1.*", SegmentCount, NotExact, Valid),
    ("a.state.b@^1.0.0-rc.1", SegmentCount, NotExact, Valid),
    (
        "a.state.b@",
        InvalidChar,
        InvalidVersion,
        InvalidRequirement,
    ),
    (
        "a.state.b@v1.0.0",
        SegmentCount,
        InvalidVersion,
        InvalidRequirement,
    ),
    (
        "a.state.b@01.0.0",
        SegmentCount,
        InvalidVersion,
        InvalidRequirement,
    ),
    (
        "a.state.b@1.0.0.0",
        SegmentCount,
        InvalidVersion,
        InvalidRequirement,
    ),
    (
        "a.state.b@>=1.0 <2",
        SegmentCount,
        InvalidVersion,
        InvalidRequirement,
    ),
    (
        "a.state.b@^",
        InvalidChar,
        InvalidVersion,
        InvalidRequirement,
    ),
    ("a.state.b@ 1.0.0", SegmentCount, InvalidVersion, Valid),
    // Segment structure.
    ("a..b@1", EmptySegment, EmptySegment, EmptySegment),
    (".a.b@1", EmptySegment, EmptySegment, EmptySegment),
    ("a.state.@1", InvalidChar, EmptySegment, EmptySegment),
    ("a.state.", EmptySegment, EmptySegment, EmptySegment),
    ("..", EmptySegment, EmptySegment, EmptySegment),
    ("a.b.c.d@1", SegmentCount, SegmentCount, SegmentCount),
    ("a.b@1", SegmentCount, SegmentCount, SegmentCount),
    ("a", SegmentCount, SegmentCount, SegmentCount),
    ("", Empty, Empty, Empty),
    ("@1.0.0", InvalidChar, Empty, Empty),
    // Characters.
    ("Greentic.state.fs@1", InvalidChar, InvalidChar, InvalidChar),
    ("greentic.state.Fs@1", InvalidChar, InvalidChar, InvalidChar),
    ("my_ns.state.fs@1", InvalidChar, InvalidChar, InvalidChar),
    ("ns.state.my_fs@1", InvalidChar, InvalidChar, InvalidChar),
    ("-ns.state.fs@1", InvalidChar, InvalidChar, InvalidChar),
    ("ns.state.-fs@1", InvalidChar, InvalidChar, InvalidChar),
    ("ns.state.fé@1", InvalidChar, InvalidChar, InvalidChar),
    ("a.state .b@1", UnknownSlot, UnknownSlot, UnknownSlot),
    ("a.state.b @1", InvalidChar, InvalidChar, InvalidChar),
    ("a.state.b@c@1.0.0", SegmentCount, InvalidChar, InvalidChar),
    ("a.state.b@c@1", InvalidChar, InvalidChar, InvalidChar),
    // Slots.
    (
        "greentic.deploy.k8s@1.0.0",
        SegmentCount,
        UnknownSlot,
        UnknownSlot,
    ),
    (
        "greentic.deploy.k8s@1",
        UnknownSlot,
        UnknownSlot,
        UnknownSlot,
    ),
    (
        "greentic.Deployer.k8s",
        UnknownSlot,
        UnknownSlot,
        UnknownSlot,
    ),
    ("greentic.queue.k8s", UnknownSlot, UnknownSlot, UnknownSlot),
    // Whitespace around the input.
    (" a.state.b@1.0.0", Whitespace, Whitespace, Whitespace),
    ("a.state.b@1.0.0 ", Whitespace, Whitespace, Whitespace),
    ("a.state.b@1.0.0\n", Whitespace, Whitespace, Whitespace),
    ("\ta.state.b", Whitespace, Whitespace, Whitespace),
    ("   ", Whitespace, Whitespace, Whitespace),
];

#[test]
fn table() {
    let mut failures = Vec::new();
    for &(input, id, descriptor, requirement) in TABLE {
        let got = (
            kind(&input.parse::<PackId>()),
            kind(&input.parse::<Descriptor>()),
            kind(&input.parse::<Requirement>()),
        );
        if got != (id, descriptor, requirement) {
            failures.push(format!(
                "{input:?}: expected {:?}, got {got:?}",
                (id, descriptor, requirement)
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn errors_carry_the_whole_input() {
    for &(input, ..) in TABLE {
        for err in [
            input.parse::<PackId>().err(),
            input.parse::<Descriptor>().err(),
            input.parse::<Requirement>().err(),
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(err.input(), input);
            let message = err.to_string();
            assert!(message.starts_with("invalid "), "{message}");
            assert!(message.contains(&format!("{input:?}")), "{message}");
        }
    }
}

#[test]
fn segment_lengths() {
    let max = "a".repeat(crate::MAX_SEGMENT_LEN);
    let over = "a".repeat(crate::MAX_SEGMENT_LEN + 1);
    for (input, expected) in [
        (format!("{max}.state.{max}@1.0.0"), Valid),
        (format!("{over}.state.b@1.0.0"), TooLong),
        (format!("a.state.{over}@1.0.0"), TooLong),
    ] {
        assert_eq!(kind(&input.parse::<Descriptor>()), expected, "{input}");
        assert_eq!(kind(&input.parse::<Requirement>()), expected, "{input}");
    }
    let err = format!("a.state.{over}")
        .parse::<PackId>()
        .expect_err("too long");
    assert!(matches!(
        err,
        DescriptorError::TooLong {
            segment: Segment::Name,
            len: 65,
            ..
        }
    ));
}

#[test]
fn error_details() {
    let err = "greentic.deploy.k8s@1.0.0"
        .parse::<Requirement>()
        .expect_err("unknown slot");
    assert!(matches!(
        err,
        DescriptorError::UnknownSlot {
            suggestion: Some(Slot::Deployer),
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        r#"invalid requirement "greentic.deploy.k8s@1.0.0": unknown slot "deploy"; expected one of deployer, secrets, telemetry, state, kinetic, command (did you mean "deployer"?)"#
    );

    let err = "greentic.queue.k8s"
        .parse::<Descriptor>()
        .expect_err("unknown slot");
    assert!(
        !err.to_string().contains("did you mean"),
        "no suggestion for an unrelated word: {err}"
    );

    let err = "ns.state.fé@1.0.0"
        .parse::<Descriptor>()
        .expect_err("non-ascii");
    assert!(matches!(
        err,
        DescriptorError::InvalidChar {
            ch: 'é',
            index: 1,
            segment: Segment::Name,
            ..
        }
    ));

    let err = "a.state.b@>=1.0 <2"
        .parse::<Requirement>()
        .expect_err("missing comma");
    assert_eq!(
        err.to_string(),
        r#"invalid requirement "a.state.b@>=1.0 <2": the version requirement ">=1.0 <2" is not valid: expected comma after minor version number, found '<'; expected a cargo-style requirement such as "1.2.3", "^1.2", "~1.2", ">=1.0, <2" or "*""#
    );

    let err = "a.state.b@1.0.0\n"
        .parse::<Descriptor>()
        .expect_err("trailing newline");
    assert_eq!(
        err.to_string(),
        r#"invalid descriptor "a.state.b@1.0.0\n": it has leading or trailing whitespace; expected "a.state.b@1.0.0""#
    );

    let err = "a.state.b\u{0}x@1.0.0"
        .parse::<Descriptor>()
        .expect_err("nul");
    assert!(
        err.to_string().contains(r#"has "\0" at byte 1"#),
        "control characters are escaped: {err}"
    );
}
