"""Figure (d) of BENCHMARKS.md, and the broker half of (e): vbp-watch live
against a real broker (tansu) and a real Alertmanager.

1. Starts tansu (memory storage) and Alertmanager on free loopback ports,
   creates the three topics, and produces the first --lines lines of each
   events file (all of them by default) with confluent-kafka's producer
   (librdkafka, from its wheel), keyed as tests/harness/kafka_tool.py keys
   them: kafka-python's 7,400 messages/s would measure the load tool.
2. Starts `vbp-watch run` with T pinned to the data's as-of and a 1 s tick,
   and times it from start to caught up (every message consumed, lag 0):
   sustained events/s through the broker.
3. Latency: --probes times, produces one new `order.placed` that is already
   overdue for an (institution, product) with no alert, and times from the
   send to the `OrderUndelivered` alert being listed by Alertmanager.
4. Restart: SIGTERM (final checkpoint), start again on the same state
   directory, and times until it is caught up again; reports the
   checkpoint's size.

Prints one JSON object. Run by bench/run.sh; needs tansu, Alertmanager and
tests/.venv (tests/harness/ensure-tools.sh installs them).
"""

import argparse
import csv
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer

ROOT = Path(__file__).resolve().parent.parent
KAFKA_TOOL = ROOT / "tests" / "harness" / "kafka_tool.py"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
TOPICS = ["vbp.orders", "vbp.deliveries", "vbp.payments", "vbp.dead-letter", "vbp.facts"]


