//! On-call triage (SPEC §12): what has fired and for how long
//! ([`history`]), each supply-break incident's day-by-day figures, and who
//! acknowledged which incident until when — with the Alertmanager silence
//! that acknowledgement created ([`silences`]) and the escalation of an
//! incident nobody acknowledged.
//!
//! The runner keeps a [`Triage`] up to date at each evaluation; live mode
//! checkpoints it, so a restart keeps the history and the acknowledgements.

pub mod history;
pub mod silences;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use vbp_detectors::alert::{Alert, AlertBook, AlertName, Status, Transition};

pub use history::{Episode, EpisodeRow, History, HistoryQuery, HistoryRow};

/// A supply break's key: (city_code, product_code).
pub type IncidentKey = (String, String);

/// The incident a `SupplyBreak` alert is, by its labels.
pub fn incident_key(alert: &Alert) -> Option<IncidentKey> {
    (alert.name == AlertName::SupplyBreak).then(|| {
        let label = |l: &str| alert.labels.get(l).cloned().unwrap_or_default();
        (label("city_code"), label("product_code"))
    })
}

/// [`incident_key`] of an alert known to be a supply break.
fn timeline_key(alert: &Alert) -> IncidentKey {
    incident_key(alert).unwrap_or_default()
}

/// One day of an incident: what was outstanding and how many hospitals
/// waited, at the day's last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigure {
    pub outstanding_packs: Decimal,
    pub institutions: u32,
}

/// An incident's figures by day, and when it was first seen (wall clock:
/// what escalation counts from).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub days: BTreeMap<NaiveDate, DayFigure>,
    pub first_seen: DateTime<Utc>,
    pub firing: bool,
}

/// Who acknowledged an incident, and the silence that stands for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub by: String,
    pub comment: String,
    pub at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub silence_id: String,
    /// When the silence was expired because the break resolved.
    pub expired_at: Option<DateTime<Utc>>,
}

impl Ack {
    /// Whether it still holds at `now`.
    pub fn holds(&self, now: DateTime<Utc>) -> bool {
        self.expired_at.is_none() && now < self.until
    }
}

/// See the module doc.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Triage {
    pub history: History,
    timelines: BTreeMap<IncidentKey, Timeline>,
    acks: BTreeMap<IncidentKey, Ack>,
    /// The escalated copy of each incident escalated now (its alert, to
    /// resolve it with the same labels).
    escalated: BTreeMap<IncidentKey, Alert>,
}

impl Triage {
    /// Takes one evaluation: its transitions into the history, and each
    /// firing supply break's figures into its timeline.
    pub fn observe(&mut self, at: DateTime<FixedOffset>, transitions: &[Transition], book: &AlertBook, retention: Duration) {
        self.history.observe(transitions);
        self.history.prune(at, retention);
        let was_firing: std::collections::BTreeSet<IncidentKey> =
            self.timelines.iter().filter(|(_, t)| t.firing).map(|(k, _)| k.clone()).collect();
        for timeline in self.timelines.values_mut() {
            timeline.firing = false;
        }
        let today = vbp_detectors::time::local_date(at);
        for f in book.firing() {
            let Some(key) = incident_key(&f.alert) else { continue };
            let figure = DayFigure {
                outstanding_packs: f.alert.annotations.get("outstanding_packs").and_then(|p| p.parse().ok()).unwrap_or_default(),
                institutions: f.alert.value.parse().unwrap_or(0),
            };
            let timeline = self.timelines.entry(key).or_insert_with(|| Timeline { days: BTreeMap::new(), first_seen: Utc::now(), firing: false });
            if !timeline.firing && !was_firing.contains(&timeline_key(&f.alert)) {
                // Firing again after it resolved: escalation counts anew.
                timeline.first_seen = Utc::now();
            }
            timeline.firing = true;
            timeline.days.insert(today, figure);
        }
        // A resolved incident's timeline and acknowledgement stay as long
        // as its history does.
        let keep_from = today.checked_sub_signed(retention).unwrap_or(NaiveDate::MIN);
        self.timelines.retain(|_, t| t.firing || t.days.keys().next_back().is_some_and(|d| *d >= keep_from));
        let keep_acks = Utc::now().checked_sub_signed(retention).unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.acks.retain(|key, ack| self.timelines.contains_key(key) || ack.at >= keep_acks);
    }

