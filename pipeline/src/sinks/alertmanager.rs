//! The Alertmanager sink (API v2, `POST /api/v2/alerts`; SPEC §7).
//!
//! Alertmanager keeps no state across its own restarts, so this sink keeps
//! it (ARCHITECTURE): every alert firing is re-sent each `resend` with
//! `endsAt` four resends ahead, and a resolved alert is re-sent with its
//! past `endsAt` for 15 minutes after Alertmanager first accepted it. While
//! Alertmanager is unreachable or answers 5xx the sink retries with jittered
//! exponential backoff and keeps what it owes — bounded, and inside the
//! checkpoint in live mode — so an outage delays warnings and never loses
//! them.
//!
//! An alert Alertmanager *refuses* (400, 413, 422: it will never take it) is
//! not retried: the refused requests are halved until the refused alerts are
//! found alone, those go to the dead-letter output with Alertmanager's answer
//! (reason `refused_by_alertmanager`), and every other alert is delivered.
//! Other 4xx answers (401, 403, 404, 405) say the sink is misconfigured, not
//! that an alert is bad: they are retried at the longest backoff and logged,
//! so a wrong URL does not empty the book into the dead letters.
//!
//! Times sent are wall-clock: Alertmanager judges `endsAt` against its own
//! clock, whatever instant T the detectors evaluated at.

use url::Url;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Notify;
use vbp_detectors::alert::{Status, Transition};
use vbp_schemas::{DeadLetter, Reason, Rejection, Source};

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

/// How long a resolved alert keeps being re-sent after its first delivery.
const RESOLVED_RESEND: Duration = Duration::from_secs(15 * 60);
/// At most this many resolved alerts are kept while Alertmanager is away;
/// past it the oldest are dropped (and counted).
const MAX_RESOLVED: usize = 50_000;

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

/// An alert Alertmanager refused, waiting for the dead-letter output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refused {
    /// The alert as posted (SPEC §7 object of Alertmanager's API).
    pub alert: String,
    /// Alertmanager's status line and body.
    pub answer: String,
    pub endpoint: String,
}

impl Refused {
    pub fn to_dead_letter(&self) -> DeadLetter {
        let rejection = Rejection::new(Reason::RefusedByAlertmanager, format!("Alertmanager answered {}", self.answer));
        DeadLetter::new(rejection, Source::Alertmanager { alertmanager: self.endpoint.clone() }, self.alert.as_bytes())
    }
}

/// What the sink owes Alertmanager, and the alerts it refused; the
/// checkpoint keeps both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Owed {
    firing: BTreeMap<String, Posted>,
    resolved: BTreeMap<String, Posted>,
    /// Refused alerts not yet written to the dead-letter output.
    #[serde(default)]
    refused: Vec<Refused>,
    /// Transitions recorded but not yet accepted by Alertmanager, with the
    /// instant they were recorded (for the push-latency histogram).
    #[serde(skip)]
    waiting_since: Option<Instant>,
    /// Resolved alerts dropped unsent past [`MAX_RESOLVED`], not yet counted
    /// in the metric.
    #[serde(skip)]
    dropped: u64,
    /// Transitions recorded since Alertmanager last accepted a post (all
    /// of them after a restart, until the first post): `/readyz` is not
    /// ready past `ready_max_undelivered_alerts`.
    #[serde(skip)]
    undelivered: usize,
}

impl Owed {
    /// Takes one evaluation's transitions.
    pub fn record(&mut self, transitions: &[Transition], generator_base: &str) {
        let now = Utc::now().timestamp_millis();
        for t in transitions {
            let fp = t.alert.fingerprint();
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
        self.undelivered += transitions.len();
        // Bounded while Alertmanager is away too, not only after a post.
        self.dropped += self.trim();
    }

    /// The alerts to post now, each with its fingerprint; `endsAt` of
    /// firing ones `ahead` from now.
    fn payload(&self, ahead: Duration, generator_base: &str) -> Vec<(String, Value)> {
        let now = Utc::now().timestamp_millis();
        let ahead = i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX);
        let all = self.firing.iter().map(|(fp, p)| (fp, p, now.saturating_add(ahead))).chain(
            self.resolved.iter().map(|(fp, p)| (fp, p, p.ends_at.unwrap_or(now))),
        );
        all.map(|(fp, p, ends_at)| {
            let alert = json!({
                "labels": p.labels,
                "annotations": p.annotations,
                "startsAt": rfc3339(p.starts_at),
                "endsAt": rfc3339(ends_at),
                "generatorURL": format!("{generator_base}/alerts/{fp}"),
            });
            (fp.clone(), alert)
        })
        .collect()
    }

