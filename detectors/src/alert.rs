//! Alerts and their lifecycle (SPEC §7).
//!
//! An alert is identified by its alertname and its key (the SPEC §6 key
//! fields). Its severity is a label, so a severity change resolves the alert
//! at the old severity and fires it at the new one, as Alertmanager sees it.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::state::footprint::{btree_bytes, text_map_bytes};

/// The ten alert names of SPEC §6, and [`AlertName::AlertsAbridged`],
/// which stands for a rule firing too many alerts in one division
/// ([`crate::abridge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertName {
    SelectedProductNotEntered,
    ProcurementBehindSchedule,
    NonSelectedShareHigh,
    OrderUndelivered,
    SupplyBreak,
    PaymentOverdue,
    ComplaintOverdue,
    SubstituteSurge,
    PeriodEndStockpiling,
    PriceAboveSelected,
    AlertsAbridged,
}

impl AlertName {
    pub const ALL: [AlertName; 11] = [
        AlertName::SelectedProductNotEntered,
        AlertName::ProcurementBehindSchedule,
        AlertName::NonSelectedShareHigh,
        AlertName::OrderUndelivered,
        AlertName::SupplyBreak,
        AlertName::PaymentOverdue,
        AlertName::ComplaintOverdue,
        AlertName::SubstituteSurge,
        AlertName::PeriodEndStockpiling,
        AlertName::PriceAboveSelected,
        AlertName::AlertsAbridged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertName::SelectedProductNotEntered => "SelectedProductNotEntered",
            AlertName::ProcurementBehindSchedule => "ProcurementBehindSchedule",
            AlertName::NonSelectedShareHigh => "NonSelectedShareHigh",
            AlertName::OrderUndelivered => "OrderUndelivered",
            AlertName::SupplyBreak => "SupplyBreak",
            AlertName::PaymentOverdue => "PaymentOverdue",
            AlertName::ComplaintOverdue => "ComplaintOverdue",
            AlertName::SubstituteSurge => "SubstituteSurge",
            AlertName::PeriodEndStockpiling => "PeriodEndStockpiling",
            AlertName::PriceAboveSelected => "PriceAboveSelected",
            AlertName::AlertsAbridged => "AlertsAbridged",
        }
    }

    /// The name a bureau reads (SPEC §6's Chinese titles).
    pub fn chinese(self) -> &'static str {
        match self {
            AlertName::SelectedProductNotEntered => "中选产品未进院",
            AlertName::ProcurementBehindSchedule => "采购进度滞后",
            AlertName::NonSelectedShareHigh => "非中选产品采购占比高",
            AlertName::OrderUndelivered => "订单超时未配送",
            AlertName::SupplyBreak => "疑似断供",
            AlertName::PaymentOverdue => "货款逾期未结清",
            AlertName::ComplaintOverdue => "供应投诉未按时处理",
            AlertName::SubstituteSurge => "可替代产品采购量异常增长",
            AlertName::PeriodEndStockpiling => "协议期末突击采购",
            AlertName::PriceAboveSelected => "高于中选价格采购",
            AlertName::AlertsAbridged => "同类预警过多",
        }
    }

    pub fn parse(s: &str) -> Option<AlertName> {
        AlertName::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The labels that identify one alert of this name (SPEC §6 "Key").
    pub fn key_labels(self) -> &'static [&'static str] {
        match self {
            AlertName::SelectedProductNotEntered
            | AlertName::ProcurementBehindSchedule
            | AlertName::PeriodEndStockpiling => &["institution_code", "family_id", "agreement_id"],
            AlertName::NonSelectedShareHigh | AlertName::SubstituteSurge => &["institution_code", "group_id"],
            AlertName::OrderUndelivered | AlertName::PriceAboveSelected => &["institution_code", "product_code"],
            AlertName::ComplaintOverdue => &["complaint_id"],
            AlertName::SupplyBreak => &["city_code", "product_code"],
            AlertName::PaymentOverdue => &["institution_code"],
            AlertName::AlertsAbridged => &["rule", "division_code", "city_code"],
        }
    }
}

impl fmt::Display for AlertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// 严重 / 预警, as the pages and documents write it.
    pub fn chinese(self) -> &'static str {
        match self {
            Severity::Warning => "预警",
            Severity::Critical => "严重",
        }
    }
}