    pub fn timeline(&self, key: &IncidentKey) -> Option<&Timeline> {
        self.timelines.get(key)
    }

    pub fn ack(&self, key: &IncidentKey) -> Option<&Ack> {
        self.acks.get(key)
    }

    /// Records an acknowledgement (its silence created already).
    pub fn acknowledge(&mut self, key: IncidentKey, ack: Ack) {
        self.acks.insert(key, ack);
    }

    /// Acknowledgements whose incident no longer fires and whose silence
    /// is still to expire: (key, silence id).
    pub fn silences_to_expire(&self) -> Vec<(IncidentKey, String)> {
        self.acks
            .iter()
            .filter(|(key, ack)| ack.expired_at.is_none() && !self.timelines.get(*key).is_some_and(|t| t.firing))
            .map(|(key, ack)| (key.clone(), ack.silence_id.clone()))
            .collect()
    }

    /// The silence of `key` was expired.
    pub fn silence_expired(&mut self, key: &IncidentKey, at: DateTime<Utc>) {
        if let Some(ack) = self.acks.get_mut(key) {
            ack.expired_at = Some(at);
        }
    }

    /// What to send Alertmanager besides the evaluation's transitions: an
    /// escalated copy (label `escalated="true"`, routed to the provincial
    /// duty officer) of each incident firing for `after` (wall clock)
    /// without an acknowledgement that holds, and its resolution once the
    /// incident is acknowledged or over.
    pub fn escalations(&mut self, at: DateTime<FixedOffset>, book: &AlertBook, after: Duration, now: DateTime<Utc>) -> Vec<Transition> {
        let mut out = Vec::new();
        let mut due: BTreeMap<IncidentKey, Alert> = BTreeMap::new();
        for f in book.firing() {
            let Some(key) = incident_key(&f.alert) else { continue };
            let waited = self.timelines.get(&key).is_some_and(|t| now - t.first_seen >= after);
            let acknowledged = self.acks.get(&key).is_some_and(|a| a.holds(now));
            if waited && !acknowledged {
                due.insert(key, escalated(&f.alert, after));
            }
        }
        let before = std::mem::take(&mut self.escalated);
        // The copy sent stands until its incident is acknowledged or over,
        // or its labels change (a reload): then the old copy resolves.
        let same = |key: &IncidentKey, alert: &Alert| before.get(key).is_some_and(|sent| sent.labels == alert.labels);
        for (key, sent) in &before {
            if !due.get(key).is_some_and(|alert| same(key, alert)) {
                out.push(Transition { at, status: Status::Resolved, alert: sent.clone() });
            }
        }
        for (key, alert) in due {
            if same(&key, &alert) {
                self.escalated.insert(key.clone(), before[&key].clone());
            } else {
                out.push(Transition { at, status: Status::Firing, alert: alert.clone() });
                self.escalated.insert(key, alert);
            }
        }
        out
    }

    /// Another instance answers for `alerts` now (a rebalance): their open
    /// episodes, timelines and acknowledgements leave this instance's
    /// triage without a resolution — the silence stays in Alertmanager
    /// until it ends — and their escalation stops being sent from here.
    /// Returns the escalated copies no longer sent from here.
    pub fn hand_over(&mut self, alerts: &[Alert]) -> Vec<Alert> {
        self.history.forget_open(alerts);
        let mut copies = Vec::new();
        for key in alerts.iter().filter_map(incident_key) {
            self.timelines.remove(&key);
            self.acks.remove(&key);
            copies.extend(self.escalated.remove(&key));
        }
        copies
    }

