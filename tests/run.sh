#!/usr/bin/env bash
# The whole test suite, from a fresh clone: builds once, then runs every
# unit, property and end-to-end test of the workspace. Whatever a test
# needs beyond the Rust toolchain is installed here, once, when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Property tests run the cases each one sets (256 unless it says; fewer for
# those that replay a province per case). PROPTEST_CASES, when set,
# overrides them all: not exported here.

echo "== tools (tansu, kafka-python venv, prometheus, alertmanager, chromium)"
# Always fatal: the tests that need a tool panic without it, so a failed
# install must not look like a test failure, and CI (CI=true) never skips.
bash tests/harness/ensure-tools.sh

echo "== build (once, for every test target)"
mkdir -p target
# A cold build keeps no incremental caches: they cost GBs of disk (a CI run
# failed on a full disk while linking) and time, and a fresh clone never
# reuses them. A developer's own setting wins.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "disk free before the build: $(df -h . | awk 'NR==2 {print $4}')"
# The whole log is kept; on failure its errors and its end are shown, so a
# failed build says why (a rustc crash, a full disk) and not only that it did.
if ! cargo build --workspace --all-targets --locked >target/build-log.txt 2>&1; then
    grep -E -A12 '^(error|thread .* panicked|note: )' target/build-log.txt | cut -c1-400 | head -n 80 || true
    echo "-- last lines of target/build-log.txt"
    tail -n 25 target/build-log.txt | cut -c1-400
    df -h . | tail -n 1
    exit 1
fi
tail -n 3 target/build-log.txt
echo "== tests"
# cargo-nextest (shipped with the toolchain on these machines; settings in
# .config/nextest.toml) runs the tests of every binary side by side, which
# keeps the end-to-end tests' waiting inside CI's budget; plain cargo test
# runs them one binary after another when nextest is missing.
set +e
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked 2>&1 | tee target/test-output.txt | grep -E '^ +(FAIL|SIGSEGV|SIGABRT|TIMEOUT|SLOW|Summary)|^error'
else
    echo "(cargo-nextest not found: cargo test, one binary at a time)"
    cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt | grep -E '^(test result|running|error|failures|---- )'
fi
tests=${PIPESTATUS[0]}
set -e
if [ "$tests" -ne 0 ]; then
    echo "-- why (the whole output is in target/test-output.txt)"
    grep -E -A4 'panicked at' target/test-output.txt | cut -c1-400 | head -n 120 || true
fi
# The benchmarks at small scale with the debug build above: keeps bench/
# building and running (its figures mean nothing here; BENCHMARKS.md).
echo "== benchmark smoke run (bench/run.sh --smoke)"
bench=0
if bash bench/run.sh --smoke --out target/bench-smoke >target/bench-smoke.txt 2>&1; then
    grep '^|' target/bench-smoke.txt || true
else
    bench=1
    tail -n 30 target/bench-smoke.txt
fi
echo "tests: exit status ${tests}; bench smoke: exit status ${bench}"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
