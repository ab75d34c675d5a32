//! `replay` over hand-written NDJSON files: inputs that must not hurt (a
//! byte-order mark, a huge line, an output naming an input, two events
//! under one id in two files).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use vbp_detectors::config::DetectorConfig;
use vbp_schemas::{DeadLetter, DecodeLimits};
use vbp_simulator::{Scale, SimulateOptions};
use vbp_watch::replay::{self, ReplayOptions, ReplaySummary};

/// A scratch directory with a simulated province's reference data.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vbp-inputs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        vbp_simulator::run(&SimulateOptions { out: dir.clone(), scale: Scale::Small, seed: 3, days: Some(10) }).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A known institution and product, from the simulated orders.
    fn codes(&self) -> (String, String) {
        let orders = std::fs::read(self.0.join("events/orders.ndjson")).unwrap();
        let decoded = orders.split(|b| *b == b'\n').filter_map(|l| vbp_schemas::decode(l, &DecodeLimits::default()).ok());
        decoded
            .filter_map(|e| match e.body {
                vbp_schemas::EventBody::OrderPlaced(o) => Some((o.institution_code, o.product_code)),
                _ => None,
            })
            .next()
            .unwrap()
    }

    fn order(&self, id: &str, packs: &str) -> String {
        let (institution, product) = self.codes();
        format!(
            r#"{{"event_id":"{id}","type":"order.placed","occurred_at":"2026-01-05T09:00:00+08:00","order_id":"O-{id}","institution_code":"{institution}","product_code":"{product}","quantity_packs":"{packs}","unit_price":"1.00"}}"#
        )
    }

    fn options(&self, events: Vec<PathBuf>) -> ReplayOptions {
        ReplayOptions {
            reference: self.0.join("reference"),
            events,
            as_of: Some(chrono::DateTime::parse_from_rfc3339("2026-01-10T00:00:00+08:00").unwrap()),
            alerts_out: None,
            firing_out: None,
            dead_letter: Some(self.0.join("dead.ndjson")),
            detectors: DetectorConfig::default(),
            limits: DecodeLimits::default(),
            progress: false,
            rollups: false,
            fired_log: false,
            history: false,
            threads: NonZeroUsize::MIN,
        }
    }

    fn dead_letters(&self) -> Vec<DeadLetter> {
        let text = std::fs::read_to_string(self.0.join("dead.ndjson")).unwrap();
        text.lines().map(|l| DeadLetter::from_json_line(l).unwrap()).collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn replay(options: &ReplayOptions) -> ReplaySummary {
    replay::run(options).await.unwrap()
}

#[tokio::test]
async fn a_file_starting_with_a_byte_order_mark_keeps_its_first_line() {
    let s = Scratch::new("bom");
    let text = format!("\u{feff}{}\n{}\n", s.order("e1", "5"), s.order("e2", "5"));
    let summary = replay(&s.options(vec![s.file("bom.ndjson", text.as_bytes())])).await;
    assert_eq!((summary.stats.applied, summary.stats.rejected_total()), (2, 0), "{:?}", s.dead_letters());
}

#[tokio::test]
async fn a_dead_letter_output_naming_an_events_file_refuses_to_run_and_truncates_nothing() {
    let s = Scratch::new("same");
    let text = format!("{}\n", s.order("e1", "5"));
    let events = s.file("events.ndjson", text.as_bytes());
    let options = ReplayOptions { dead_letter: Some(s.0.join(".").join("events.ndjson")), ..s.options(vec![events.clone()]) };
    let err = replay::run(&options).await.unwrap_err().to_string();
    assert!(err.contains("--dead-letter") && err.contains("one of the --events files"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(std::fs::read_to_string(&events).unwrap(), text, "the input is untouched");
}

#[tokio::test]
async fn a_huge_line_leaves_a_capped_dead_letter_that_says_so() {
    let s = Scratch::new("huge");
    let huge = s.order("e1", "5").replacen('}', &format!(",\"note\":\"{}\"}}", "x".repeat(1 << 20)), 1);
    let path = s.file("huge.ndjson", format!("{huge}\n").as_bytes());
    replay(&s.options(vec![path])).await;
    let dead = s.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].raw.len(), vbp_watch::runner::DEAD_LETTER_RAW_BYTES as usize);
    assert_eq!(dead[0].raw[..], huge.as_bytes()[..dead[0].raw.len()], "it keeps the line's first bytes");
    assert!(dead[0].detail.contains(&format!("keeps the first 262144 of the line's {} bytes", huge.len())), "{}", dead[0].detail);
}

#[tokio::test]
async fn two_events_under_one_id_in_two_files_give_the_same_result_in_either_order() {
    let s = Scratch::new("order");
    let five = s.file("five.ndjson", format!("{}\n", s.order("e1", "5")).as_bytes());
    let many = s.file("many.ndjson", format!("{}\n", s.order("e1", "999")).as_bytes());
    let mut outcomes = Vec::new();
    for events in [vec![five.clone(), many.clone()], vec![many.clone(), five.clone()]] {
        let summary = replay(&s.options(events)).await;
        let dead = s.dead_letters();
        assert_eq!(dead.len(), 1, "the losing copy is dead-lettered");
        assert!(dead[0].detail.contains("different content"), "{}", dead[0].detail);
        outcomes.push((summary.stats.applied, String::from_utf8(dead[0].raw.clone()).unwrap(), summary.sizes));
    }
    assert_eq!(outcomes[0], outcomes[1]);
}

