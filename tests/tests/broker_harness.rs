//! The broker harness itself: a simulated province goes through a real tansu
//! broker and comes back byte for byte, each event keyed by its institution,
//! in file order per key (what co-partitioning by institution relies on).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use vbp_tests::broker::{event_lines, value_bytes, Broker};
use vbp_tests::*;

/// The institution an event is keyed by: its own, or its order's, or its
/// complaint's (`orders` maps order ids, and complaint ids as `complaint:ID`).
fn expected_key(line: &[u8], orders: &HashMap<String, String>) -> Option<String> {
    let event: Value = serde_json::from_slice(line).ok()?;
    let own = event["institution_code"].as_str().map(str::to_string);
    own.or_else(|| orders.get(event["order_id"].as_str()?).cloned())
        .or_else(|| orders.get(&format!("complaint:{}", event["complaint_id"].as_str()?)).cloned())
}

#[test]
fn simulated_events_round_trip_through_tansu_keyed_by_institution() {
    let sim = scratch("broker-harness-sim");
    simulate_small(&sim, 7);
    let files: Vec<PathBuf> = event_files(&sim).into_iter().map(PathBuf::from).collect();
    let lines: Vec<Vec<Vec<u8>>> = files.iter().map(|f| event_lines(f)).collect();
    let orders: HashMap<String, String> = lines
        .iter()
        .flatten()
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .filter_map(|e| {
            let reference = match e["type"].as_str()? {
                "order.placed" => e["order_id"].as_str()?.to_string(),
                "complaint.filed" => format!("complaint:{}", e["complaint_id"].as_str()?),
                _ => return None,
            };
            Some((reference, e["institution_code"].as_str()?.to_string()))
        })
        .collect();

    let broker = Broker::start("harness");
    let topics = ["vbp.orders", "vbp.deliveries", "vbp.payments", "vbp.complaints"];
    broker.create_topics(3, &topics);
    let started = Instant::now();
    let counts = broker.produce_files(&files);
    let total: u64 = counts.values().sum();
    eprintln!("produced {total} messages in {:.2?} ({:.0}/s)", started.elapsed(), total as f64 / started.elapsed().as_secs_f64());

    for (topic, lines) in topics.iter().zip(&lines) {
        assert_eq!(counts[*topic], lines.len() as u64, "{topic}: produced count");
        let started = Instant::now();
        let messages = broker.consume(topic, lines.len());
        eprintln!("consumed {} messages of {topic} in {:.2?} (2 s idle included)", messages.len(), started.elapsed());
        assert_eq!(messages.len(), lines.len(), "{topic}: consumed count");

        // Per key, the values in offset order must be the file's lines in file
        // order: exact bytes, right key, and per-institution order kept.
        let mut want: BTreeMap<Option<String>, Vec<&[u8]>> = BTreeMap::new();
        for line in lines {
            want.entry(expected_key(line, &orders)).or_default().push(line);
        }
        let values: Vec<Vec<u8>> = messages.iter().map(value_bytes).collect();
        let mut got: BTreeMap<Option<String>, Vec<&[u8]>> = BTreeMap::new();
        for (m, value) in messages.iter().zip(&values) {
            got.entry(m["key"].as_str().map(str::to_string)).or_default().push(value);
        }
        // Keyless lines may land on any partition: their order is not kept.
        for unkeyed in [want.get_mut(&None), got.get_mut(&None)].into_iter().flatten() {
            unkeyed.sort_unstable();
        }
        assert!(want.keys().any(Option::is_some), "{topic}: no keyed event at all");
        let differing: Vec<_> = want.keys().chain(got.keys()).filter(|k| want.get(k) != got.get(k)).take(3).collect();
        assert!(differing.is_empty(), "{topic}: messages differ from the file's lines for keys {differing:?}");
        let partitions: BTreeSet<u64> = messages.iter().filter_map(|m| m["partition"].as_u64()).collect();
        // The few planted complaints need not cover every partition.
        if *topic != "vbp.complaints" {
            assert_eq!(partitions.len(), 3, "{topic}: institutions spread over the 3 partitions");
        }
    }

    // Arbitrary bytes, not UTF-8 and not JSON, without a key: as malformed
    // input for the dead-letter tests.
    broker.create_topics(1, &["raw"]);
    let raw = b"\xff\xfe{\"a\":\x00}\n";
    assert_eq!(broker.produce_raw("raw", "", raw)["offset"], 0);
    let back = broker.consume("raw", 1);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["key"], Value::Null);
    assert_eq!(back[0]["value_base64"], "//57ImEiOgB9Cg==");
    assert_eq!(value_bytes(&back[0]), raw);
}

#[test]
fn persistent_broker_keeps_messages_across_a_crash_and_restart() {
    let mut broker = Broker::start_persistent("harness-persistent");
    let bootstrap = broker.bootstrap();
    broker.create_topics(2, &["kept"]);
    broker.produce_raw("kept", "I1", b"before");
    broker.stop();
    broker.restart();
    assert_eq!(broker.bootstrap(), bootstrap, "same port after restart");
    broker.produce_raw("kept", "I1", b"after");
    let values: Vec<Vec<u8>> = broker.consume("kept", 2).iter().map(value_bytes).collect();
    assert_eq!(values, [b"before".to_vec(), b"after".to_vec()]);
}