    /// Alertmanager refused the alert `fp`: it is owed no more, and waits
    /// for the dead-letter output instead.
    fn refuse(&mut self, fp: &str, alert: &Value, answer: String, endpoint: &str) {
        self.firing.remove(fp);
        self.resolved.remove(fp);
        self.refused.push(Refused { alert: alert.to_string(), answer, endpoint: endpoint.to_string() });
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
        let dropped = self.trim() + std::mem::take(&mut self.dropped);
        self.undelivered = 0;
        (self.waiting_since.take(), dropped)
    }

    /// Drops the oldest resolved alerts (by `ends_at`, then fingerprint)
    /// past [`MAX_RESOLVED`] in one pass; returns how many.
    fn trim(&mut self) -> u64 {
        let excess = self.resolved.len().saturating_sub(MAX_RESOLVED);
        if excess == 0 {
            return 0;
        }
        let mut by_age: Vec<(Option<i64>, String)> = self.resolved.iter().map(|(fp, p)| (p.ends_at, fp.clone())).collect();
        by_age.select_nth_unstable(excess - 1);
        for (_, fp) in &by_age[..excess] {
            self.resolved.remove(fp);
        }
        excess as u64
    }

    pub fn len(&self) -> usize {
        self.firing.len() + self.resolved.len()
    }
}

fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The sink's series on /metrics (registered once, in the pipeline's registry).
#[derive(Clone)]
pub struct SinkMetrics {
    pub failures: IntCounter,
    pub dropped: IntCounter,
    pub refused: IntCounter,
    pub latency_seconds: Histogram,
    pub owed: IntGauge,
}

impl SinkMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = SinkMetrics {
            failures: IntCounter::new("vbp_alertmanager_push_failures_total", "Failed posts to Alertmanager")?,
            dropped: IntCounter::new("vbp_alertmanager_dropped_total", "Resolved alerts dropped unsent past the bound")?,
            refused: IntCounter::new(
                "vbp_alertmanager_refused_total",
                "Alerts Alertmanager refused with a 4xx answer, sent to the dead-letter output",
            )?,
            latency_seconds: Histogram::with_opts(
                HistogramOpts::new("vbp_alertmanager_push_latency_seconds", "From an evaluation's transitions to Alertmanager accepting them")
                    .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0]),
            )?,
            owed: IntGauge::new("vbp_alertmanager_owed_alerts", "Alerts the sink keeps re-sending")?,
        };
        registry.register(Box::new(m.failures.clone()))?;
        registry.register(Box::new(m.dropped.clone()))?;
        registry.register(Box::new(m.refused.clone()))?;
        registry.register(Box::new(m.latency_seconds.clone()))?;
        registry.register(Box::new(m.owed.clone()))?;
        Ok(m)
    }
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
    pub fn start(url: &Url, generator_base: String, resend: Duration, owed: Owed, metrics: SinkMetrics) -> Self {
        let owed = Owed { undelivered: owed.len(), ..owed };
        let sink = Alertmanager { owed: Arc::new(Mutex::new(owed)), wake: Arc::new(Notify::new()), generator_base };
        let endpoint = format!("{}/api/v2/alerts", url.as_str().trim_end_matches('/'));
        tokio::spawn(post_loop(sink.clone(), endpoint, resend, metrics));
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
    /// How many transitions Alertmanager has not accepted yet (every
    /// alert restored from a checkpoint, until the first post).
    pub fn undelivered(&self) -> usize {
        self.owed.lock().map(|o| o.undelivered).unwrap_or(0)
    }

    pub fn owed(&self) -> Owed {
        self.owed.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Stops re-sending `alerts`, with no resolution: another instance
    /// answers for them now and sends them itself (same labels, so
    /// Alertmanager sees one alert).
    pub fn hand_over(&self, alerts: &[vbp_detectors::alert::Alert]) {
        if let Ok(mut owed) = self.owed.lock() {
            for alert in alerts {
                owed.firing.remove(&alert.fingerprint());
            }
        }
    }

    /// Takes the alerts Alertmanager refused, for the dead-letter output.
    pub fn take_refused(&self) -> Vec<Refused> {
        self.owed.lock().map(|mut o| std::mem::take(&mut o.refused)).unwrap_or_default()
    }
}

/// The most alerts one request carries. A first start, or thresholds set
/// too tight, can fire hundreds of thousands at once; one request with all
/// of them would outlast the timeout and be retried forever.
const ALERTS_PER_POST: usize = 1000;

/// What one request's answer means for the alerts it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Accepted,
    /// Alertmanager will not take (at least one of) these alerts, however
    /// often they are sent.
    Refused(String),
    /// Try again later: Alertmanager away, overloaded or misconfigured.
    Unavailable { reason: String, misconfigured: bool },
}

