//! The fuzz targets' properties (`fuzz/src/lib.rs`) on proptest inputs, so
//! every `cargo test` runs what `cargo +nightly fuzz run <target>` runs:
//! arbitrary bytes, plus inputs shaped like the real thing so the accepting
//! paths (and their round trips) are reached too.

use envpack_fuzz as check;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

const SLOTS: &str = "(deployer|secrets|telemetry|state|kinetic|sekrets|)";

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(512)
}

/// Strings close to `ns.slot.name@version`: well formed (exact or with
/// a requirement), or with the characters and shapes that break them.
fn descriptor_like() -> impl Strategy<Value = String> {
    let part = "(0|[1-9][0-9]{0,2})";
    let version = format!("{part}\\.{part}\\.{part}(-[a-z][a-z0-9]{{0,4}})?(\\+[a-z0-9]{{1,3}})?");
    let well_formed = (
        "[a-z][a-z0-9-]{0,6}",
        "(deployer|secrets|telemetry|state|kinetic)",
        "[a-z][a-z0-9-]{0,6}",
        "(@|@=|@\\^|@~|@>=|@<)",
        proptest::string::string_regex(&version).expect("a valid regex"),
        "(|, <2|,>=1)",
    )
        .prop_map(|(ns, slot, name, at, v, tail)| format!("{ns}.{slot}.{name}{at}{v}{tail}"));
    let noisy = (
        proptest::string::string_regex(&format!(
            "[a-z0-9-]{{0,6}}\\.{SLOTS}\\.[a-zA-Z0-9_-]{{0,6}}"
        ))
        .expect("a valid regex"),
        "(@|@=|@\\^|@ |)",
        "[0-9]{1,3}(\\.[0-9x*]{1,3}){0,2}(-[a-z0-9.]{0,5})?",
    )
        .prop_map(|(id, at, v)| format!("{id}{at}{v}"));
    prop_oneof![well_formed, noisy]
}

fn capability_like() -> impl Strategy<Value = String> {
    (
        "(log|kv|process|config|secret|credential|http|Http|)",
        "(:|: |)",
        "[a-zA-Z0-9*._:/\\[\\]@ -]{0,24}",
    )
        .prop_map(|(kind, sep, value)| format!("{kind}{sep}{value}"))
}

fn pack_toml_like() -> impl Strategy<Value = String> {
    let host =
        "[a-z]{1,8}\\.(com|test)(:[0-9]{2,4})?|\\*\\.[a-z]{1,5}\\.com|127\\.0\\.0\\.1|[A-Z ]{0,3}";
    (
        prop_oneof![
            descriptor_like().prop_map(|d| d.split('@').next().unwrap_or_default().to_string()),
            descriptor_like(),
            Just("acme.state.memory@1.0.0".to_string()),
        ],
        prop::collection::vec(host, 0..4),
        "(log = true|kv = false|process = true|)",
        prop::collection::vec("[a-z]{1,6}( [a-z]{1,6})?", 0..3),
        "(option|flag|positional|list|)",
    )
        .prop_map(|(descriptor, http, toggle, commands, kind)| {
            let mut s = format!(
                "[pack]\ndescriptor = {descriptor:?}\ndescription = \"d\"\n\n[capabilities]\n{toggle}\nhttp = {http:?}\n"
            );
            for c in commands {
                s.push_str(&format!(
                    "\n[[commands]]\nname = {c:?}\nabout = \"a\"\nargs = [{{ name = \"x\", kind = {kind:?} }}]\n"
                ));
            }
            s
        })
}

fn manifest_json_like() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            descriptor_like(),
            Just("acme.state.memory@1.0.0".to_string())
        ],
        "(0\\.1\\.0|0\\.2\\.0|9\\.9\\.9|x)",
        0u32..3,
        prop::collection::vec("[a-z]{1,8}\\.com|127\\.0\\.0\\.1|[A-Z :]{0,3}", 0..3),
    )
        .prop_map(|(descriptor, api, format, http)| {
            let mut bytes = vec![1u8];
            let json = serde_json::json!({
                "format": format, "descriptor": descriptor, "api_version": api,
                "description": "d", "capabilities": {"http": http}, "commands": []
            });
            bytes.extend(serde_json::to_vec(&json).unwrap_or_default());
            bytes
        })
}

fn bundle_manifest_like() -> impl Strategy<Value = Vec<u8>> {
    (
        "(release_bundle_v1|release_bundle_v2)",
        "[a-z0-9-]{0,8}|[A-Z.]{1,3}",
        "[0-9]\\.[0-9]\\.[0-9](-rc)?|x",
        "(main|feature-branch|release-tag|other)",
        prop::collection::vec("[a-z./]{0,10}", 0..3),
        prop::collection::vec("(env\\.[A-Z_]{1,6}|health|run)", 0..3),
    )
        .prop_map(|(contract, name, version, kind, required, attrs)| {
            let attributes: serde_json::Map<_, _> = attrs
                .into_iter()
                .map(|k| (k, serde_json::Value::from("v")))
                .collect();
            let json = serde_json::json!({
                "contract": contract, "name": name, "version": version,
                "created": "2026-01-01T00:00:00Z",
                "source": {"kind": kind, "ref": "main"},
                "files": [], "evidence": [], "required_evidence": required,
                "attributes": attributes,
            });
            serde_json::to_vec(&json).unwrap_or_default()
        })
}

