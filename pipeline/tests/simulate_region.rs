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

/// `vbp-watch replay … --as-of AS_OF --firing-out FILE [--detectors FILE]`:
/// the alert objects firing at as_of.
fn replay_firing_objects(dir: &Path, as_of: &str, detectors: Option<&Path>) -> Vec<Value> {
    let firing = dir.join("firing.ndjson");
    let mut command = Command::new(env!("CARGO_BIN_EXE_vbp-watch"));
    command
        .arg("replay")
        .arg("--reference")
        .arg(dir.join("reference"))
        .arg("--events")
        .args(
            ["orders", "deliveries", "payments", "complaints"]
                .map(|t| dir.join(format!("events/{t}.ndjson"))),
        )
        .args(["--as-of", as_of, "--firing-out"])
        .arg(&firing);
    if let Some(file) = detectors {
        command.arg("--detectors").arg(file);
    }
    let output = command.output().expect("run vbp-watch replay");
    assert!(
        output.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&firing).expect("firing file");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("firing line is JSON"))
        .collect()
}

/// A flood, made by lowering the limit to `worded` per rule and division:
/// every alert still fires with its severity and labels; in each (rule,
/// division) past the limit exactly `worded` keep their words, critical
/// first, and one `AlertsAbridged` counts them.
fn check_abridged(dir: &Path, as_of: &str, full: &[Value], worded: usize) {
    let file = dir.join("abridge.toml");
    std::fs::write(&file, format!("[alerts]\nworded_per_division = {worded}\n"))
        .expect("write detectors file");
    let abridged = replay_firing_objects(dir, as_of, Some(&file));
    let label = |a: &Value, l: &str| a["labels"][l].as_str().unwrap_or_default().to_string();
    let rules = |alerts: &[Value]| -> BTreeSet<(String, String, String)> {
        alerts
            .iter()
            .filter(|a| a["alertname"] != "AlertsAbridged")
            .map(|a| {
                (
                    label(a, "alertname"),
                    label(a, "severity"),
                    serde_json::to_string(&a["labels"]).expect("labels"),
                )
            })
            .collect()
    };
    assert_eq!(
        rules(&abridged),
        rules(full),
        "abridging changed which alerts fire or their labels"
    );
    // (rule, division) -> (firing, critical, worded, worded critical)
    let mut groups: BTreeMap<(String, String), [usize; 4]> = BTreeMap::new();
    for a in abridged
        .iter()
        .filter(|a| a["alertname"] != "AlertsAbridged")
    {
        let division = Some(label(a, "division_code"))
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| label(a, "city_code"));
        let g = groups.entry((label(a, "alertname"), division)).or_default();
        let (critical, words) = (
            a["severity"] == "critical",
            a["annotations"]["abridged"].is_null(),
        );
        g[0] += 1;
        g[1] += usize::from(critical);
        g[2] += usize::from(words);
        g[3] += usize::from(words && critical);
        if !words {
            for kept in ["summary", "value", "threshold", "description"] {
                assert!(
                    a["annotations"][kept].is_string(),
                    "an abridged alert lost its {kept}: {a}"
                );
            }
        }
    }
    let summaries: BTreeMap<(String, String), usize> = abridged
        .iter()
        .filter(|a| a["alertname"] == "AlertsAbridged")
        .map(|a| {
            let division = Some(label(a, "division_code"))
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| label(a, "city_code"));
            (
                (label(a, "rule"), division),
                a["value"]
                    .as_str()
                    .expect("value")
                    .parse()
                    .expect("a count"),
            )
        })
        .collect();
    let flooded: BTreeMap<(String, String), usize> = groups
        .iter()
        .filter(|(_, g)| g[0] > worded)
        .map(|(k, g)| (k.clone(), g[0]))
        .collect();
    assert!(
        flooded.len() >= 3,
        "the lowered limit should flood several divisions: {groups:?}"
    );
    assert_eq!(
        summaries, flooded,
        "one AlertsAbridged per flooded (rule, division), counting its alerts"
    );
    for (key, [firing, critical, words, words_critical]) in groups {
        assert_eq!(
            words,
            firing.min(worded),
            "{key:?}: alerts that kept their words"
        );
        assert_eq!(
            words_critical,
            critical.min(words),
            "{key:?}: critical alerts keep their words first"
        );
    }
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

    let objects = replay_firing_objects(out.path(), as_of, None);
    let firing: BTreeSet<Alert> = objects.iter().map(|a| alert(a, "labels")).collect();
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
    check_abridged(out.path(), as_of, &objects, 20);
}
