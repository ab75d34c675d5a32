//! A rule that fires too many alerts in one division keeps its words short
//! (issue 12, "the alert book is bounded").
//!
//! A bureau reads a few hundred warnings of one kind, not tens of
//! thousands; so many almost always means a wrong threshold or wrong
//! reference data, and their full descriptions would fill the book, the
//! checkpoint and Alertmanager. So, per rule and division (the city for a
//! supply break, whose key has no district):
//!
//! - the first `worded_per_division` alerts, critical before warning and
//!   then by alert id, keep every annotation;
//! - the others still fire, with the same labels (routing is unchanged)
//!   and severity, but keep only the summary, value, threshold, the
//!   institution's name and the annotations other parts read back (payment
//!   sums for the circular, a supply break's institutions and packs);
//!   `description` says why and `abridged` is `"true"`;
//! - one `AlertsAbridged` alert per such rule and division says how many
//!   fire, routed to that division like the alerts it stands for.
//!
//! Everything is decided from the alerts alone, in a fixed order, so the
//! same events give the same bytes.

use std::collections::{BTreeMap, HashMap};

use crate::alert::{Alert, AlertName, Severity};

/// Annotations an abridged alert keeps: the SPEC §7 one-liners, the
/// institution's name (the pages name who, not only a code), and what the
/// circular, the triage pages and the evidence read back.
const KEPT: [&str; 8] = [
    "summary",
    "value",
    "threshold",
    "institution_name",
    "overdue_amount",
    "overdue_deliveries",
    "outstanding_packs",
    "institutions",
];

/// Where an alert is counted: its rule, and its district, or its city
/// when the key has no district (supply breaks), as (label, code).
type Place<'a> = (AlertName, &'static str, &'a str);

fn place(alert: &Alert) -> Place<'_> {
    for label in ["division_code", "city_code"] {
        if let Some(code) = alert.labels.get(label) {
            return (alert.name, label, code);
        }
    }
    (alert.name, "division_code", "")
}