fn answers_like() -> impl Strategy<Value = Vec<u8>> {
    let key = "(env|deployment|weights|idempotency_key|revision|bundle_id|to|bundle|dry_run|steps|dir|name|version|source|ref|attributes|other)";
    let value = prop_oneof![
        "[a-z0-9=%.-]{0,10}".prop_map(serde_json::Value::from),
        prop::collection::vec("(r1|r2)=[0-9]{1,3}(%|bps)|[a-z]{1,3}=[a-z]{1,3}", 0..3)
            .prop_map(serde_json::Value::from),
        any::<bool>().prop_map(serde_json::Value::from),
        (0u64..100).prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("main")),
    ];
    prop::collection::btree_map(key, value, 0..6).prop_map(|m| {
        let object: serde_json::Map<_, _> = m.into_iter().collect();
        serde_json::to_vec(&object).unwrap_or_default()
    })
}

fn split_like() -> impl Strategy<Value = String> {
    let entry =
        "(r1|r2|a1b2|a1|r9|rx|)(=|==|)([0-9]{1,5}(\\.[0-9]{0,3})?|-1|99999999999999999999)(%|bps|)";
    let noisy = prop::collection::vec(entry, 0..5).prop_map(|v| v.join(" "));
    // Splits that sum to 100%, written in either unit.
    let summing =
        (0u32..=10_000, any::<bool>(), "(r1|a1b2|r9)").prop_map(|(cut, percent, other)| {
            let w = |bps: u32| {
                if percent {
                    format!("{}.{:02}%", bps / 100, bps % 100)
                } else {
                    format!("{bps}bps")
                }
            };
            format!("r2={} {other}={}", w(cut), w(10_000 - cut))
        });
    prop_oneof![noisy, summing]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn descriptor(s in prop_oneof![descriptor_like(), any::<String>()]) {
        check::descriptor(s.as_bytes());
    }

    #[test]
    fn requirement(s in prop_oneof![descriptor_like(), any::<String>()]) {
        check::requirement(s.as_bytes());
        // Without the version part too: a bare id is a requirement.
        check::requirement(s.split('@').next().unwrap_or_default().as_bytes());
    }

    #[test]
    fn capability(s in prop_oneof![capability_like(), any::<String>()]) {
        check::capability(s.as_bytes());
    }

    #[test]
    fn pack_toml(s in prop_oneof![pack_toml_like(), any::<String>()]) {
        check::pack_toml(s.as_bytes());
    }

    #[test]
    fn manifest_section(b in prop_oneof![manifest_json_like(), any::<Vec<u8>>()]) {
        check::manifest_section(&b);
    }

    #[test]
    fn bundle_manifest(b in prop_oneof![bundle_manifest_like(), any::<Vec<u8>>()]) {
        check::bundle_manifest(&b);
    }

    #[test]
    fn answers(b in prop_oneof![answers_like(), any::<Vec<u8>>()]) {
        check::answers(&b);
    }

    #[test]
    fn traffic_split(s in prop_oneof![split_like(), any::<String>()]) {
        check::traffic_split(s.as_bytes());
    }
}

/// How many of `n` inputs drawn from `strategy` `check` accepts.
fn accepted<T: std::fmt::Debug>(
    strategy: impl Strategy<Value = T>,
    check: impl Fn(&T) -> bool,
    n: usize,
) -> usize {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..n)
        .filter(|_| {
            let value = strategy
                .new_tree(&mut runner)
                .expect("the strategy generates")
                .current();
            check(&value)
        })
        .count()
}

/// The shaped strategies reach the accepting paths, so the round-trip
/// properties above are exercised, not only the refusals.
#[test]
fn shaped_inputs_are_often_accepted() {
    let n = 400;
    let counts = [
        (
            "descriptor",
            accepted(descriptor_like(), |s| check::descriptor(s.as_bytes()), n),
        ),
        (
            "requirement",
            accepted(descriptor_like(), |s| check::requirement(s.as_bytes()), n),
        ),
        (
            "capability",
            accepted(capability_like(), |s| check::capability(s.as_bytes()), n),
        ),
        (
            "pack_toml",
            accepted(pack_toml_like(), |s| check::pack_toml(s.as_bytes()), n),
        ),
        (
            "manifest_section",
            accepted(manifest_json_like(), |b| check::manifest_section(b), n),
        ),
        (
            "bundle_manifest",
            accepted(bundle_manifest_like(), |b| check::bundle_manifest(b), n),
        ),
        (
            "answers",
            accepted(answers_like(), |b| check::answers(b), n),
        ),
        (
            "traffic_split",
            accepted(split_like(), |s| check::traffic_split(s.as_bytes()), n),
        ),
    ];
    for (target, count) in counts {
        assert!(count > 0, "no shaped {target} input of {n} was accepted");
    }
}

/// Every seed of the fuzz corpus is accepted by its target: the fuzzers
/// start from valid inputs.
#[test]
fn fuzz_seeds_are_accepted() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    type Check = fn(&[u8]) -> bool;
    let checks: [(&str, Check); 8] = [
        ("descriptor", check::descriptor),
        ("requirement", check::requirement),
        ("capability", check::capability),
        ("pack_toml", check::pack_toml),
        ("manifest_section", check::manifest_section),
        ("bundle_manifest", check::bundle_manifest),
        ("answers", check::answers),
        ("traffic_split", check::traffic_split),
    ];
    assert_eq!(checks.len(), check::TARGETS.len());
    for (target, f) in checks {
        let dir = seeds.join(target);
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .collect();
        assert!(!files.is_empty(), "{target} has no seeds");
        for file in files {
            let bytes = std::fs::read(file.path()).expect("read seed");
            assert!(f(&bytes), "seed {} is refused", file.path().display());
        }
    }
}
