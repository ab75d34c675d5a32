#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, in one run on one machine:
#   (a) the floor: serde_json decoding of the same NDJSON, nothing else
#   (b) `replay --as-of` of the whole engine, and its ratio to (a); the same
#       with every midnight's transitions (--alerts-out)
#   (c) peak RSS, and heap bytes of state per agreement and per order line
#   (d) through tansu: sustained events/s, produce → Alertmanager latency
#   (e) restart from a checkpoint (province scale without a broker, and
#       through the broker at the size of (d))
#   and the batch-SQL alternative: DuckDB computing the same six alert sets.
#
#   bench/run.sh                      province scale, release build (≈ 20 min)
#   bench/run.sh --smoke              small scale, debug build as tests/run.sh
#                                     leaves it: keeps the code running, not a measurement
# Options: --scale small|province (province also runs the 2,000-institution
#          region)  --profile release|debug  --out DIR
#          --broker-lines N (first N lines of each file through the broker; 0: all)
#          --probes N  --no-build
# Results: DIR/results.json and a Markdown table on stdout.
# Needs tansu, Alertmanager and tests/.venv: tests/harness/ensure-tools.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# A step that fails says which, whatever it wrote its errors to.
trap 'echo "bench/run.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

scale=province profile=release out=target/bench broker_lines=0 probes=30 build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) scale=small profile=debug broker_lines=0 probes=3 build=0 ;;
        --scale) scale=$2; shift ;;
        --profile) profile=$2; shift ;;
        --out) out=$2; shift ;;
        --broker-lines) broker_lines=$2; shift ;;
        --probes) probes=$2; shift ;;
        --no-build) build=0 ;;
        *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
export PATH="$HOME/.cargo/bin:$PATH"
bash tests/harness/ensure-tools.sh >/dev/null

if [ "$build" = 1 ]; then
    flag=$([ "$profile" = release ] && echo --release || true)
    cargo build $flag --locked --bin vbp-watch 2>&1 | tail -n 1
    cargo build $flag --locked -p vbp-schemas --example decode_throughput 2>&1 | tail -n 1
fi
# Where cargo put the builds: CARGO_TARGET_DIR when set, as cargo honours it.
target_dir=${CARGO_TARGET_DIR:-target}
vbp=$target_dir/$profile/vbp-watch
decode=$target_dir/$profile/examples/decode_throughput

# DuckDB for the baseline and confluent-kafka for the load, in their own
# venv (pinned in bench/requirements.txt).
if ! bench/.venv/bin/python -c 'import duckdb, confluent_kafka, kafka' 2>/dev/null; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet -r bench/requirements.txt
fi

rm -rf "$out" && mkdir -p "$out"
timed() { /usr/bin/time -f '{"wall_s": %e, "user_s": %U, "sys_s": %S, "max_rss_kb": %M}' -o "$1" "${@:2}"; }

# One data set: simulated, then (a), (b), (c, e) and DuckDB on it, in DIR.
bench_set() {
    local dir=$1 set_scale=$2
    local data=$dir/data
    mkdir -p "$dir"
    "$vbp" simulate --out "$data" --scale "$set_scale" --seed 1 2>"$dir/simulate.txt"
    as_of=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["as_of"])' "$data/planted.json")
    events=("$data/events/orders.ndjson" "$data/events/deliveries.ndjson" "$data/events/payments.ndjson")

    echo "== $set_scale (a) decode floor" >&2
    "$decode" "${events[@]}" >"$dir/decode.txt"

    # (b) the question DuckDB answers too: the alerts firing at --as-of
    # (and the dead letters), at one thread, then two; then the same with
    # every midnight's transitions. Every run must write the same bytes.
    for run in 1 2 every; do
        local threads=$([ "$run" = 2 ] && echo 2 || echo 1)
        local suffix=$([ "$run" = 1 ] && echo "" || echo ".$run")
        local extra=()
        [ "$run" = every ] && extra=(--alerts-out "$dir/transitions.ndjson")
        echo "== $set_scale (b) replay --as-of $as_of --threads $threads ${extra[*]:+--alerts-out}" >&2
        timed "$dir/replay$suffix.time.json" "$vbp" replay --reference "$data/reference" --events "${events[@]}" \
            --as-of "$as_of" --threads "$threads" --firing-out "$dir/firing$suffix.ndjson" \
            --dead-letter "$dir/dead$suffix.ndjson" "${extra[@]}" 2>"$dir/replay$suffix.txt"
    done
    for run in 2 every; do
        for f in firing dead; do
            cmp "$dir/$f.ndjson" "$dir/$f.$run.ndjson" || { echo "bench/run.sh: replay .$run wrote other $f" >&2; exit 1; }
        done
    done

    echo "== $set_scale (c, e) state footprint and checkpoint restore" >&2
    timed "$dir/footprint.time.json" "$vbp" footprint --reference "$data/reference" --events "${events[@]}" --as-of "$as_of" \
        --checkpoint-dir "$dir/checkpoint" >"$dir/footprint.json" 2>/dev/null

    echo "== $set_scale DuckDB baseline" >&2
    timed "$dir/duckdb.time.json" bench/.venv/bin/python bench/duckdb_baseline.py --reference "$data/reference" \
        --events "${events[@]}" --as-of "$as_of" --firing-out "$dir/duckdb-firing.ndjson" >"$dir/duckdb.json"
}

# The province (SPEC §8's size, one month, few alerts), and a region of
# 2,000 institutions over ten months that fires thousands (a realistic
# share of hospitals behind schedule or paying late).
sets=$([ "$scale" = small ] && echo small || echo "$scale region")
for set in $sets; do
    bench_set "$out/$set" "$set"
done

data=$out/$scale/data
as_of=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["as_of"])' "$data/planted.json")
events=("$data/events/orders.ndjson" "$data/events/deliveries.ndjson" "$data/events/payments.ndjson")
# The whole month by default: sustained events/s to caught up, then the
# latency of probes against the province's state, then the restart.
echo "== (d, e) through the broker: throughput, latency and restart" >&2
bench/.venv/bin/python bench/broker.py --vbp-watch "$vbp" --reference "$data/reference" --events "${events[@]}" \
    --as-of "$as_of" --lines "$broker_lines" --probes "$probes" >"$out/broker.json"

# The same latency on the small province (18 alerts firing): what a
# province of few alerts and a small state answers.
echo "== (d) through the broker: produce → Alertmanager latency" >&2
"$vbp" simulate --out "$out/latency-small" --scale small --seed 1 2>/dev/null
small=$out/latency-small
small_as_of=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["as_of"])' "$small/planted.json")
bench/.venv/bin/python bench/broker.py --vbp-watch "$vbp" --reference "$small/reference" \
    --events "$small/events/orders.ndjson" "$small/events/deliveries.ndjson" "$small/events/payments.ndjson" \
    --as-of "$small_as_of" --probes "$probes" >"$out/latency.json"

python3 bench/report.py "$out" --sets $sets --profile "$profile"
