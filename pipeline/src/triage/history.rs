//! Alert history: every transition, kept as episodes (an alert firing at
//! one severity from one instant to another), queryable by alert name,
//! division and time. Alertmanager keeps no history (alertmanager#172), so
//! "what fired in district X last month, and for how long?" is answered
//! here, and from `vbp-watch sql`'s `alert_history` table.
//!
//! A severity change is two episodes back to back (SPEC §7: it resolves
//! one alert and fires the other); [`History::rows`] puts each alert's
//! episodes together so a page reads "warning from …, critical from …".

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset};
use serde::{Deserialize, Serialize};
use vbp_detectors::alert::{AlertId, AlertName, Severity, Status, Transition};

/// One alert at one severity, from when it fired to when it resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    pub alertname: AlertName,
    pub severity: Severity,
    /// Every label (`alertname` and `severity` included), as Alertmanager got them.
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub fired_at: DateTime<FixedOffset>,
    pub resolved_at: Option<DateTime<FixedOffset>>,
}

impl Episode {
    fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// Seconds from firing to resolution, or to `now` while it fires.
    pub fn seconds(&self, now: DateTime<FixedOffset>) -> i64 {
        (self.resolved_at.unwrap_or(now) - self.fired_at).num_seconds().max(0)
    }

    /// The alert's identity across severities (name and key labels).
    pub fn id(&self) -> AlertId {
        AlertId { name: self.alertname, key: self.alertname.key_labels().iter().map(|l| self.label(l).to_string()).collect() }
    }
}

/// Which episodes a query wants; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct HistoryQuery {
    pub alertname: Option<String>,
    pub division_code: Option<String>,
    pub city_code: Option<String>,
    /// Episodes still firing at or after this instant…
    pub from: Option<DateTime<FixedOffset>>,
    /// …and fired before this one.
    pub to: Option<DateTime<FixedOffset>>,
}

impl HistoryQuery {
    fn wants(&self, e: &Episode) -> bool {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|s| !s.is_empty())
        }
        given(&self.alertname).is_none_or(|n| e.alertname.as_str() == n)
            && given(&self.division_code).is_none_or(|d| e.label("division_code") == d)
            && given(&self.city_code).is_none_or(|c| e.label("city_code") == c)
            && self.from.is_none_or(|from| e.resolved_at.is_none_or(|r| r >= from))
            && self.to.is_none_or(|to| e.fired_at < to)
    }
}

/// One alert's episodes in a query's window, for the API and the page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub alertname: AlertName,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub first_fired: DateTime<FixedOffset>,
    pub last_resolved: Option<DateTime<FixedOffset>>,
    /// Seconds firing, over every episode (to the query's `now` while firing).
    pub seconds: i64,
    pub episodes: Vec<EpisodeRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EpisodeRow {
    pub severity: Severity,
    pub fired_at: DateTime<FixedOffset>,
    pub resolved_at: Option<DateTime<FixedOffset>>,
    pub seconds: i64,
}

/// The episodes, oldest first, with the firing ones indexed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    episodes: Vec<Episode>,
    /// Alert id → position of its episode still firing.
    #[serde(skip)]
    open: BTreeMap<AlertId, usize>,
}

impl History {
    /// Records one evaluation's transitions (resolutions first, as the
    /// book gives them, so a severity change closes before it opens).
    pub fn observe(&mut self, transitions: &[Transition]) {
        self.index_open();
        for t in transitions {
            let id = t.alert.id();
            match t.status {
                Status::Resolved => {
                    if let Some(i) = self.open.remove(&id) {
                        self.episodes[i].resolved_at = Some(t.at);
                    }
                }
                Status::Firing => {
                    self.open.insert(id, self.episodes.len());
                    self.episodes.push(Episode {
                        alertname: t.alert.name,
                        severity: t.alert.severity,
                        labels: t.alert.all_labels(),
                        summary: t.alert.annotations.get("summary").cloned().unwrap_or_default(),
                        fired_at: t.at,
                        resolved_at: None,
                    });
                }
            }
        }
    }

    /// The open index, rebuilt after a checkpoint was read back.
    fn index_open(&mut self) {
        if self.open.is_empty() && self.episodes.iter().any(|e| e.resolved_at.is_none()) {
            self.open = self.episodes.iter().enumerate().filter(|(_, e)| e.resolved_at.is_none()).map(|(i, e)| (e.id(), i)).collect();
        }
    }

    /// Forgets the open episodes of `alerts` (handed over to another
    /// instance, which records them from now on).
    pub fn forget_open(&mut self, alerts: &[vbp_detectors::alert::Alert]) {
        self.index_open();
        let gone: Vec<usize> = alerts.iter().filter_map(|a| self.open.get(&a.id()).copied()).collect();
        if gone.is_empty() {
            return;
        }
        let mut index = 0;
        self.episodes.retain(|_| {
            index += 1;
            !gone.contains(&(index - 1))
        });
        self.open.clear();
        self.index_open();
    }

