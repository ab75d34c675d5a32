#!/usr/bin/env bash
# The whole test suite, from a fresh clone: builds once, then runs every
# unit, property and end-to-end test of the workspace. Whatever a test
# needs beyond the Rust toolchain is installed here, once, when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Property tests: enough cases to matter, few enough for a 2-core CI run.
export PROPTEST_CASES="${PROPTEST_CASES:-256}"

echo "== tools (tansu, kafka-python venv, prometheus, alertmanager, chromium)"
# Always fatal: the tests that need a tool panic without it, so a failed
# install must not look like a test failure, and CI (CI=true) never skips.
bash tests/harness/ensure-tools.sh

echo "== build (once, for every test target)"
mkdir -p target
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
cargo test --workspace --locked --no-fail-fast 2>&1 | tee target/test-output.txt | grep -E '^(test result|running|error|failures|---- |thread )' || true
# The benchmarks at small scale with the debug build above: keeps bench/
# building and running (its figures mean nothing here; BENCHMARKS.md).
echo "== benchmark smoke run (bench/run.sh --smoke)"
if bash bench/run.sh --smoke --out target/bench-smoke >target/bench-smoke.txt 2>&1; then
    echo "test bench_smoke ... ok" >>target/test-output.txt
    echo "test result: ok. 1 passed; 0 failed (bench smoke)" >>target/test-output.txt
    cat target/bench-smoke.txt | grep '^|' || true
else
    tail -n 30 target/bench-smoke.txt
    echo "test result: FAILED. 0 passed; 1 failed (bench smoke)" >>target/test-output.txt
fi
# Summarise across every test binary; fail when any failed or none ran.
passed=$(grep -Eo '[0-9]+ passed' target/test-output.txt | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' target/test-output.txt | awk '{s+=$1} END {print s+0}')
if grep -q '^error' target/test-output.txt; then failed=$((failed + 1)); fi
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