impl Answer {
    fn of(status: StatusCode, body: &str) -> Answer {
        let answer = format!("{status}: {}", body.trim().chars().take(500).collect::<String>());
        match status {
            s if s.is_success() => Answer::Accepted,
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNPROCESSABLE_ENTITY => Answer::Refused(answer),
            s if s.is_client_error() && s != StatusCode::TOO_MANY_REQUESTS && s != StatusCode::REQUEST_TIMEOUT => {
                Answer::Unavailable { reason: format!("Alertmanager answered {answer} (check the URL and credentials)"), misconfigured: true }
            }
            _ => Answer::Unavailable { reason: format!("Alertmanager answered {answer}"), misconfigured: false },
        }
    }
}

async fn post(client: &reqwest::Client, endpoint: &str, alerts: &[&Value]) -> Answer {
    match client.post(endpoint).json(alerts).send().await {
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            Answer::of(status, &body)
        }
        Err(e) => Answer::Unavailable { reason: format!("Alertmanager unreachable: {e}"), misconfigured: false },
    }
}

/// Why a round of posting stopped before everything was delivered.
struct Unavailable {
    reason: String,
    misconfigured: bool,
}

/// Posts `payload` in requests of at most [`ALERTS_PER_POST`] alerts. A
/// refused request is halved until each refused alert stands alone; those
/// are returned with Alertmanager's answer, everything else is delivered.
/// Stops at the first request that should be tried again (the next round
/// sends everything again, which Alertmanager takes as a refresh).
async fn post_all(
    client: &reqwest::Client,
    endpoint: &str,
    payload: &[(String, Value)],
) -> Result<Vec<(usize, String)>, Unavailable> {
    let mut refused = Vec::new();
    for start in (0..payload.len()).step_by(ALERTS_PER_POST) {
        let mut spans = vec![(start, (start + ALERTS_PER_POST).min(payload.len()))];
        while let Some((lo, hi)) = spans.pop() {
            let alerts: Vec<&Value> = payload[lo..hi].iter().map(|(_, a)| a).collect();
            match post(client, endpoint, &alerts).await {
                Answer::Accepted => {}
                Answer::Refused(answer) if hi - lo == 1 => refused.push((lo, answer)),
                Answer::Refused(_) => {
                    let mid = lo + (hi - lo) / 2;
                    spans.push((mid, hi));
                    spans.push((lo, mid));
                }
                Answer::Unavailable { reason, misconfigured } => return Err(Unavailable { reason, misconfigured }),
            }
        }
    }
    Ok(refused)
}

/// The first retry waits this long; each failure doubles it up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// `d` scaled by a random factor in [0.5, 1.5), so that many instances
/// retrying one Alertmanager after its restart do not arrive together.
fn jittered(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(0.5 + unit)
}

