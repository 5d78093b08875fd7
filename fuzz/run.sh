#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for RUNS inputs each, from the
# seeds in fuzz/seeds/, and prints one line per target: runs, seconds,
# coverage and corpus size, as recorded in docs/security.md.
#
#   bash fuzz/run.sh                 # every target, 1,000,000 runs each
#   RUNS=100000 bash fuzz/run.sh answers traffic_split
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")"
RUNS="${RUNS:-1000000}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(descriptor requirement capability pack_toml manifest_section bundle_manifest answers traffic_split)
fi
mkdir -p logs
cargo +nightly fuzz build >logs/build.log 2>&1 || { echo "cargo fuzz build failed: see fuzz/logs/build.log" >&2; exit 1; }
printf '%-18s %10s %8s %8s %8s %s\n' target runs seconds cov corpus result
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n "seeds/$t"/* "corpus/$t/" 2>/dev/null || true
    start=$(date +%s)
    # The binaries built above, run directly: `cargo fuzz run` would
    # rebuild whenever a source changed, mid-run.
    if ASAN_OPTIONS=detect_odr_violation=0 "target/x86_64-unknown-linux-gnu/release/$t" \
        "corpus/$t" -runs="$RUNS" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" >"logs/$t.log" 2>&1; then
        result=ok
    else
        result="FAILED (fuzz/logs/$t.log, crash input under fuzz/artifacts/$t/)"
    fi
    secs=$(( $(date +%s) - start ))
    done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 | grep -o '[0-9]*' || echo '?')
    corpus=$(find "corpus/$t" -type f | wc -l)
    printf '%-18s %10s %8s %8s %8s %s\n' "$t" "$done_runs" "$secs" "$cov" "$corpus" "$result"
done
