#!/usr/bin/env python3
"""Kafka client side of the end-to-end tests, run with tests/.venv/bin/python.

Pure-Python kafka-python because it talks to tansu (kcat/librdkafka does not)
and installs from PyPI without a C toolchain. Subcommands:

  create-topics --bootstrap H:P [--partitions N] TOPIC...     idempotent
  list-topics   --bootstrap H:P                               one name a line
  produce       --bootstrap H:P [--topic-prefix vbp.] [--rate R] [--lines A:B] [--keys-from F]... FILE...
  produce-raw   --bootstrap H:P --topic T [--key K] (--file F | --value-hex HEX)
  consume       --bootstrap H:P --topic T [--timeout S] [--expect N]   JSON line per message
"""

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError


def security():
    """SASL/SCRAM-SHA-512 when VBP_TEST_SASL is "user:password" (a broker
    that requires it, tests/src/broker.rs Broker::start_scram), else none."""
    credentials = os.environ.get("VBP_TEST_SASL")
    if not credentials:
        return {}
    user, password = credentials.split(":", 1)
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


def create_topics(args):
    client = KafkaAdminClient(bootstrap_servers=args.bootstrap, client_id="vbp-tests", **security())
    # One request per topic: kafka-python raises on the first error of a
    # request, and "already exists" is not an error here. (The admin's
    # list_topics is no help: it fails on tansu's authorized-operations bits.)
    for topic in args.topics:
        try:
            client.create_topics([NewTopic(topic, args.partitions, 1)])
        except TopicAlreadyExistsError:
            pass
    client.close()


def list_topics(args):
    consumer = KafkaConsumer(bootstrap_servers=args.bootstrap, **security())
    for topic in sorted(consumer.topics()):
        print(topic)
    consumer.close()


def producer(bootstrap, **extra):
    # acks=all: a test that consumes right after producing must find every
    # message. No idempotence: tansu does not promise idempotent producers.
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, retries=5, **security(), **extra)


def event_lines(path):
    """The lines the pipeline's NDJSON source reads as events: without the line
    terminator, whitespace-only lines skipped (they carry no event in replay
    either), every other line kept byte for byte, even when it is not JSON."""
    for line in Path(path).read_bytes().split(b"\n"):
        line = line[:-1] if line.endswith(b"\r") else line
        if line.strip():
            yield line


def parse(line):
    try:
        event = json.loads(line)
    except ValueError:  # also UnicodeDecodeError
        return None
    return event if isinstance(event, dict) else None


def order_institutions(files):
    """order_id (and complaint_id) -> institution_code over every order.placed
    (and complaint.filed) of every file, so cancellations, deliveries and a
    complaint's replies (which carry only the order or complaint id) get the
    key of their order or complaint wherever it is, as the platform keys them."""
    orders = {}
    for path in files:
        for line in event_lines(path):
            event = parse(line)
            if event and event.get("type") in ("order.placed", "complaint.filed"):
                ref = event.get("order_id") if event["type"] == "order.placed" else complaint_ref(event.get("complaint_id"))
                inst = event.get("institution_code")
                if isinstance(ref, str) and isinstance(inst, str):
                    orders[ref] = inst
    return orders


def complaint_ref(complaint_id):
    """The lookup key of a complaint id, apart from order ids."""
    return "complaint:" + complaint_id if isinstance(complaint_id, str) else None


def key_of(line, orders):
    """institution_code, directly or through order_id; None when there is none
    (the line is still produced so that the pipeline dead-letters it)."""
    event = parse(line)
    if event is None:
        return None
    inst = event.get("institution_code")
    if isinstance(inst, str):
        return inst
    order = event.get("order_id")
    if isinstance(order, str):
        return orders.get(order)
    complaint = complaint_ref(event.get("complaint_id"))
    return orders.get(complaint) if complaint else None