async fn post_loop(sink: Alertmanager, endpoint: String, resend: Duration, metrics: SinkMetrics) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
    let mut backoff = FIRST_BACKOFF;
    loop {
        let payload = match sink.owed.lock() {
            Ok(owed) => owed.payload(resend * 4, &sink.generator_base),
            Err(_) => return,
        };
        let result = post_all(&client, &endpoint, &payload).await;
        let pause = match result {
            Ok(refused) => {
                backoff = FIRST_BACKOFF;
                if let Ok(mut owed) = sink.owed.lock() {
                    for (i, answer) in refused {
                        let (fp, alert) = &payload[i];
                        tracing::warn!(fingerprint = %fp, "Alertmanager refused an alert ({answer}); it goes to the dead-letter output");
                        metrics.refused.inc();
                        owed.refuse(fp, alert, answer, &endpoint);
                    }
                    let (since, dropped) = owed.delivered();
                    if let Some(since) = since {
                        metrics.latency_seconds.observe(since.elapsed().as_secs_f64());
                    }
                    metrics.dropped.inc_by(dropped);
                    metrics.owed.set(owed.len() as i64);
                }
                resend
            }
            Err(Unavailable { reason, misconfigured }) => {
                metrics.failures.inc();
                if misconfigured {
                    backoff = MAX_BACKOFF;
                    tracing::error!("{reason}; retrying in {backoff:?}");
                } else {
                    tracing::warn!("{reason}; retrying in about {backoff:?}");
                }
                let pause = jittered(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
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
    use vbp_detectors::alert::{Alert, AlertName, Severity};

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
        assert_eq!(p[0].1["labels"]["alertname"], "PaymentOverdue");
        assert!(p[0].1["generatorURL"].as_str().unwrap().starts_with("http://x/alerts/"));
        owed.record(&[transition(Status::Resolved, Severity::Warning)], "http://x");
        let p = owed.payload(Duration::from_secs(240), "http://x");
        assert_eq!(p.len(), 1, "the resolution is still owed");
        assert!(p[0].1["endsAt"].as_str().unwrap() <= rfc3339(Utc::now().timestamp_millis()).as_str());
        owed.delivered();
        assert_eq!(owed.len(), 1, "re-sent for 15 minutes after delivery");
    }

    #[test]
    fn resolved_alerts_past_the_bound_are_dropped_oldest_first_while_alertmanager_is_away() {
        let mut owed = Owed::default();
        let n = MAX_RESOLVED + 5_000;
        let alerts: Vec<Transition> = (0..n)
            .map(|i| {
                let mut t = transition(Status::Firing, Severity::Warning);
                t.alert.labels.insert("institution_code".into(), format!("H{i:08}"));
                t
            })
            .collect();
        owed.record(&alerts, "http://x");
        let resolved: Vec<Transition> = alerts.iter().cloned().map(|t| Transition { status: Status::Resolved, ..t }).collect();
        let started = Instant::now();
        owed.record(&resolved[..5_000], "http://x");
        for p in owed.resolved.values_mut() {
            p.ends_at = Some(0); // the first 5,000 resolved long ago
        }
        owed.record(&resolved[5_000..], "http://x");
        assert_eq!(owed.resolved.len(), MAX_RESOLVED, "bounded before any post");
        assert!(owed.resolved.values().all(|p| p.ends_at != Some(0)), "the oldest went first");
        assert_eq!(owed.delivered().1, 5_000, "and are counted");
        assert!(started.elapsed() < Duration::from_secs(5), "one pass, not one per alert dropped: {:?}", started.elapsed());
    }

    #[test]
    fn a_severity_change_is_two_alerts() {
        let w = transition(Status::Firing, Severity::Warning).alert;
        let c = transition(Status::Firing, Severity::Critical).alert;
        assert_ne!(w.fingerprint(), c.fingerprint());
        assert_eq!(w.fingerprint(), w.clone().fingerprint());
    }

    #[test]
    fn only_answers_about_the_alerts_refuse_them() {
        for code in [400, 413, 422] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(matches!(Answer::of(status, "bad"), Answer::Refused(_)), "{code}");
        }
        for code in [401, 403, 404, 405] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(matches!(Answer::of(status, ""), Answer::Unavailable { misconfigured: true, .. }), "{code}");
        }
        for code in [408, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(code).unwrap();
            assert!(matches!(Answer::of(status, ""), Answer::Unavailable { misconfigured: false, .. }), "{code}");
        }
        assert_eq!(Answer::of(StatusCode::OK, ""), Answer::Accepted);
    }

    #[test]
    fn backoff_is_jittered_within_half_to_one_and_a_half() {
        let d = Duration::from_secs(8);
        let pauses: Vec<Duration> = (0..200).map(|_| jittered(d)).collect();
        assert!(pauses.iter().all(|p| *p >= d / 2 && *p < d * 3 / 2));
        let distinct: std::collections::BTreeSet<_> = pauses.iter().collect();
        assert!(distinct.len() > 100, "pauses should differ: {}", distinct.len());
    }

    #[tokio::test]
    async fn an_alert_handed_over_is_no_longer_re_sent_nor_resolved() {
        let metrics = SinkMetrics::register(&Registry::new()).unwrap();
        let sink = Alertmanager::start(&"http://127.0.0.1:9".parse().unwrap(), "http://x".into(), Duration::from_secs(60), Owed::default(), metrics);
        let firing = transition(Status::Firing, Severity::Warning);
        sink.send(std::slice::from_ref(&firing));
        assert_eq!(sink.owed().len(), 1);
        sink.hand_over(std::slice::from_ref(&firing.alert));
        assert_eq!(sink.owed().len(), 0, "neither re-sent as firing nor sent as resolved");
    }

    #[test]
    fn a_refused_alert_is_owed_no_more_and_becomes_a_dead_letter() {
        let mut owed = Owed::default();
        owed.record(&[transition(Status::Firing, Severity::Warning)], "http://x");
        let (fp, alert) = owed.payload(Duration::from_secs(240), "http://x").remove(0);
        owed.refuse(&fp, &alert, "400 Bad Request: invalid label set".into(), "http://am/api/v2/alerts");
        assert_eq!(owed.len(), 0);
        let letter = owed.refused[0].to_dead_letter();
        assert_eq!(letter.reason, Reason::RefusedByAlertmanager);
        assert!(letter.detail.contains("400 Bad Request"), "{}", letter.detail);
        let raw: Value = serde_json::from_slice(&letter.raw).unwrap();
        assert_eq!(raw["labels"]["alertname"], "PaymentOverdue");
    }
}