    /// Whether the incident of `key` is escalated now.
    pub fn is_escalated(&self, key: &IncidentKey) -> bool {
        self.escalated.contains_key(key)
    }
}

/// The escalated copy of an incident's alert.
fn escalated(alert: &Alert, after: Duration) -> Alert {
    let mut copy = alert.clone();
    copy.labels.insert("escalated".into(), "true".into());
    let summary = copy.annotations.get("summary").cloned().unwrap_or_default();
    copy.annotations.insert("summary".into(), format!("【升级】{} 分钟无人确认：{summary}", after.num_minutes()));
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbp_detectors::alert::Severity;

    fn supply_break(packs: &str, institutions: &str) -> Alert {
        let labels = [("city_code", "610300"), ("product_code", "X1"), ("division_code", "610300")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let annotations = [("outstanding_packs".to_string(), packs.to_string()), ("summary".to_string(), "断供".to_string())].into();
        Alert { name: AlertName::SupplyBreak, severity: Severity::Critical, labels, annotations, value: institutions.into() }
    }

    fn at(day: u32) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(&format!("2026-03-{day:02}T12:00:00+08:00")).unwrap()
    }

    #[test]
    fn an_incident_keeps_one_figure_per_day_and_its_silence_expires_when_it_resolves() {
        let (mut triage, mut book) = (Triage::default(), AlertBook::default());
        for (day, packs, n) in [(1, "10", "3"), (1, "12", "3"), (2, "20", "4")] {
            let t = book.observe(at(day), vec![supply_break(packs, n)]);
            triage.observe(at(day), &t, &book, Duration::days(400));
        }
        let key = ("610300".to_string(), "X1".to_string());
        let days: Vec<(u32, String)> = triage.timeline(&key).unwrap().days.values().map(|f| (f.institutions, f.outstanding_packs.to_string())).collect();
        assert_eq!(days, vec![(3, "12".into()), (4, "20".into())], "the day's last evaluation counts");
        let ack = Ack { by: "张三".into(), comment: "已联系企业".into(), at: Utc::now(), until: Utc::now() + Duration::hours(24), silence_id: "s1".into(), expired_at: None };
        triage.acknowledge(key.clone(), ack);
        assert!(triage.silences_to_expire().is_empty(), "it still fires");
        let t = book.observe(at(3), vec![]);
        triage.observe(at(3), &t, &book, Duration::days(400));
        assert_eq!(triage.silences_to_expire(), vec![(key.clone(), "s1".to_string())]);
        triage.silence_expired(&key, Utc::now());
        assert!(triage.silences_to_expire().is_empty(), "expired once");
        assert_eq!(triage.history.len(), 1, "one episode in the history");
    }

    #[test]
    fn an_unacknowledged_incident_escalates_once_and_the_escalation_resolves_on_acknowledgement() {
        let (mut triage, mut book) = (Triage::default(), AlertBook::default());
        let t = book.observe(at(1), vec![supply_break("10", "3")]);
        triage.observe(at(1), &t, &book, Duration::days(400));
        let now = Utc::now();
        assert!(triage.escalations(at(1), &book, Duration::minutes(30), now).is_empty(), "not yet");
        let later = now + Duration::minutes(31);
        let up = triage.escalations(at(1), &book, Duration::minutes(30), later);
        assert_eq!(up.len(), 1);
        assert_eq!((up[0].status, up[0].alert.labels.get("escalated").map(String::as_str)), (Status::Firing, Some("true")));
        assert!(triage.escalations(at(1), &book, Duration::minutes(30), later).is_empty(), "sent once");
        let key = ("610300".to_string(), "X1".to_string());
        triage.acknowledge(key, Ack { by: "李四".into(), comment: String::new(), at: later, until: later + Duration::hours(24), silence_id: "s".into(), expired_at: None });
        let down = triage.escalations(at(1), &book, Duration::minutes(30), later);
        assert_eq!(down.len(), 1);
        assert_eq!((down[0].status, down[0].alert.fingerprint()), (Status::Resolved, up[0].alert.fingerprint()));
    }
}