def produce(args):
    orders = order_institutions(list(args.files) + list(args.keys_from))
    start, end = (int(x) if x else None for x in args.lines.split(":")) if args.lines else (None, None)
    client = producer(args.bootstrap, batch_size=256 * 1024)
    failures = []
    began = time.monotonic()
    sent = 0
    counts = {}
    for path in args.files:
        topic = args.topic_prefix + Path(path).stem
        counts[topic] = 0
        for line in list(event_lines(path))[start:end]:
            key = key_of(line, orders)
            future = client.send(topic, key=key.encode() if key is not None else None, value=line)
            future.add_errback(failures.append)
            counts[topic] += 1
            sent += 1
            if args.rate > 0:  # pace against the start, so slow sends catch up
                ahead = began + sent / args.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    client.flush()
    client.close()
    if failures:
        sys.exit(f"{len(failures)} messages failed, first: {failures[0]!r}")
    elapsed = time.monotonic() - began
    for topic, n in counts.items():
        print(f"{topic}\t{n}")
    print(f"produced {sent} messages in {elapsed:.2f} s", file=sys.stderr)


def produce_raw(args):
    value = Path(args.file).read_bytes() if args.file else bytes.fromhex(args.value_hex)
    # Let an oversized message leave the client: the broker or the pipeline
    # is what a too_large test is about.
    client = producer(args.bootstrap, max_request_size=max(1 << 20, len(value) + 4096))
    key = args.key.encode() if args.key else None
    metadata = client.send(args.topic, key=key, value=value).get(timeout=30)
    client.close()
    print(json.dumps({"partition": metadata.partition, "offset": metadata.offset}))


def text_or_none(raw):
    return raw.decode("utf-8", "replace") if raw is not None else None


def consume(args):
    """Every message of the topic from the beginning, without a consumer group
    (nothing committed, nothing shared with the pipeline's group)."""
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=64 << 20,
        fetch_max_bytes=64 << 20,
        **security(),
    )
    deadline = time.monotonic() + args.timeout
    partitions = consumer.partitions_for_topic(args.topic)
    while not partitions and time.monotonic() < deadline:  # metadata may lag
        time.sleep(0.2)
        partitions = consumer.partitions_for_topic(args.topic)
    if not partitions:
        print(f"topic {args.topic} has no partitions", file=sys.stderr)
        return
    consumer.assign([TopicPartition(args.topic, p) for p in partitions])
    consumer.seek_to_beginning()
    # Until `timeout` seconds pass without a message, having read at least
    # `expect` (a slow first fetch must not end the read early), or having
    # waited `deadline` seconds for them.
    messages = []
    deadline = time.monotonic() + args.deadline
    idle_since = time.monotonic()
    while True:
        batch = consumer.poll(timeout_ms=200)
        now = time.monotonic()
        if batch:
            for records in batch.values():
                messages.extend(records)
            idle_since = now
        elif now - idle_since >= args.timeout and (len(messages) >= args.expect or now >= deadline):
            break
    consumer.close()
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        out = {"partition": m.partition, "offset": m.offset, "key": text_or_none(m.key)}
        try:
            out["value"] = m.value.decode("utf-8") if m.value is not None else None
        except UnicodeDecodeError:
            out["value_base64"] = base64.b64encode(m.value).decode()
        if m.headers:
            out["headers"] = {k: text_or_none(v) for k, v in m.headers}
        print(json.dumps(out, ensure_ascii=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name, func):
        sub = commands.add_parser(name)
        sub.add_argument("--bootstrap", required=True, help="HOST:PORT")
        sub.set_defaults(func=func)
        return sub

    sub = command("create-topics", create_topics)
    sub.add_argument("--partitions", type=int, default=3)
    sub.add_argument("topics", nargs="+")
    command("list-topics", list_topics)
    sub = command("produce", produce)
    sub.add_argument("--topic-prefix", default="vbp.")
    sub.add_argument("--rate", type=float, default=0, help="messages per second, 0 = as fast as possible")
    sub.add_argument("--lines", help="START:END, a Python slice of each file's event lines")
    sub.add_argument("--keys-from", action="append", default=[], help="another file whose orders and complaints give keys (repeatable)")
    sub.add_argument("files", nargs="+")
    sub = command("produce-raw", produce_raw)
    sub.add_argument("--topic", required=True)
    sub.add_argument("--key", default="", help="empty = no key")
    value = sub.add_mutually_exclusive_group(required=True)
    value.add_argument("--file")
    value.add_argument("--value-hex")
    sub = command("consume", consume)
    sub.add_argument("--topic", required=True)
    sub.add_argument("--timeout", type=float, default=2, help="seconds without a message before exiting")
    sub.add_argument("--expect", type=int, default=0, help="read at least this many, unless --deadline passes")
    sub.add_argument("--deadline", type=float, default=90, help="seconds to wait for --expect messages")

    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
