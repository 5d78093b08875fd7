//! Drift over large inventories: `truth::compare` of an observation of N
//! payload files against an expectation of the same size with 1% changed,
//! for N from 1,000 to 1,000,000, against a same-run baseline that only
//! walks both maps in step (the least any comparison must do).
//!
//! Run: `cargo bench -p envpack-host --bench truth`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use envpack_host::deploy::model::RevState;
use envpack_host::manifest::Digest;
use envpack_host::truth::compare;
use envpack_host::truth::model::{Expectation, ExpectedRevision, Observation, ObservedRevision};

fn sha(i: usize, salt: &str) -> String {
    Digest::of(format!("{salt}{i}").as_bytes())
        .hex()
        .to_string()
}

/// One revision with `n` files expected, observed with every 100th changed.
fn records(n: usize) -> (Expectation, Observation) {
    let expected: BTreeMap<String, String> =
        (0..n).map(|i| (format!("f/{i:07}"), sha(i, "a"))).collect();
    let observed: BTreeMap<String, String> = (0..n)
        .map(|i| {
            let salt = if i % 100 == 0 { "b" } else { "a" };
            (format!("f/{i:07}"), sha(i, salt))
        })
        .collect();
    let e = Expectation {
        revisions: vec![ExpectedRevision {
            deployment: "web".into(),
            revision: "r1".into(),
            lifecycle: RevState::Ready,
            basis_points: 10_000,
            running: true,
            bundle: Digest::of(b"bundle"),
            version: "1.0.0".into(),
            endpoint: None,
            files: expected,
            attributes: BTreeMap::new(),
        }],
        ..Expectation::default()
    };
    let o = Observation::Observed {
        revisions: vec![ObservedRevision {
            deployment: "web".into(),
            revision: "r1".into(),
            state: "running".into(),
            bundle: Some(Digest::of(b"bundle").to_string()),
            endpoint: None,
            files: observed,
            attributes: BTreeMap::new(),
        }],
    };
    (e, o)
}

/// The baseline: step through both maps, counting differences.
fn walk(e: &Expectation, o: &Observation) -> usize {
    let Observation::Observed { revisions } = o else {
        return 0;
    };
    e.revisions[0]
        .files
        .values()
        .zip(revisions[0].files.values())
        .filter(|(a, b)| a != b)
        .count()
}

fn drift(c: &mut Criterion) {
    let mut g = c.benchmark_group("drift");
    g.sample_size(10).measurement_time(Duration::from_secs(4));
    for n in [1_000usize, 10_000, 100_000, 1_000_000] {
        let (e, o) = records(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("compare", n), &n, |b, _| {
            b.iter(|| {
                let d = compare(black_box(&e), black_box(&o)).expect("observed");
                assert_eq!(d.len(), n.div_ceil(100));
                d
            })
        });
        g.bench_with_input(BenchmarkId::new("walk_baseline", n), &n, |b, _| {
            b.iter(|| walk(black_box(&e), black_box(&o)))
        });
    }
    g.finish();
}

criterion_group!(benches, drift);
criterion_main!(benches);
