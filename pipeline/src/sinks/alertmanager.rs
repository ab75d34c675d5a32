//! The Alertmanager sink (API v2, `POST /api/v2/alerts`; SPEC §7).
//!
//! Alertmanager keeps no state across its own restarts, so this sink keeps
//! it (ARCHITECTURE): every alert firing is re-sent each `resend` with
//! `endsAt` four resends ahead, and a resolved alert is re-sent with its
//! past `endsAt` for 15 minutes after Alertmanager first accepted it. While
//! Alertmanager is unreachable the sink retries with exponential backoff
//! and keeps what it owes — bounded, and inside the checkpoint in live
//! mode — so an outage delays warnings and never loses them.
//!
//! Times sent are wall-clock: Alertmanager judges `endsAt` against its own
//! clock, whatever instant T the detectors evaluated at.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;
use vbp_detectors::alert::{Alert, Status, Transition};

use crate::checkpoint::{fnv1a, FNV_START};
use crate::http::Shared;

/// How long a resolved alert keeps being re-sent after its first delivery.
const RESOLVED_RESEND: Duration = Duration::from_secs(15 * 60);
/// At most this many resolved alerts are kept while Alertmanager is away;
/// past it the oldest are dropped (and counted).
const MAX_RESOLVED: usize = 50_000;

/// Alertmanager's identity of an alert: a stable hash of all its labels
/// (a severity change is a different alert, as it is for Alertmanager).
pub fn fingerprint(alert: &Alert) -> String {
    fingerprint_of(&alert.all_labels())
}

/// The same from the labels of an alert object (SPEC §7 `labels`).
pub fn fingerprint_of(labels: &BTreeMap<String, String>) -> String {
    let mut hash = FNV_START;
    for (k, v) in labels {
        hash = fnv1a(v.as_bytes(), fnv1a(k.as_bytes(), hash));
    }
    format!("{hash:016x}")
}

/// One alert as Alertmanager gets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Posted {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    /// Unix milliseconds, wall clock.
    starts_at: i64,
    /// Set when resolved.
    ends_at: Option<i64>,
    /// When Alertmanager first accepted the resolution.
    resolution_delivered_at: Option<i64>,
}

/// What the sink owes Alertmanager; the checkpoint keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Owed {
    firing: BTreeMap<String, Posted>,
    resolved: BTreeMap<String, Posted>,
    /// Transitions recorded but not yet accepted by Alertmanager, with the
    /// instant they were recorded (for the push-latency histogram).
    #[serde(skip)]
    waiting_since: Option<Instant>,
}

impl Owed {
    /// Takes one evaluation's transitions.
    pub fn record(&mut self, transitions: &[Transition], generator_base: &str) {
        let now = Utc::now().timestamp_millis();
        for t in transitions {
            let fp = fingerprint(&t.alert);
            match t.status {
                Status::Firing => {
                    let mut annotations = t.alert.annotations.clone();
                    annotations.insert("generator".into(), format!("{generator_base}/alerts/{fp}"));
                    let posted = Posted {
                        labels: t.alert.all_labels(),
                        annotations,
                        starts_at: now,
                        ends_at: None,
                        resolution_delivered_at: None,
                    };
                    self.resolved.remove(&fp);
                    self.firing.insert(fp, posted);
                }
                Status::Resolved => {
                    if let Some(mut posted) = self.firing.remove(&fp) {
                        posted.ends_at = Some(now);
                        self.resolved.insert(fp, posted);
                    }
                }
            }
        }
        self.waiting_since.get_or_insert_with(Instant::now);
    }

    /// The alerts to post now; `endsAt` of firing ones `ahead` from now.
    fn payload(&self, ahead: Duration, generator_base: &str) -> Vec<Value> {
        let now = Utc::now().timestamp_millis();
        let ahead = i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX);
        let all = self.firing.iter().map(|(fp, p)| (fp, p, now.saturating_add(ahead))).chain(
            self.resolved.iter().map(|(fp, p)| (fp, p, p.ends_at.unwrap_or(now))),
        );
        all.map(|(fp, p, ends_at)| {
            json!({
                "labels": p.labels,
                "annotations": p.annotations,
                "startsAt": rfc3339(p.starts_at),
                "endsAt": rfc3339(ends_at),
                "generatorURL": format!("{generator_base}/alerts/{fp}"),
            })
        })
        .collect()
    }

    /// After Alertmanager accepted a post: start (or end) the resend
    /// window of resolved alerts; drops what is past it, and the oldest
    /// past the bound. Returns how many were dropped unsent.
    fn delivered(&mut self) -> (Option<Instant>, u64) {
        let now = Utc::now().timestamp_millis();
        let window = i64::try_from(RESOLVED_RESEND.as_millis()).unwrap_or(i64::MAX);
        for p in self.resolved.values_mut() {
            p.resolution_delivered_at.get_or_insert(now);
        }
        self.resolved.retain(|_, p| p.resolution_delivered_at.is_some_and(|t| now - t < window));
        (self.waiting_since.take(), self.trim())
    }

    fn trim(&mut self) -> u64 {
        let mut dropped = 0;
        while self.resolved.len() > MAX_RESOLVED {
            let oldest = self.resolved.iter().min_by_key(|(_, p)| p.ends_at).map(|(fp, _)| fp.clone());
            if let Some(fp) = oldest {
                self.resolved.remove(&fp);
                dropped += 1;
            }
        }
        dropped
    }

    pub fn len(&self) -> usize {
        self.firing.len() + self.resolved.len()
    }
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The sink: a background task posting what is [`Owed`].
#[derive(Clone)]
pub struct Alertmanager {
    pub owed: Arc<Mutex<Owed>>,
    wake: Arc<Notify>,
    generator_base: String,
}