    /// Forgets episodes resolved more than `keep` before `now`.
    pub fn prune(&mut self, now: DateTime<FixedOffset>, keep: Duration) {
        let before = self.episodes.len();
        let Some(horizon) = now.checked_sub_signed(keep) else { return };
        self.episodes.retain(|e| e.resolved_at.is_none_or(|r| r >= horizon));
        if self.episodes.len() != before {
            self.open.clear();
            self.index_open();
        }
    }

    pub fn len(&self) -> usize {
        self.episodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    pub fn episodes(&self) -> &[Episode] {
        &self.episodes
    }

    /// The alerts `query` and `visible` want, each with its episodes,
    /// most recently fired first; at most `limit` rows.
    pub fn rows(&self, query: &HistoryQuery, visible: &dyn Fn(&BTreeMap<String, String>) -> bool, now: DateTime<FixedOffset>, limit: usize) -> Vec<HistoryRow> {
        let mut by_alert: BTreeMap<AlertId, HistoryRow> = BTreeMap::new();
        for e in self.episodes.iter().filter(|e| query.wants(e) && visible(&e.labels)) {
            let row = by_alert.entry(e.id()).or_insert_with(|| HistoryRow {
                alertname: e.alertname,
                labels: e.labels.clone(),
                summary: e.summary.clone(),
                first_fired: e.fired_at,
                last_resolved: e.resolved_at,
                seconds: 0,
                episodes: Vec::new(),
            });
            row.first_fired = row.first_fired.min(e.fired_at);
            row.last_resolved = match (row.episodes.is_empty(), e.resolved_at) {
                (_, None) => None,
                (true, r) => r,
                (false, Some(r)) => row.last_resolved.map(|known| known.max(r)),
            };
            row.seconds += e.seconds(now);
            row.labels = e.labels.clone();
            row.summary = e.summary.clone();
            row.episodes.push(EpisodeRow { severity: e.severity, fired_at: e.fired_at, resolved_at: e.resolved_at, seconds: e.seconds(now) });
        }
        let mut rows: Vec<HistoryRow> = by_alert.into_values().collect();
        rows.sort_by(|a, b| {
            let last = |r: &HistoryRow| r.episodes.iter().map(|e| e.fired_at).max();
            last(b).cmp(&last(a)).then_with(|| a.labels.cmp(&b.labels))
        });
        rows.truncate(limit);
        rows
    }

    /// How many alerts fired at the end of each of the `days` days up to
    /// `today` (CST), among those `visible` wants: the console's trend.
    pub fn firing_by_day(&self, today: chrono::NaiveDate, days: i64, visible: &dyn Fn(&BTreeMap<String, String>) -> bool) -> Vec<(chrono::NaiveDate, usize)> {
        (0..days)
            .rev()
            .map(|back| {
                let day = today - Duration::days(back);
                let end = vbp_detectors::time::local_midnight(day + Duration::days(1));
                let n = self
                    .episodes
                    .iter()
                    .filter(|e| e.fired_at <= end && e.resolved_at.is_none_or(|r| r > end) && visible(&e.labels))
                    .count();
                (day, n)
            })
            .collect()
    }
}

/// The episodes as `vbp-watch sql`'s `alert_history` table: one row per
/// alert and severity from firing to resolution (`resolved_at` null while
/// it fires), with its key, divisions and duration.
pub fn table(history: &History, now: DateTime<FixedOffset>) -> Result<arrow::record_batch::RecordBatch, arrow::error::ArrowError> {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
    let e = history.episodes();
    let text = |f: &dyn Fn(&Episode) -> String| -> ArrayRef { Arc::new(StringArray::from_iter_values(e.iter().map(f))) };
    let tz = vbp_detectors::tables::TZ;
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("alertname", text(&|e| e.alertname.as_str().to_string())),
        ("severity", text(&|e| e.severity.as_str().to_string())),
        ("key", text(&|e| e.alertname.key_labels().iter().map(|l| e.label(l)).collect::<Vec<_>>().join(","))),
        ("institution_code", text(&|e| e.label("institution_code").to_string())),
        ("product_code", text(&|e| e.label("product_code").to_string())),
        ("division_code", text(&|e| e.label("division_code").to_string())),
        ("city_code", text(&|e| e.label("city_code").to_string())),
        ("summary", text(&|e| e.summary.clone())),
        ("fired_at", Arc::new(TimestampMicrosecondArray::from_iter_values(e.iter().map(|e| e.fired_at.timestamp_micros())).with_timezone(tz))),
        (
            "resolved_at",
            Arc::new(e.iter().map(|e| e.resolved_at.map(|r| r.timestamp_micros())).collect::<TimestampMicrosecondArray>().with_timezone(tz)),
        ),
        ("duration_seconds", Arc::new(Int64Array::from_iter_values(e.iter().map(|e| e.seconds(now))))),
    ];
    let fields: Vec<arrow::datatypes::Field> =
        columns.iter().map(|(name, a)| arrow::datatypes::Field::new(*name, a.data_type().clone(), a.null_count() > 0 || *name == "resolved_at")).collect();
    arrow::record_batch::RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns.into_iter().map(|(_, a)| a).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbp_detectors::alert::{Alert, Status};

