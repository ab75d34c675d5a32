//! The region scale: a tenth of a province where misbehaviour is common
//! (laggards, late payers, stuck deliveries), so hundreds to thousands of
//! alerts fire at `as_of`. The simulator promises every one of them in
//! `planted.json`, computed without the detectors; the engine's replay must
//! raise exactly that set, severities included.
//!
//! The window is shortened to 75 days (as_of 2026-03-17) to keep the test
//! quick in a debug build. That is long enough for every kind of alert:
//! agreements are past 30 days and (for the January batches) two months,
//! and late payers' deliveries are overdue by 3–27 days (warning) and 40
//! or more (critical).

mod simulate_common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use simulate_common::{planted, TempOut};
use vbp_detectors::alert::AlertName;
use vbp_simulator::{Scale, SimulateOptions};

const DAYS: u32 = 75;

/// (alertname, severity, key fields): the identity of an alert and its severity.
type Alert = (String, String, BTreeMap<String, String>);

/// An alert of `planted.json` (`key`) or of `--firing-out` (`labels`).
fn alert(value: &Value, fields: &str) -> Alert {
    let name = value["alertname"].as_str().expect("alertname").to_string();
    let severity = value["severity"].as_str().expect("severity").to_string();
    let key = AlertName::parse(&name)
        .unwrap_or_else(|| panic!("unknown alertname {name}"))
        .key_labels()
        .iter()
        .map(|l| (l.to_string(), value[fields][*l].as_str().unwrap_or_default().to_string()))
        .collect();
    (name, severity, key)
}

fn count_by_name(alerts: &BTreeSet<Alert>) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for (name, severity, _) in alerts {
        *counts.entry((name.clone(), severity.clone())).or_default() += 1;
    }
    counts
}

/// Agreements whose period holds `today` (a `YYYY-MM-DD` string).
fn active_agreements(dir: &Path, today: &str) -> usize {
    let mut rdr = csv::Reader::from_path(dir.join("reference/agreements.csv")).expect("agreements.csv");
    rdr.records().map(|r| r.expect("agreement row")).filter(|r| &r[3] <= today && today <= &r[4]).count()
}

/// `vbp-watch replay … --as-of AS_OF --firing-out FILE`: the alerts firing at as_of.
fn replay_firing(dir: &Path, as_of: &str) -> BTreeSet<Alert> {
    let firing = dir.join("firing.ndjson");
    let output = Command::new(env!("CARGO_BIN_EXE_vbp-watch"))
        .arg("replay")
        .arg("--reference")
        .arg(dir.join("reference"))
        .arg("--events")
        .args(["orders", "deliveries", "payments", "complaints"].map(|t| dir.join(format!("events/{t}.ndjson"))))
        .args(["--as-of", as_of, "--firing-out"])
        .arg(&firing)
        .output()
        .expect("run vbp-watch replay");
    assert!(output.status.success(), "replay failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&firing).expect("firing file");
    text.lines().map(|l| alert(&serde_json::from_str(l).expect("firing line is JSON"), "labels")).collect()
}

#[test]
fn a_region_with_widespread_misbehaviour_fires_hundreds_of_planted_alerts_and_replay_raises_exactly_them() {
    let out = TempOut::new("region");
    let summary = vbp_simulator::run(&SimulateOptions {
        out: out.path().to_path_buf(),
        scale: Scale::Region,
        seed: 1,
        days: Some(DAYS),
    })
    .expect("simulate the region");
    assert_eq!(
        (summary.unplanned, summary.missed, summary.severity_changed),
        (0, 0, 0),
        "the simulator's own evaluation disagrees with its plan (see planted.json notes)"
    );

    let p = planted(out.path());
    let as_of = p["as_of"].as_str().expect("as_of");
    let expected: BTreeSet<Alert> =
        p["expected_firing"].as_array().expect("expected_firing").iter().map(|a| alert(a, "key")).collect();
    let counts = count_by_name(&expected);
    assert!(expected.len() >= 300, "hundreds of alerts should fire, not {}: {counts:?}", expected.len());
    for (name, severity) in [
        ("ProcurementBehindSchedule", "critical"),
        ("ProcurementBehindSchedule", "warning"),
        ("SelectedProductNotEntered", "critical"),
        ("PaymentOverdue", "critical"),
        ("PaymentOverdue", "warning"),
        ("NonSelectedShareHigh", "warning"),
        ("NonSelectedShareHigh", "critical"),
        ("OrderUndelivered", "warning"),
        ("OrderUndelivered", "critical"),
        ("SupplyBreak", "critical"),
    ] {
        assert!(counts.contains_key(&(name.into(), severity.into())), "no {severity} {name}: {counts:?}");
    }
    let behind = counts.iter().filter(|((n, _), _)| n == "ProcurementBehindSchedule").map(|(_, c)| c).sum::<usize>();
    let active = active_agreements(out.path(), &as_of[..10]);
    let share = behind as f64 / active as f64;
    assert!((0.05..=0.30).contains(&share), "{behind} of {active} agreements behind schedule ({share:.3})");

    let firing = replay_firing(out.path(), as_of);
    let missing: Vec<_> = expected.difference(&firing).collect();
    let unplanned: Vec<_> = firing.difference(&expected).collect();
    assert!(
        missing.is_empty() && unplanned.is_empty(),
        "{} planted alerts not raised, {} raised but not planted\nmissing {:#?}\nunplanned {:#?}",
        missing.len(),
        unplanned.len(),
        &missing[..missing.len().min(10)],
        &unplanned[..unplanned.len().min(10)]
    );
}