impl Alertmanager {
    /// Starts the posting task for `url` (e.g. `http://127.0.0.1:9093`).
    pub fn start(url: &str, generator_base: String, resend: Duration, owed: Owed, shared: Arc<Shared>) -> Self {
        let sink = Alertmanager { owed: Arc::new(Mutex::new(owed)), wake: Arc::new(Notify::new()), generator_base };
        let endpoint = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
        tokio::spawn(post_loop(sink.clone(), endpoint, resend, shared));
        sink
    }

    /// Records transitions and wakes the task to post at once.
    pub fn send(&self, transitions: &[Transition]) {
        if transitions.is_empty() {
            return;
        }
        if let Ok(mut owed) = self.owed.lock() {
            owed.record(transitions, &self.generator_base);
        }
        self.wake.notify_one();
    }

    /// A copy for the checkpoint.
    pub fn owed(&self) -> Owed {
        self.owed.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

/// The most alerts one request carries. A first start, or thresholds set
/// too tight, can fire hundreds of thousands at once; one request with all
/// of them would outlast the timeout and be retried forever.
const ALERTS_PER_POST: usize = 1000;

/// Posts `payload` in requests of at most [`ALERTS_PER_POST`] alerts; fails
/// at the first that fails (the next attempt sends everything again, which
/// Alertmanager takes as a refresh).
async fn post_all(client: &reqwest::Client, endpoint: &str, payload: &[Value]) -> Result<(), String> {
    for chunk in payload.chunks(ALERTS_PER_POST) {
        match client.post(endpoint).json(chunk).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => return Err(format!("Alertmanager answered {}", r.status())),
            Err(e) => return Err(format!("Alertmanager unreachable: {e}")),
        }
    }
    Ok(())
}

async fn post_loop(sink: Alertmanager, endpoint: String, resend: Duration, shared: Arc<Shared>) {
    let metrics = &shared.metrics;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    let mut backoff = Duration::from_secs(1);
    loop {
        let payload = match sink.owed.lock() {
            Ok(owed) => owed.payload(resend * 4, &sink.generator_base),
            Err(_) => return,
        };
        let result = post_all(&client, &endpoint, &payload).await;
        let pause = match result {
            Ok(()) => {
                backoff = Duration::from_secs(1);
                if let Ok(mut owed) = sink.owed.lock() {
                    let (since, dropped) = owed.delivered();
                    if let Some(since) = since {
                        metrics.push_latency_seconds.observe(since.elapsed().as_secs_f64());
                    }
                    metrics.push_dropped.inc_by(dropped);
                    metrics.alertmanager_owed.set(owed.len() as i64);
                }
                resend
            }
            Err(e) => {
                metrics.push_failures.inc();
                tracing::warn!("{e}; retrying in {backoff:?}");
                let pause = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(60));
                pause
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = sink.wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vbp_detectors::alert::{AlertName, Severity};

    fn transition(status: Status, severity: Severity) -> Transition {
        let mut labels = BTreeMap::new();
        labels.insert("institution_code".to_string(), "H1".to_string());
        labels.insert("division_code".to_string(), "610305".to_string());
        let alert = Alert { name: AlertName::PaymentOverdue, severity, labels, annotations: BTreeMap::new(), value: "1".into() };
        Transition { at: chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00+08:00").unwrap(), status, alert }
    }

    #[test]
    fn firing_then_resolved_keeps_the_resolution_until_delivered() {
        let mut owed = Owed::default();
        owed.record(&[transition(Status::Firing, Severity::Warning)], "http://x");
        let p = owed.payload(Duration::from_secs(240), "http://x");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["labels"]["alertname"], "PaymentOverdue");
        assert!(p[0]["generatorURL"].as_str().unwrap().starts_with("http://x/alerts/"));
        owed.record(&[transition(Status::Resolved, Severity::Warning)], "http://x");
        let p = owed.payload(Duration::from_secs(240), "http://x");
        assert_eq!(p.len(), 1, "the resolution is still owed");
        assert!(p[0]["endsAt"].as_str().unwrap() <= rfc3339(Utc::now().timestamp_millis()).as_str());
        owed.delivered();
        assert_eq!(owed.len(), 1, "re-sent for 15 minutes after delivery");
    }

    #[test]
    fn a_severity_change_is_two_alerts() {
        let w = transition(Status::Firing, Severity::Warning).alert;
        let c = transition(Status::Firing, Severity::Critical).alert;
        assert_ne!(fingerprint(&w), fingerprint(&c));
        assert_eq!(fingerprint(&w), fingerprint(&w.clone()));
    }
}
