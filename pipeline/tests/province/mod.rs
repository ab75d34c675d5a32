//! Shared by the library tests: a small simulated province, loaded and
//! decoded in memory (the `simulate_*` tests drive the binary instead).

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use vbp_detectors::reference::ReferenceData;
use vbp_schemas::{decode, DecodeLimits, Event};
use vbp_simulator::{Scale, SimulateOptions};
use vbp_watch::engine::event_order;
use vbp_watch::replay::load_reference;

/// A simulated province: its reference data, its events up to `as_of` in
/// event order (lines that do not decode left out), and `as_of`.
pub struct Province {
    pub reference: Arc<ReferenceData>,
    pub events: Vec<Event>,
    pub as_of: DateTime<FixedOffset>,
}

/// Simulates the small province of `seed` (`days`: the simulator's
/// default when `None`) in a scratch directory, removed afterwards.
pub fn simulate(name: &str, seed: u64, days: Option<u32>) -> Province {
    let out = std::env::temp_dir().join(format!("vbp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    vbp_simulator::run(&SimulateOptions { out: out.clone(), scale: Scale::Small, seed, days }).unwrap();
    let reference = load_reference(&out.join("reference")).unwrap();
    let planted: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("planted.json")).unwrap()).unwrap();
    let as_of = DateTime::parse_from_rfc3339(planted["as_of"].as_str().unwrap()).unwrap();
    let mut events = Vec::new();
    for topic in ["orders", "deliveries", "payments", "complaints"] {
        let text = std::fs::read(out.join("events").join(format!("{topic}.ndjson"))).unwrap();
        events.extend(text.split(|b| *b == b'\n').filter_map(|line| decode(line, &DecodeLimits::default()).ok()));
    }
    events.retain(|e| e.occurred_at <= as_of);
    events.sort_by(event_order);
    let _ = std::fs::remove_dir_all(&out);
    Province { reference, events, as_of }
}
