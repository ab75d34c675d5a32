"""Gathers the outputs of bench/run.sh into DIR/results.json and prints the
Markdown table of BENCHMARKS.md, each figure beside its target (issue 6).
Targets are reported, never asserted: timings on a shared 2-core machine
are noisy, so a missed target is a finding to explain, not a test failure."""

import argparse
import json
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path


def read_json(path):
    return json.loads(Path(path).read_text())


def decode_floor(out):
    text = (out / "decode.txt").read_text()
    field = lambda name: float(re.search(rf"^{name}\s+([0-9.]+)", text, re.M).group(1))
    return {"lines": int(field("lines")), "events_per_s": field("events/s"), "mb_per_s": field("MB/s")}


def replay(out, suffix=""):
    text = (out / f"replay{suffix}.txt").read_text()
    m = re.search(r"read (\d+) lines \(([0-9.]+) MB\)", text)
    lines, mb = int(m.group(1)), float(m.group(2))
    t = read_json(out / f"replay{suffix}.time.json")
    cpu = t["user_s"] + t["sys_s"]
    return {"lines": lines, "mb": mb, **t, "events_per_s": lines / t["wall_s"], "events_per_cpu_s": lines / cpu,
            "mb_per_s": mb / t["wall_s"]}


def firing_counts(path):
    counts = Counter()
    for line in Path(path).read_text().splitlines():
        if line.strip():
            alert = json.loads(line)
            counts[f"{alert['alertname']}/{alert['severity']}"] += 1
    return dict(sorted(counts.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", required=True)
    parser.add_argument("--profile", required=True)
    args = parser.parse_args()
    out = args.out

    a = decode_floor(out)
    b = replay(out)
    b2 = replay(out, ".2")
    footprint = read_json(out / "footprint.json")
    duck = read_json(out / "duckdb.json")
    duck_time = read_json(out / "duckdb.time.json")
    broker = read_json(out / "broker.json")
    latency = read_json(out / "latency.json")
    ours = firing_counts(out / "firing.ndjson")
    results = {
        "date": date.today().isoformat(), "scale": args.scale, "profile": args.profile,
        "a_decode_floor": a, "b_replay": b, "b_replay_2_threads": b2, "c_footprint": footprint, "d_e_broker": broker, "d_latency": latency,
        "duckdb": {**duck, "time": duck_time}, "firing": {"vbp_watch": ours, "duckdb": duck.get("firing")},
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))

    per = footprint["bytes_per"]
    tick = latency["tick_seconds"]
    duck_rate = duck["events"] / duck_time["wall_s"]
    rows = [
        ("(a) decode floor, one core", f"{a['events_per_s']:,.0f} events/s, {a['mb_per_s']:.0f} MB/s", "—"),
        ("(b) replay --as-of --threads 1, whole process", f"{b['events_per_s']:,.0f} events/s wall, {b['mb_per_s']:.1f} MB/s ({b['wall_s']:.1f} s)", "—"),
        ("(b) replay --as-of --threads 2, whole process", f"{b2['events_per_s']:,.0f} events/s wall ({b2['wall_s']:.1f} s, {b2['max_rss_kb'] / 1e6:.2f} GB RSS)", "—"),
        ("(b) --threads 2 ÷ --threads 1", f"{b2['events_per_s'] / b['events_per_s']:.2f}×", "> 1×"),
        ("(b) replay per CPU-second", f"{b['events_per_cpu_s']:,.0f} events/s", "≥ 250,000"),
        ("(b) ratio to (a)", f"{b['events_per_s'] / a['events_per_s']:.2f}×", "≥ 0.5×"),
        ("DuckDB, same question, whole process", f"{duck_rate:,.0f} events/s ({duck_time['wall_s']:.1f} s, {duck_time['max_rss_kb'] / 1e6:.2f} GB RSS)", "replay ≥ DuckDB"),
        ("(b) replay / DuckDB, --threads 1 / 2", f"{b['events_per_s'] / duck_rate:.2f}× / {b2['events_per_s'] / duck_rate:.2f}×", "≥ 1×"),
        ("(c) peak RSS of replay", f"{b['max_rss_kb'] / 1e6:.2f} GB", "—"),
        ("(c) state per agreement", f"{per['agreement']:.0f} B", "≤ 300 B"),
        ("(c) state per order line (open or retained)", f"{per['order_line']:.0f} B", "≤ 300 B"),
        ("(c) all state per open order line", f"{per['open_order_line_all_state']:,.0f} B", "—"),
        ("(d) through tansu, sustained", f"{broker['consume_per_s']:,.0f} events/s ({broker['messages']:,} messages)", "—"),
        ("(d) produce → Alertmanager p50 / p99 (small province)", f"{latency['latency_p50_s']:.2f} s / {latency['latency_p99_s']:.2f} s ({latency['probes']} probes, tick {tick:.0f} s)", f"p99 ≤ {tick + 1:.0f} s"),
        ("(e) restore from checkpoint, this scale", f"{footprint['checkpoint']['restore_seconds']:.1f} s ({footprint['checkpoint']['bytes'] / 1e6:,.0f} MB)", "≤ 10 s"),
        ("(e) restart through the broker", f"{broker['restart_seconds']:.1f} s ({broker['checkpoint_bytes'] / 1e6:,.1f} MB)", "≤ 10 s"),
    ]
    print(f"| {args.scale} scale, {args.profile} build, {date.today()} | measured | target |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    same = ours == duck.get("firing")
    print(f"\nFiring at as-of: vbp-watch {sum(ours.values())}, DuckDB {sum((duck.get('firing') or {}).values())}"
          f" ({'same counts by alert and severity' if same else 'DIFFERENT: see results.json'}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