/// `alerts` with the words of each flooded (rule, division) past
/// `worded_per_division` cut short, and one `AlertsAbridged` alert per
/// flooded pair. Unchanged when nothing is flooded.
pub fn abridge(mut alerts: Vec<Alert>, worded_per_division: usize) -> Vec<Alert> {
    alerts.sort_by(Alert::cmp_id);
    let mut groups: HashMap<Place, Vec<usize>> = HashMap::new();
    for (i, alert) in alerts.iter().enumerate() {
        groups.entry(place(alert)).or_default().push(i);
    }
    let mut flooded: Vec<(AlertName, &'static str, String, Vec<usize>)> = groups
        .into_iter()
        .filter(|(_, members)| members.len() > worded_per_division)
        .map(|((name, label, code), members)| (name, label, code.to_string(), members))
        .collect();
    flooded.sort();
    let mut summaries = Vec::with_capacity(flooded.len());
    for (name, label, code, mut members) in flooded {
        // Members are in id order; a stable sort puts the critical first.
        members.sort_by_key(|&i| alerts[i].severity != Severity::Critical);
        for &i in &members[worded_per_division..] {
            cut_words(&mut alerts[i], worded_per_division);
        }
        summaries.push(summary(
            &alerts[members[0]],
            name,
            label,
            &code,
            members.len(),
            worded_per_division,
        ));
    }
    alerts.extend(summaries);
    alerts
}

fn cut_words(alert: &mut Alert, worded: usize) {
    alert.annotations.retain(|k, _| KEPT.contains(&k.as_str()));
    alert.annotations.insert(
        "description".into(),
        format!(
            "本辖区同类预警超过 {worded} 条，本条只保留摘要、数值与阈值；证据见预警页面，数量见 {} 预警。",
            AlertName::AlertsAbridged
        ),
    );
    alert.annotations.insert("abridged".into(), "true".into());
}

/// The one alert that stands for a flooded (rule, division).
fn summary(
    member: &Alert,
    rule: AlertName,
    label: &str,
    code: &str,
    firing: usize,
    worded: usize,
) -> Alert {
    let mut labels = BTreeMap::from([
        ("rule".to_string(), rule.as_str().to_string()),
        (label.to_string(), code.to_string()),
    ]);
    for shared in ["city_code", "province_code"] {
        if let Some(value) = member.labels.get(shared) {
            labels.insert(shared.to_string(), value.clone());
        }
    }
    let annotations = BTreeMap::from([
        ("summary".to_string(), format!("{}（{code}）{}预警 {firing} 条，超过 {worded} 条，其余只保留摘要", label_words(label), rule.chinese())),
        (
            "description".to_string(),
            format!(
                "{rule}（{}）在本辖区同时触发 {firing} 条，其中 {} 条的说明从略以免淹没告警与检查点。这么多同类预警多半是阈值或参考数据有误：请先核对 [detectors] 配置与参考数据；逐条名单见控制台与月度报表。",
                rule.chinese(),
                firing - worded,
            ),
        ),
        ("value".to_string(), firing.to_string()),
        ("threshold".to_string(), format!("每个辖区每类至多 {worded} 条完整说明")),
    ]);
    Alert {
        name: AlertName::AlertsAbridged,
        severity: Severity::Warning,
        labels,
        annotations,
        value: firing.to_string(),
    }
}

fn label_words(label: &str) -> &'static str {
    if label == "city_code" {
        "地市"
    } else {
        "区县"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: AlertName, institution: &str, division: &str, severity: Severity) -> Alert {
        let labels = BTreeMap::from([
            ("institution_code".to_string(), institution.to_string()),
            ("division_code".to_string(), division.to_string()),
            ("city_code".to_string(), division[..4].to_string() + "00"),
            ("province_code".to_string(), "610000".to_string()),
        ]);
        let annotations = BTreeMap::from([
            ("summary".to_string(), format!("{institution} 逾期")),
            ("description".to_string(), "很长的说明".repeat(20)),
            ("institution_name".to_string(), "某医院".to_string()),
            ("overdue_amount".to_string(), "12.50".to_string()),
            ("value".to_string(), "12.5".to_string()),
            ("threshold".to_string(), "0".to_string()),
        ]);
        Alert {
            name,
            severity,
            labels,
            annotations,
            value: "12.5".into(),
        }
    }

    fn flood(n: usize, division: &str) -> Vec<Alert> {
        (0..n)
            .map(|i| {
                let severity = if i % 3 == 0 {
                    Severity::Critical
                } else {
                    Severity::Warning
                };
                alert(
                    AlertName::PaymentOverdue,
                    &format!("H{division}{i:04}"),
                    division,
                    severity,
                )
            })
            .collect()
    }

    #[test]
    fn alerts_up_to_the_limit_are_left_exactly_as_the_rules_wrote_them() {
        let alerts = flood(5, "610102");
        let mut sorted = alerts.clone();
        sorted.sort_by(Alert::cmp_id);
        assert_eq!(abridge(alerts, 5), sorted);
    }

    #[test]
    fn past_the_limit_critical_alerts_keep_their_words_first_and_one_summary_counts_them() {
        let alerts = flood(10, "610102");
        let out = abridge(alerts, 4);
        assert_eq!(out.len(), 11, "every alert still fires, plus one summary");
        let worded: Vec<&Alert> = out
            .iter()
            .filter(|a| {
                a.name == AlertName::PaymentOverdue && !a.annotations.contains_key("abridged")
            })
            .collect();
        assert_eq!(worded.len(), 4);
        // Criticals are i = 0, 3, 6, 9: exactly the four that keep their words.
        assert!(worded.iter().all(|a| a.severity == Severity::Critical));
        let cut = out
            .iter()
            .find(|a| a.annotations.get("abridged").map(String::as_str) == Some("true"))
            .unwrap();
        assert_eq!(
            cut.annotations.get("overdue_amount").map(String::as_str),
            Some("12.50"),
            "the circular reads it back"
        );
        assert_eq!(
            cut.annotations.get("summary").map(String::as_str),
            Some(cut.labels["institution_code"].clone() + " 逾期").as_deref()
        );
        assert_eq!(cut.annotations.get("institution_name").map(String::as_str), Some("某医院"), "the pages name the institution");
        assert!(!cut.annotations["description"].contains("很长的说明"), "the long words go");
        assert!(cut.annotations["description"].contains("超过 4 条"));
        let summary: Vec<&Alert> = out
            .iter()
            .filter(|a| a.name == AlertName::AlertsAbridged)
            .collect();
        assert_eq!(summary.len(), 1);
        assert_eq!(summary[0].value, "10");
        assert_eq!(summary[0].labels["rule"], "PaymentOverdue");
        assert_eq!(summary[0].labels["division_code"], "610102");
        assert_eq!(
            summary[0].labels["city_code"], "610100",
            "routed where the alerts it stands for go"
        );
    }

    #[test]
    fn each_division_is_counted_on_its_own() {
        let mut alerts = flood(6, "610102");
        alerts.extend(flood(3, "610103"));
        let out = abridge(alerts, 3);
        let summaries: Vec<&str> = out
            .iter()
            .filter(|a| a.name == AlertName::AlertsAbridged)
            .map(|a| a.labels["division_code"].as_str())
            .collect();
        assert_eq!(summaries, ["610102"]);
        assert_eq!(
            out.iter()
                .filter(|a| a.annotations.contains_key("abridged"))
                .count(),
            3
        );
    }

    #[test]
    fn a_supply_break_flood_is_counted_by_city() {
        let mut alerts = flood(3, "610102");
        for a in &mut alerts {
            a.name = AlertName::SupplyBreak;
            a.labels.remove("division_code");
        }
        let out = abridge(alerts, 1);
        let summary = out
            .iter()
            .find(|a| a.name == AlertName::AlertsAbridged)
            .unwrap();
        assert_eq!(
            summary.labels.get("city_code").map(String::as_str),
            Some("610100")
        );
        assert!(!summary.labels.contains_key("division_code"));
    }

    proptest::proptest! {
        #[test]
        fn the_order_alerts_arrive_in_does_not_change_what_is_kept(seed in 0u64..1_000, worded in 0usize..8) {
            let mut alerts = flood(9, "610102");
            alerts.extend(flood(4, "610103"));
            let once = abridge(alerts.clone(), worded);
            // A deterministic shuffle from the seed.
            let mut shuffled = alerts;
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (state >> 33) as usize % (i + 1));
            }
            proptest::prop_assert_eq!(abridge(shuffled, worded), once);
        }
    }
}
