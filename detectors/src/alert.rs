//! Alerts and their lifecycle (SPEC §7).
//!
//! An alert is identified by its alertname and its key (the SPEC §6 key
//! fields). Its severity is a label, so a severity change resolves the alert
//! at the old severity and fires it at the new one, as Alertmanager sees it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The six alert names of SPEC §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AlertName {
    SelectedProductNotEntered,
    ProcurementBehindSchedule,
    NonSelectedShareHigh,
    OrderUndelivered,
    SupplyBreak,
    PaymentOverdue,
}

impl AlertName {
    pub const ALL: [AlertName; 6] = [
        AlertName::SelectedProductNotEntered,
        AlertName::ProcurementBehindSchedule,
        AlertName::NonSelectedShareHigh,
        AlertName::OrderUndelivered,
        AlertName::SupplyBreak,
        AlertName::PaymentOverdue,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertName::SelectedProductNotEntered => "SelectedProductNotEntered",
            AlertName::ProcurementBehindSchedule => "ProcurementBehindSchedule",
            AlertName::NonSelectedShareHigh => "NonSelectedShareHigh",
            AlertName::OrderUndelivered => "OrderUndelivered",
            AlertName::SupplyBreak => "SupplyBreak",
            AlertName::PaymentOverdue => "PaymentOverdue",
        }
    }

    pub fn parse(s: &str) -> Option<AlertName> {
        AlertName::ALL.into_iter().find(|n| n.as_str() == s)
    }

    /// The labels that identify one alert of this name (SPEC §6 "Key").
    pub fn key_labels(self) -> &'static [&'static str] {
        match self {
            AlertName::SelectedProductNotEntered | AlertName::ProcurementBehindSchedule => {
                &["institution_code", "family_id", "agreement_id"]
            }
            AlertName::NonSelectedShareHigh => &["institution_code", "group_id"],
            AlertName::OrderUndelivered => &["institution_code", "product_code"],
            AlertName::SupplyBreak => &["city_code", "product_code"],
            AlertName::PaymentOverdue => &["institution_code"],
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
        let key = self.name.key_labels().iter().map(|l| self.labels.get(*l).cloned().unwrap_or_default()).collect();
        AlertId { name: self.name, key }
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
        let mut now: BTreeMap<AlertId, Alert> = current.into_iter().map(|a| (a.id(), a)).collect();
        let mut resolved = Vec::new();
        let mut fired = Vec::new();
        let previous = std::mem::take(&mut self.firing);
        for (id, old) in previous {
            match now.remove(&id) {
                Some(alert) if alert.severity == old.alert.severity => {
                    self.firing.insert(id, Firing { since: old.since, alert });
                }
                Some(alert) => {
                    resolved.push(Transition { at, status: Status::Resolved, alert: old.alert });
                    fired.push(Transition { at, status: Status::Firing, alert: alert.clone() });
                    self.firing.insert(id, Firing { since: at, alert });
                }
                None => resolved.push(Transition { at, status: Status::Resolved, alert: old.alert }),
            }
        }
        for (id, alert) in now {
            fired.push(Transition { at, status: Status::Firing, alert: alert.clone() });
            self.firing.insert(id, Firing { since: at, alert });
        }
        fired.sort_by_key(|t| t.alert.id());
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