def free_port():
    """A loopback port free now, below the kernel's ephemeral range: servers
    here are restarted on their port, and an outgoing connection is never
    given a port from outside that range while the server is down."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            ephemeral_low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    for _ in range(1000):
        port = random.randrange(10000, max(ephemeral_low, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    sys.exit("broker.py: no free loopback port below the ephemeral range")


def http_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def wait_for(what, predicate, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            sys.exit(f"broker.py: {what}: the process exited with {proc.returncode}")
        try:
            value = predicate()
            if value:
                return value
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"broker.py: timed out after {timeout:.0f} s waiting for {what}")


def start(name, argv, workdir, **kw):
    log = open(workdir / f"{name}.log", "ab")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, **kw)


def start_tansu(workdir):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = start("tansu", ["tansu", "broker", "--listener-url", url, "--advertised-listener-url", url,
                           "--storage-engine", "memory://tansu/"], workdir)
    bootstrap = f"127.0.0.1:{port}"

    def answers():  # a Kafka answer, not just an open port (as the test harness waits)
        return subprocess.run([sys.executable, str(KAFKA_TOOL), "list-topics", "--bootstrap", bootstrap],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    wait_for("tansu to answer", answers, 60, proc)
    return proc, bootstrap


def start_alertmanager(workdir):
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text("route:\n  receiver: none\n  group_wait: 0s\nreceivers:\n  - name: none\n")
    proc = start("alertmanager", [ALERTMANAGER, f"--config.file={config}", f"--storage.path={workdir / 'am'}",
                                  f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="], workdir)
    url = f"http://127.0.0.1:{port}"
    wait_for("Alertmanager to be ready", lambda: urllib.request.urlopen(url + "/-/ready", timeout=1).status == 200, 60, proc)
    return proc, url


def produce_fast(bootstrap, files, lines):
    """Produces every event line of `files` (the first `lines` of each when
    set) to vbp.<file stem>, keyed by institution as kafka_tool keys them,
    with librdkafka through confluent-kafka. Returns (messages, seconds)."""
    from confluent_kafka import Producer
    sys.path.insert(0, str(KAFKA_TOOL.parent))
    import kafka_tool as tool
    orders = tool.order_institutions(files)
    failures = []

    def delivered(err, _msg):
        if err is not None:
            failures.append(err)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20,
                         "batch.size": 1_000_000, "queue.buffering.max.messages": 1_000_000,
                         "enable.idempotence": False})
    began, sent = time.monotonic(), 0
    for path in files:
        topic = "vbp." + Path(path).stem
        with open(path, "rb") as f:
            for i, line in enumerate(f):
                if lines and i >= lines:
                    break
                line = line.rstrip(b"\n")
                line = line[:-1] if line.endswith(b"\r") else line
                if not line.strip():
                    continue
                key = tool.key_of(line, orders)
                while True:
                    try:
                        producer.produce(topic, value=line, key=key.encode() if key is not None else None, on_delivery=delivered)
                        break
                    except BufferError:  # the local queue is full: let librdkafka send
                        producer.poll(0.05)
                producer.poll(0)
                sent += 1
    if producer.flush(600) > 0:
        sys.exit("broker.py: messages still unsent after 600 s")
    if failures:
        sys.exit(f"broker.py: {len(failures)} messages failed, first: {failures[0]}")
    return sent, time.monotonic() - began


def kafka_tool(*args):
    subprocess.run([sys.executable, str(KAFKA_TOOL), *args], check=True, stdout=subprocess.DEVNULL)


def start_pipeline(vbp, workdir, bootstrap, am_url, reference, as_of, state_dir, http_port):
    config = workdir / "vbp-watch.toml"
    config.write_text(
        f'reference = "{reference}"\nstate_dir = "{state_dir}"\nhttp_listen = "127.0.0.1:{http_port}"\n'
        f'tick_seconds = 1\ncheckpoint_seconds = 5\nevaluate_at = "{as_of}"\n'
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\ngroup_id = "bench"\nassignment = "all"\n'
        f'[alertmanager]\nurl = "{am_url}"\n')
    return start("vbp-watch", [vbp, "run", "--config", str(config)], workdir)


def consumed(metrics_url):
    total = 0.0
    with urllib.request.urlopen(metrics_url, timeout=2) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("vbp_events_total{"):
                total += float(line.rsplit(" ", 1)[1])
    return total


def caught_up(base, expected):
    health = http_json(base + "/healthz")
    return health.get("caught_up") and consumed(base + "/metrics") >= expected


def am_alerts(am_url, alertname):
    url = f"{am_url}/api/v2/alerts?filter=alertname%3D%22{alertname}%22"
    return http_json(url)


def probes(args, bootstrap, am_url):
    """Latencies (s) from producing an overdue order to its alert in Alertmanager."""
    institutions = [r["institution_code"] for r in csv.DictReader(open(Path(args.reference) / "institutions.csv", encoding="utf-8"))]
    products = [r["product_code"] for r in csv.DictReader(open(Path(args.reference) / "products.csv", encoding="utf-8"))
                if r.get("category", "drug") == "drug"]
    firing = {(a["labels"].get("institution_code"), a["labels"].get("product_code"))
              for a in am_alerts(am_url, "OrderUndelivered")}
    rng = random.Random(7)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    placed = (datetime.fromisoformat(args.as_of) - timedelta(days=10)).isoformat()
    latencies = []
    for n in range(args.probes):
        inst, product = rng.choice(institutions), rng.choice(products)
        while (inst, product) in firing:
            inst, product = rng.choice(institutions), rng.choice(products)
        firing.add((inst, product))
        event = {"event_id": f"bench-probe-{n}", "type": "order.placed", "occurred_at": placed,
                 "order_id": f"BENCH-PROBE-{n}", "institution_code": inst, "product_code": product,
                 "quantity_packs": "1", "unit_price": "1.00", "special_service": False}
        sent = time.monotonic()
        producer.send("vbp.orders", key=inst.encode(), value=json.dumps(event).encode()).get(timeout=10)

        def arrived():
            return any(a["labels"].get("institution_code") == inst and a["labels"].get("product_code") == product
                       for a in am_alerts(am_url, "OrderUndelivered"))
        wait_for(f"probe {n} ({inst}, {product}) to reach Alertmanager", arrived, 30)
        latencies.append(time.monotonic() - sent)
        time.sleep(rng.uniform(0, 1))  # land anywhere within the 1 s tick
    producer.close()
    return latencies


def rss_kb(pid):
    """The resident set of `pid` now, in kB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
    except OSError:
        return 0


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vbp-watch", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--events", nargs=3, required=True, help="orders deliveries payments")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--lines", type=int, default=0, help="first N lines of each file (0: all)")
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--max-rss-gb", type=float, default=12.0,
                        help="stop the pipeline past this resident size, before the kernel's OOM killer must")
    args = parser.parse_args()
    # The processes run in a scratch directory: hand them absolute paths.
    args.vbp_watch, args.reference = str(Path(args.vbp_watch).resolve()), str(Path(args.reference).resolve())
    args.events = [str(Path(e).resolve()) for e in args.events]

    workdir = Path(tempfile.mkdtemp(prefix="vbp-bench-broker-"))
    procs = []
    try:
        tansu, bootstrap = start_tansu(workdir)
        procs.append(tansu)
        am, am_url = start_alertmanager(workdir)
        procs.append(am)
        kafka_tool("create-topics", "--bootstrap", bootstrap, "--partitions", "3", *TOPICS)
        messages, produce_seconds = produce_fast(bootstrap, args.events, args.lines)

        state_dir, http_port = workdir / "state", free_port()
        base = f"http://127.0.0.1:{http_port}"
        launch = lambda: start_pipeline(args.vbp_watch, workdir, bootstrap, am_url, args.reference, args.as_of, state_dir, http_port)
        began = time.monotonic()
        pipeline = launch()
        procs.append(pipeline)
        peak = [0]

        def caught_up_watching():
            peak[0] = max(peak[0], rss_kb(pipeline.pid))
            if peak[0] > args.max_rss_gb * 1e6:
                sys.exit(f"the pipeline passed {args.max_rss_gb} GB RSS while catching up "
                         f"({consumed(base + '/metrics'):,.0f} of {messages:,} messages taken); stopped")
            return caught_up(base, messages)
        try:
            wait_for("the pipeline to catch up", caught_up_watching, 3600, pipeline)
        except SystemExit as failed:
            # A finding, not a crash of the benchmark: say how far it got.
            print(json.dumps({"messages": messages, "produce_seconds": round(produce_seconds, 3),
                              "produce_per_s": round(messages / produce_seconds), "error": str(failed),
                              "seconds_before_failing": round(time.monotonic() - began, 1),
                              "pipeline_peak_rss_kb": peak[0]}, indent=2))
            return
        consume_seconds = time.monotonic() - began

        latencies = probes(args, bootstrap, am_url)

        pipeline.send_signal(signal.SIGTERM)
        pipeline.wait(timeout=120)
        checkpoint = state_dir / "live.ckpt"
        checkpoint_bytes = checkpoint.stat().st_size if checkpoint.exists() else 0
        began = time.monotonic()
        pipeline = launch()
        procs.append(pipeline)
        wait_for("the restarted pipeline to catch up", lambda: http_json(base + "/healthz").get("caught_up"), 600, pipeline)
        restart_seconds = time.monotonic() - began
        tick = 1.0
        print(json.dumps({
            "messages": messages,
            "produce_seconds": round(produce_seconds, 3),
            "produce_per_s": round(messages / produce_seconds),
            "consume_seconds": round(consume_seconds, 3),
            "consume_per_s": round(messages / consume_seconds),
            "pipeline_peak_rss_kb_catching_up": peak[0],
            "probes": len(latencies),
            "tick_seconds": tick,
            "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
            "latency_p99_s": round(percentile(latencies, 99), 3) if latencies else None,
            "latency_max_s": round(max(latencies), 3) if latencies else None,
            "checkpoint_bytes": checkpoint_bytes,
            "restart_seconds": round(restart_seconds, 3),
        }, indent=2))
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
