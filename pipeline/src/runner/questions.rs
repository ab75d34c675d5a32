//! The pages' questions that only the engine can answer — what stands
//! behind an alert, an incident's timeline, the history — asked over a
//! channel ([`crate::http::Asked`]) and answered by whichever driver holds
//! the runner (demo between simulated days, live between messages), so
//! no state is copied for a page nobody opens.

use chrono::{DateTime, FixedOffset};
use vbp_detectors::alert::{Alert, AlertName};
use vbp_detectors::evidence::{AlertEvidence, Scene};

use super::{DeadLetterSink, Runner};
use crate::http::access::Viewer;
use crate::http::{Answer, Asked, Question};
use crate::triage::{incident_key, Ack, EpisodeRow, HistoryQuery, Timeline};

/// The answer about one alert.
#[derive(Debug, Clone)]
pub enum AlertAnswer {
    Page(Box<AlertPage>),
    /// Not firing now (resolved, or never was).
    NotFiring,
    /// Firing, but not the viewer's.
    NotYours,
}

/// One firing alert as its page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertPage {
    pub alert: Alert,
    pub fingerprint: String,
    pub since: DateTime<FixedOffset>,
    /// The evaluation instant the evidence is of.
    pub at: DateTime<FixedOffset>,
    pub evidence: AlertEvidence,
    /// Its episodes (severity changes included).
    pub history: Vec<EpisodeRow>,
    /// For a supply break: the incident.
    pub incident: Option<IncidentPage>,
    /// For an undelivered order under a supply break: (fingerprint, summary)
    /// of the incident that stands for it.
    pub part_of: Option<(String, String)>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct IncidentPage {
    pub timeline: Option<Timeline>,
    pub ack: Option<Ack>,
    pub escalated: bool,
    /// The undelivered-order alerts the incident stands for (Alertmanager
    /// inhibits them), as (fingerprint, alert), the viewer's only.
    pub nested: Vec<(String, Alert)>,
}

impl<O, D: DeadLetterSink<O>> Runner<O, D> {
    /// Answers one question (see the module doc).
    pub fn answer(&mut self, asked: Asked) {
        let answer = match asked.question {
            Question::Alert { fingerprint, viewer } => Answer::Alert(self.alert_page(&fingerprint, &viewer)),
            Question::History { query, viewer, limit } => {
                let now = self.last_evaluation.unwrap_or_else(|| chrono::Utc::now().fixed_offset());
                Answer::History(self.triage.history.rows(&query, &|labels| viewer.sees_labels(labels), now, limit))
            }
            Question::Trend { viewer, days } => {
                let today = self.last_evaluation.map_or_else(|| chrono::Utc::now().date_naive(), vbp_detectors::time::local_date);
                Answer::Trend(self.triage.history.firing_by_day(today, days, &|labels| viewer.sees_labels(labels)))
            }
        };
        let _ = asked.reply.send(answer);
    }

    fn alert_page(&self, fingerprint: &str, viewer: &Viewer) -> AlertAnswer {
        let (Some(firing), Some(at)) = (self.engine.book().firing().find(|f| f.alert.fingerprint() == fingerprint), self.last_evaluation) else {
            return AlertAnswer::NotFiring;
        };
        let alert = &firing.alert;
        if !viewer.sees_labels(&alert.all_labels()) {
            return AlertAnswer::NotYours;
        }
        let reference = self.engine.reference();
        let visible = |i: &vbp_detectors::reference::Institution| viewer.sees_institution(i);
        let scene = Scene { reference, states: self.engine.states(), config: self.engine.config(), at, visible: &visible };
        let evidence = scene.evidence(alert);
        let query = HistoryQuery { alertname: Some(alert.name.as_str().to_string()), ..HistoryQuery::default() };
        let id = alert.id();
        let history = self
            .triage
            .history
            .rows(&query, &|labels| viewer.sees_labels(labels), at, usize::MAX)
            .into_iter()
            .filter(|row| {
                let key: Vec<&str> = alert.name.key_labels().iter().map(|l| row.labels.get(*l).map_or("", String::as_str)).collect();
                key == id.key.iter().map(String::as_str).collect::<Vec<_>>()
            })
            .flat_map(|row| row.episodes)
            .collect();
        let incident = incident_key(alert).map(|key| IncidentPage {
            timeline: self.triage.timeline(&key).cloned(),
            ack: self.triage.ack(&key).cloned(),
            escalated: self.triage.is_escalated(&key),
            nested: self
                .engine
                .book()
                .firing()
                .filter(|f| f.alert.name == AlertName::OrderUndelivered && under(&f.alert, &key))
                .filter(|f| viewer.sees_labels(&f.alert.all_labels()))
                .map(|f| (f.alert.fingerprint(), f.alert.clone()))
                .collect(),
        });
        let part_of = (alert.name == AlertName::OrderUndelivered)
            .then(|| {
                self.engine.book().firing().find_map(|f| {
                    let key = incident_key(&f.alert)?;
                    let shown = under(alert, &key) && viewer.sees_labels(&f.alert.all_labels());
                    shown.then(|| (f.alert.fingerprint(), f.alert.annotations.get("summary").cloned().unwrap_or_default()))
                })
            })
            .flatten();
        AlertAnswer::Page(Box::new(AlertPage { alert: alert.clone(), fingerprint: fingerprint.to_string(), since: firing.since, at, evidence, history, incident, part_of }))
    }
}

/// Whether an undelivered-order alert is one a supply break of `key`
/// stands for (Alertmanager's inhibition: same product and city).
pub fn under(alert: &Alert, key: &(String, String)) -> bool {
    let label = |l: &str| alert.labels.get(l).map_or("", String::as_str);
    label("city_code") == key.0 && label("product_code") == key.1
}