/// One alert as a rule raises it at one evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub name: AlertName,
    pub severity: Severity,
    /// Key fields, divisions and the descriptive labels of SPEC §7
    /// (without `alertname` and `severity`, which are fields here).
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description` (Chinese), `value`, `threshold`, evidence.
    pub annotations: BTreeMap<String, String>,
    /// The measured value, as an exact decimal string.
    pub value: String,
}

/// What identifies an alert across evaluations: its name and key values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertId {
    pub name: AlertName,
    pub key: Vec<String>,
}

impl Alert {
    pub fn id(&self) -> AlertId {
        AlertId { name: self.name, key: self.key_values().map(str::to_string).collect() }
    }

    /// The values of the key labels, in [`AlertName::key_labels`] order.
    fn key_values(&self) -> impl Iterator<Item = &str> {
        self.name.key_labels().iter().map(|l| self.labels.get(*l).map_or("", String::as_str))
    }

    /// The order of the alerts' ids, without building them: evaluations
    /// sort thousands of alerts, and a built id is an allocation per key.
    pub fn cmp_id(&self, other: &Alert) -> Ordering {
        self.name.cmp(&other.name).then_with(|| self.key_values().cmp(other.key_values()))
    }

    /// All labels as Alertmanager gets them, `alertname` and `severity` included.
    pub fn all_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.insert("alertname".into(), self.name.as_str().into());
        labels.insert("severity".into(), self.severity.as_str().into());
        labels
    }

    /// The alert's identity across processes and versions: a stable hash
    /// of all its labels (a severity change is a different alert, as it is
    /// for Alertmanager). Pages link to `/alerts/{fingerprint}`.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.all_labels())
    }

    /// The alert object of SPEC §7.
    pub fn to_json(&self, at: DateTime<FixedOffset>, status: Status) -> Value {
        json!({
            "at": at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            "status": status.as_str(),
            "alertname": self.name.as_str(),
            "severity": self.severity.as_str(),
            "labels": self.all_labels(),
            "annotations": self.annotations,
            "value": self.value,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// A change in what fires, at one evaluation instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: DateTime<FixedOffset>,
    pub status: Status,
    pub alert: Alert,
}

impl Transition {
    pub fn to_json(&self) -> Value {
        self.alert.to_json(self.at, self.status)
    }
}

impl AlertId {
    /// `self` against `alert.id()`, without building it.
    fn cmp_alert(&self, alert: &Alert) -> Ordering {
        self.name.cmp(&alert.name).then_with(|| self.key.iter().map(String::as_str).cmp(alert.key_values()))
    }
}

/// An alert that fires, with the instant it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    pub since: DateTime<FixedOffset>,
    pub alert: Alert,
}

/// What fires now; turns each evaluation's alerts into transitions.
/// Checkpoints keep it (serde) so a restart neither re-fires nor loses an alert.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertBook {
    firing: BTreeMap<AlertId, Firing>,
}

impl AlertBook {
    /// Records the alerts that hold at `at` and returns the transitions, in
    /// a fixed order (resolutions first, then firings, each by alert id) so
    /// that the same evaluations always write the same lines.
    pub fn observe(&mut self, at: DateTime<FixedOffset>, current: Vec<Alert>) -> Vec<Transition> {
        let mut now = sorted_by_id(current).into_iter().peekable();
        let mut resolved = Vec::new();
        let mut fired = Vec::new();
        // Both sides in id order: one merge, and an id built only for an
        // alert that starts firing.
        let mut firing: Vec<(AlertId, Firing)> = Vec::with_capacity(self.firing.len());
        let start = |alert: Alert, fired: &mut Vec<Transition>, firing: &mut Vec<(AlertId, Firing)>, id: Option<AlertId>| {
            fired.push(Transition { at, status: Status::Firing, alert: alert.clone() });
            firing.push((id.unwrap_or_else(|| alert.id()), Firing { since: at, alert }));
        };
        for (id, old) in std::mem::take(&mut self.firing) {
            while let Some(alert) = now.next_if(|a| id.cmp_alert(a) == Ordering::Greater) {
                start(alert, &mut fired, &mut firing, None);
            }
            match now.next_if(|a| id.cmp_alert(a) == Ordering::Equal) {
                // Same severity and labels: the same alert for Alertmanager
                // (its annotations and value may change). Other labels (a
                // reload moved the institution to another district, say)
                // are another alert there: the old one must be resolved.
                Some(alert) if alert.severity == old.alert.severity && alert.labels == old.alert.labels => {
                    firing.push((id, Firing { since: old.since, alert }))
                }
                Some(alert) => {
                    resolved.push(Transition { at, status: Status::Resolved, alert: old.alert });
                    start(alert, &mut fired, &mut firing, Some(id));
                }
                None => resolved.push(Transition { at, status: Status::Resolved, alert: old.alert }),
            }
        }
        for alert in now {
            start(alert, &mut fired, &mut firing, None);
        }
        // Already in id order: the map is built in one pass.
        self.firing = firing.into_iter().collect();
        resolved.extend(fired);
        resolved
    }

    /// Drops the alerts `keep` rejects without a transition: when another
    /// instance takes over their institutions it answers for them now, and
    /// a "resolved" from here would be false.
    pub fn forget(&mut self, keep: impl Fn(&Alert) -> bool) -> Vec<Alert> {
        let (kept, forgotten) = std::mem::take(&mut self.firing).into_iter().partition(|(_, f)| keep(&f.alert));
        self.firing = kept;
        forgotten.into_values().map(|f: Firing| f.alert).collect()
    }

    /// The alerts firing now, by alert id.
    pub fn firing(&self) -> impl Iterator<Item = &Firing> {
        self.firing.values()
    }

    pub fn len(&self) -> usize {
        self.firing.len()
    }

    pub fn is_empty(&self) -> bool {
        self.firing.is_empty()
    }
}

impl Alert {
    /// Heap bytes this alert holds: its strings and its two maps' nodes
    /// (estimated by [`text_map_bytes`]), for the footprint figures.
    pub fn heap_bytes(&self) -> usize {
        text_map_bytes(&self.labels) + text_map_bytes(&self.annotations) + self.value.capacity()
    }
}

impl AlertBook {
    /// Heap bytes of the book: every entry's id, its alert and the map's
    /// nodes (estimated), for the footprint figures.
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<AlertId>() + std::mem::size_of::<Firing>();
        let ids = |id: &AlertId| id.key.capacity() * std::mem::size_of::<String>() + id.key.iter().map(String::capacity).sum::<usize>();
        btree_bytes(self.firing.len(), entry) + self.firing.iter().map(|(id, f)| ids(id) + f.alert.heap_bytes()).sum::<usize>()
    }
}

/// `alerts` in id order, one per id (the last given, when a rule gave two).
fn sorted_by_id(mut alerts: Vec<Alert>) -> Vec<Alert> {
    alerts.sort_by(Alert::cmp_id);
    let mut unique: Vec<Alert> = Vec::with_capacity(alerts.len());
    for alert in alerts {
        match unique.last_mut() {
            Some(last) if last.cmp_id(&alert) == Ordering::Equal => *last = alert,
            _ => unique.push(alert),
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: AlertName, inst: &str, severity: Severity) -> Alert {
        let mut labels = BTreeMap::new();
        labels.insert("institution_code".to_string(), inst.to_string());
        Alert { name, severity, labels, annotations: BTreeMap::new(), value: "1".into() }
    }

    fn at(day: u32) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(&format!("2026-03-{day:02}T00:00:00+08:00")).unwrap()
    }

    #[test]
    fn fires_once_resolves_once_and_a_severity_change_does_both() {
        let mut book = AlertBook::default();
        let w = alert(AlertName::PaymentOverdue, "H1", Severity::Warning);
        let c = alert(AlertName::PaymentOverdue, "H1", Severity::Critical);
        let t = book.observe(at(1), vec![w.clone()]);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].status, Status::Firing);
        assert!(book.observe(at(2), vec![w.clone()]).is_empty());
        let t = book.observe(at(3), vec![c.clone()]);
        assert_eq!(
            t.iter().map(|t| (t.status, t.alert.severity)).collect::<Vec<_>>(),
            vec![(Status::Resolved, Severity::Warning), (Status::Firing, Severity::Critical)]
        );
        assert_eq!(book.firing().next().unwrap().since, at(3));
        let t = book.observe(at(4), vec![]);
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].status, t[0].alert.severity), (Status::Resolved, Severity::Critical));
        assert!(book.is_empty());
    }

    /// The book as first written: every alert's id built, a map of them.
    fn observe_by_map(firing: &mut BTreeMap<AlertId, Firing>, at: DateTime<FixedOffset>, current: Vec<Alert>) -> Vec<Transition> {
        let mut now: BTreeMap<AlertId, Alert> = current.into_iter().map(|a| (a.id(), a)).collect();
        let (mut resolved, mut fired) = (Vec::new(), Vec::new());
        for (id, old) in std::mem::take(firing) {
            match now.remove(&id) {
                Some(alert) if alert.severity == old.alert.severity && alert.labels == old.alert.labels => {
                    firing.insert(id, Firing { since: old.since, alert });
                }
                Some(alert) => {
                    resolved.push(Transition { at, status: Status::Resolved, alert: old.alert });
                    fired.push(Transition { at, status: Status::Firing, alert: alert.clone() });
                    firing.insert(id, Firing { since: at, alert });
                }
                None => resolved.push(Transition { at, status: Status::Resolved, alert: old.alert }),
            }
        }
        for (id, alert) in now {
            fired.push(Transition { at, status: Status::Firing, alert: alert.clone() });
            firing.insert(id, Firing { since: at, alert });
        }
        fired.sort_by_key(|t| t.alert.id());
        resolved.extend(fired);
        resolved
    }

    proptest::proptest! {
        #[test]
        fn the_merged_book_gives_the_transitions_of_a_map_of_ids(
            evaluations in proptest::collection::vec(
                proptest::collection::vec((0usize..3, 0u8..6, 0u8..4, proptest::bool::ANY, 0u8..3), 0..20), 1..8),
        ) {
            let names = [AlertName::PaymentOverdue, AlertName::OrderUndelivered, AlertName::SupplyBreak];
            let (mut book, mut reference) = (AlertBook::default(), BTreeMap::new());
            for (day, draws) in evaluations.iter().enumerate() {
                let alerts: Vec<Alert> = draws.iter().map(|&(name, inst, product, critical, value)| {
                    let mut a = alert(names[name], &format!("H{inst}"), if critical { Severity::Critical } else { Severity::Warning });
                    for label in ["product_code", "city_code"] {
                        a.labels.insert(label.into(), format!("P{product}"));
                    }
                    a.value = value.to_string();
                    a
                }).collect();
                let at = at(day as u32 + 1);
                let merged = book.observe(at, alerts.clone());
                let mapped = observe_by_map(&mut reference, at, alerts);
                proptest::prop_assert_eq!(merged, mapped);
                proptest::prop_assert_eq!(book.firing().cloned().collect::<Vec<_>>(), reference.values().cloned().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_label_change_resolves_the_old_alert_and_fires_the_new_one() {
        let mut book = AlertBook::default();
        let before = alert(AlertName::PaymentOverdue, "H1", Severity::Warning);
        let mut moved = before.clone();
        moved.labels.insert("division_code".into(), "610302".into());
        book.observe(at(1), vec![before.clone()]);
        let t = book.observe(at(2), vec![moved.clone()]);
        assert_eq!(
            t.iter().map(|t| (t.status, t.alert.fingerprint())).collect::<Vec<_>>(),
            vec![(Status::Resolved, before.fingerprint()), (Status::Firing, moved.fingerprint())]
        );
        let mut reworded = moved.clone();
        reworded.annotations.insert("summary".into(), "new words".into());
        assert!(book.observe(at(3), vec![reworded]).is_empty(), "annotations alone change no alert");
    }

    #[test]
    fn json_object_has_the_spec_fields() {
        let a = alert(AlertName::PaymentOverdue, "H1", Severity::Warning);
        let v = a.to_json(at(1), Status::Firing);
        for field in ["at", "status", "alertname", "severity", "labels", "annotations", "value"] {
            assert!(v.get(field).is_some(), "{field}");
        }
        assert_eq!(v["labels"]["alertname"], "PaymentOverdue");
        assert_eq!(v["labels"]["severity"], "warning");
        assert_eq!(v["at"], "2026-03-01T00:00:00+08:00");
    }
}

/// [`Alert::fingerprint`] from the labels of an alert object (SPEC §7
/// `labels`, `alertname` and `severity` included): 64-bit FNV-1a over each
/// name and value in label order, as 16 hex digits.
pub fn fingerprint_of(labels: &BTreeMap<String, String>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.as_bytes().iter().chain(v.as_bytes()) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}
