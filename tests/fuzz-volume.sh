#!/usr/bin/env bash
# Volume fuzzing (issue 16 part 5): the event decoder, the reference loader
# and the checkpoint reader, PROPTEST_CASES generated inputs each (default
# 10,000,000), one target after another, in a release build.
#
# Not run by CI (its minutes are precious): CI runs the same three tests,
# schemas/, detectors/ and pipeline/tests/fuzz_volume.rs, at 256 cases
# through `cargo test --workspace` (tests/run.sh). Each test counts its
# executions itself and prints them with the wall time and the rate; this
# script prints those lines, and for a failure the minimal failing input
# proptest shrank it to (also saved beside the test as
# fuzz_volume.proptest-regressions, so the next run tries it first).
#
#   tests/fuzz-volume.sh                        # 10^7 cases per target
#   PROPTEST_CASES=100000 tests/fuzz-volume.sh  # a quick look at the rates
#   tests/fuzz-volume.sh checkpoint             # one target (decoder, reference, checkpoint)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PROPTEST_CASES="${PROPTEST_CASES:-10000000}"
out=target/fuzz-volume
mkdir -p "$out"

echo "== build (release; the whole workspace, so features unify and nothing is built twice)"
if ! cargo test --release --workspace --locked --no-run >"$out/build-log.txt" 2>&1; then
    grep -E -A12 '^error' "$out/build-log.txt" | head -n 60 || true
    tail -n 20 "$out/build-log.txt"
    exit 1
fi

# name → the #[test] that runs it
declare -A tests=(
    [decoder]=decoder_under_volume_fuzzing
    [reference]=reference_loader_under_volume_fuzzing
    [checkpoint]=checkpoint_reader_under_volume_fuzzing
)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(decoder reference checkpoint); fi

failed=0
echo "== fuzzing, ${PROPTEST_CASES} cases per target"
for target in "${targets[@]}"; do
    test="${tests[$target]:-}"
    if [ -z "$test" ]; then
        echo "unknown target '$target' (decoder, reference, checkpoint)" >&2
        exit 2
    fi
    log="$out/$target.txt"
    started=$(date +%s)
    # --exact: only the volume test of each binary; the other binaries run nothing.
    if cargo test --release --workspace --locked --test fuzz_volume -- --exact "$test" --nocapture --test-threads=1 >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed=1
    fi
    seconds=$(($(date +%s) - started))
    line=$(grep -oE 'fuzz-volume .*' "$log" | tail -n 1 || true)
    echo "$target: ${status} in ${seconds} s wall | ${line:-no count printed}"
    if [ "$status" = FAILED ]; then
        # The panic, the minimal failing input and where it was saved.
        grep -E -A40 "^(thread '.*' panicked|Test failed|minimal failing input)" "$log" | grep -v -E '^ +[0-9]+: |^ +at ' | head -n 60 || true
        grep -E 'proptest: Saving' "$log" || true
        echo "(whole output: $log)"
    fi
done
exit "$failed"