    fn at(day: u32, hour: u32) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(&format!("2026-03-{day:02}T{hour:02}:00:00+08:00")).unwrap()
    }

    fn alert(inst: &str, division: &str, severity: Severity) -> Alert {
        let labels = [("institution_code", inst), ("division_code", division), ("city_code", "610300")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Alert { name: AlertName::PaymentOverdue, severity, labels, annotations: BTreeMap::new(), value: "1".into() }
    }

    fn t(at: DateTime<FixedOffset>, status: Status, alert: &Alert) -> Transition {
        Transition { at, status, alert: alert.clone() }
    }

    #[test]
    fn a_severity_change_is_one_alert_with_two_episodes_and_durations_add_up() {
        let w = alert("H1", "610305", Severity::Warning);
        let c = alert("H1", "610305", Severity::Critical);
        let mut h = History::default();
        h.observe(&[t(at(1, 0), Status::Firing, &w)]);
        h.observe(&[t(at(3, 0), Status::Resolved, &w), t(at(3, 0), Status::Firing, &c)]);
        h.observe(&[t(at(4, 12), Status::Resolved, &c)]);
        let rows = h.rows(&HistoryQuery::default(), &|_| true, at(10, 0), 100);
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.episodes.iter().map(|e| e.severity).collect::<Vec<_>>(), vec![Severity::Warning, Severity::Critical]);
        assert_eq!((row.first_fired, row.last_resolved), (at(1, 0), Some(at(4, 12))));
        assert_eq!(row.seconds, (3 * 24 + 12) * 3600);
    }

    #[test]
    fn queries_narrow_by_name_division_and_window_and_a_firing_one_counts_to_now() {
        let a = alert("H1", "610305", Severity::Warning);
        let b = alert("H2", "610302", Severity::Warning);
        let mut h = History::default();
        h.observe(&[t(at(1, 0), Status::Firing, &a), t(at(1, 0), Status::Firing, &b)]);
        h.observe(&[t(at(2, 0), Status::Resolved, &a)]);
        let q = |division: &str, from: Option<u32>| HistoryQuery {
            division_code: Some(division.into()),
            from: from.map(|d| at(d, 0)),
            ..HistoryQuery::default()
        };
        assert_eq!(h.rows(&q("610305", None), &|_| true, at(5, 0), 100).len(), 1);
        assert_eq!(h.rows(&q("610305", Some(3)), &|_| true, at(5, 0), 100).len(), 0, "resolved before from");
        let firing = h.rows(&q("610302", Some(3)), &|_| true, at(5, 0), 100);
        assert_eq!((firing.len(), firing[0].seconds, firing[0].last_resolved), (1, 4 * 24 * 3600, None));
        let only_mine = |labels: &BTreeMap<String, String>| labels.get("division_code").is_some_and(|d| d == "610302");
        assert_eq!(h.rows(&HistoryQuery::default(), &only_mine, at(5, 0), 100).len(), 1, "the viewer's filter applies");
        assert_eq!(h.firing_by_day(at(3, 0).date_naive(), 3, &|_| true), vec![(at(1, 0).date_naive(), 1), (at(2, 0).date_naive(), 1), (at(3, 0).date_naive(), 1)]);
    }

    #[test]
    fn pruning_keeps_what_fires_and_what_resolved_within_the_retention() {
        let a = alert("H1", "610305", Severity::Warning);
        let b = alert("H2", "610305", Severity::Warning);
        let mut h = History::default();
        h.observe(&[t(at(1, 0), Status::Firing, &a), t(at(1, 0), Status::Firing, &b)]);
        h.observe(&[t(at(2, 0), Status::Resolved, &a)]);
        h.prune(at(20, 0), Duration::days(7));
        assert_eq!(h.len(), 1, "the resolved one is past the retention");
        h.observe(&[t(at(21, 0), Status::Resolved, &b)]);
        assert_eq!(h.episodes()[0].resolved_at, Some(at(21, 0)), "the firing one is still found after pruning");
    }
}
