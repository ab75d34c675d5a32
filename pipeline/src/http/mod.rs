//! The HTTP endpoints of live and demo mode (SPEC §9): `/metrics`
//! (Prometheus text format), `/healthz` (alive) and `/readyz` (its alerts
//! can be trusted: see [`Health::not_ready`]), `GET /api/alerts`, the alerts
//! firing now as SPEC §7 objects, and the execution report
//! ([`report`]: `/api/report`, `/report`, `/report.xlsx`, `/report.csv`). The driver publishes into [`Shared`];
//! handlers only read it, so a slow scrape never slows the pipeline.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::response::Html;
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};
use vbp_detectors::alert::{AlertName, Status};

use crate::engine::Engine;
use crate::metrics::Metrics;

pub mod access;
mod console;
mod history;
mod pages;
pub mod report;

use access::{Access, Viewer};
use report::PublishedReport;

/// What the driver publishes for the handlers.
pub struct Shared {
    pub metrics: Metrics,
    alerts: RwLock<Arc<Published>>,
    health: RwLock<Health>,
    /// Division code → name, for the page.
    division_names: RwLock<BTreeMap<String, String>>,
    /// The execution report at the last evaluation (SPEC §10).
    report: RwLock<Option<PublishedReport>>,
    /// The circular of the last evaluation's quarter so far (SPEC §11).
    circular: RwLock<Option<Arc<vbp_detectors::circular::Circular>>>,
    /// The tokens in force ([`access`]).
    access: RwLock<Access>,
    /// State-changing requests for the driver; the receiver until the
    /// driver takes it ([`Shared::take_commands`]).
    commands: tokio::sync::mpsc::Sender<Command>,
    command_receiver: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Command>>>,
    /// The pages' questions for whichever driver holds the engine.
    questions: tokio::sync::mpsc::Sender<Asked>,
    question_receiver: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Asked>>>,
    /// Hours an acknowledgement lasts by default; 0 while none can be made
    /// (no Alertmanager configured).
    acknowledgements: std::sync::atomic::AtomicU32,
}

/// The alerts firing at the last evaluation, as the pages show them.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub at: Option<DateTime<FixedOffset>>,
    pub alerts: Vec<PublishedAlert>,
}

#[derive(Debug, Clone)]
pub struct PublishedAlert {
    /// The SPEC §7 object of `/api/alerts`.
    pub json: Value,
    pub alert: vbp_detectors::alert::Alert,
    pub fingerprint: String,
    pub since: DateTime<FixedOffset>,
}

/// A question of the pages and where its answer goes.
#[derive(Debug)]
pub struct Asked {
    pub question: Question,
    pub reply: tokio::sync::oneshot::Sender<Answer>,
}

#[derive(Debug, Clone)]
pub enum Question {
    /// One firing alert's page: its evidence, and its incident's.
    Alert { fingerprint: String, viewer: Viewer },
    History { query: crate::triage::HistoryQuery, viewer: Viewer, limit: usize },
    /// Alerts firing at the end of each of the last `days` days.
    Trend { viewer: Viewer, days: i64 },
}

#[derive(Debug)]
pub enum Answer {
    Alert(crate::runner::AlertAnswer),
    History(Vec<crate::triage::HistoryRow>),
    Trend(Vec<(chrono::NaiveDate, usize)>),
}

/// The address of the client of a request (for "loopback only").
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// A state-changing request the driver carries out, with where its
/// answer goes.
#[derive(Debug)]
pub enum Command {
    /// `POST /-/reload`: load the reference directory again.
    Reload { reply: tokio::sync::oneshot::Sender<crate::live::ReloadOutcome> },
    /// Acknowledge a supply-break incident: an Alertmanager silence for it.
    Acknowledge {
        fingerprint: String,
        person: String,
        comment: String,
        hours: u32,
        reply: tokio::sync::oneshot::Sender<Result<crate::triage::Ack, String>>,
    },
}

/// How long a state-changing request waits for the driver's answer.
const COMMAND_WAIT: Duration = Duration::from_secs(300);

/// How long a page waits for the driver to answer its question (a busy
/// driver must not hold every connection).
const QUESTION_WAIT: Duration = Duration::from_secs(20);

/// The driver's last signs of life.
#[derive(Debug, Clone)]
pub struct Health {
    pub heartbeat: Instant,
    pub caught_up: bool,
    pub last_checkpoint: Option<Instant>,
    pub last_evaluation: Option<String>,
    /// Input partitions owned (live mode).
    pub partitions: Vec<i32>,
    /// Whether a Kafka broker was up at the last look; `None` without a
    /// broker (demo).
    pub broker_reachable: Option<bool>,
    /// Transitions Alertmanager has not accepted yet.
    pub alertmanager_undelivered: usize,
    /// Past this many, `/readyz` is not ready.
    pub ready_max_undelivered: usize,
    /// Why the last checkpoint could not be written (a full disk), until
    /// one is written again.
    pub checkpoint_failure: Option<String>,
}

impl Health {
    /// Why the driver is not ready, if it is not (empty: ready). Live and
    /// ready are separate: a pipeline catching up after downtime is alive
    /// and must not be restarted, but its alerts are not yet to be trusted.
    pub fn not_ready(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.heartbeat.elapsed() >= STUCK_AFTER {
            why.push(format!("the driver's loop has not turned for {} s", self.heartbeat.elapsed().as_secs()));
        }
        if self.broker_reachable == Some(false) {
            why.push("no Kafka broker is reachable".to_string());
        }
        if !self.caught_up {
            why.push("catching up: behind the end of the input".to_string());
        }
        if self.last_evaluation.is_none() {
            why.push("not evaluated yet".to_string());
        }
        if let Some(failure) = &self.checkpoint_failure {
            why.push(format!("checkpoints fail ({failure}): the last good one is kept, offsets are not committed past it"));
        }
        if self.alertmanager_undelivered > self.ready_max_undelivered {
            why.push(format!(
                "Alertmanager has not accepted {} alert transitions (more than {})",
                self.alertmanager_undelivered, self.ready_max_undelivered
            ));
        }
        why
    }
}

/// The default of [`Health::ready_max_undelivered`].
pub const READY_MAX_UNDELIVERED: usize = 1000;

/// The driver is considered stuck when its loop has not turned for this long.
const STUCK_AFTER: Duration = Duration::from_secs(120);

impl Shared {
    pub fn new(metrics: Metrics) -> Arc<Self> {
        let health = Health {
            heartbeat: Instant::now(),
            caught_up: false,
            last_checkpoint: None,
            last_evaluation: None,
            partitions: Vec::new(),
            broker_reachable: None,
            alertmanager_undelivered: 0,
            ready_max_undelivered: READY_MAX_UNDELIVERED,
            checkpoint_failure: None,
        };
        let (commands, command_receiver) = tokio::sync::mpsc::channel(4);
        let (questions, question_receiver) = tokio::sync::mpsc::channel(16);
        Arc::new(Shared {
            access: RwLock::new(Access::default()),
            commands,
            command_receiver: std::sync::Mutex::new(Some(command_receiver)),
            questions,
            question_receiver: std::sync::Mutex::new(Some(question_receiver)),
            acknowledgements: std::sync::atomic::AtomicU32::new(0),
            metrics,
            alerts: RwLock::new(Arc::new(Published::default())),
            health: RwLock::new(health),
            division_names: RwLock::new(BTreeMap::new()),
            report: RwLock::new(None),
            circular: RwLock::new(None),
        })
    }

    pub fn set_access(&self, access: Access) {
        if let Ok(mut slot) = self.access.write() {
            *slot = access;
        }
    }

    fn access(&self) -> Access {
        self.access.read().map(|a| a.clone()).unwrap_or_default()
    }

    /// The state-changing requests, for the driver that carries them out
    /// (live mode); until it is taken they are answered 404.
    pub fn take_commands(&self) -> tokio::sync::mpsc::Receiver<Command> {
        let taken = self.command_receiver.lock().ok().and_then(|mut slot| slot.take());
        taken.unwrap_or_else(|| tokio::sync::mpsc::channel(1).1)
    }

    fn takes_commands(&self) -> bool {
        self.command_receiver.lock().is_ok_and(|slot| slot.is_none())
    }

    /// The pages' questions, for the driver answering them now; give them
    /// back when it stops ([`Shared::give_back_questions`]).
    pub fn take_questions(&self) -> tokio::sync::mpsc::Receiver<Asked> {
        let taken = self.question_receiver.lock().ok().and_then(|mut slot| slot.take());
        taken.unwrap_or_else(|| tokio::sync::mpsc::channel(1).1)
    }

    pub fn give_back_questions(&self, receiver: tokio::sync::mpsc::Receiver<Asked>) {
        if let Ok(mut slot) = self.question_receiver.lock() {
            *slot = Some(receiver);
        }
    }

    /// Asks the driver; `None` when it did not answer within [`QUESTION_WAIT`].
    pub async fn ask(&self, question: Question) -> Option<Answer> {
        self.ask_within(question, QUESTION_WAIT).await
    }

    /// [`Shared::ask`], waiting at most `wait` (for what a page can do without).
    pub async fn ask_within(&self, question: Question, wait: Duration) -> Option<Answer> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        tokio::time::timeout(wait, self.questions.send(Asked { question, reply })).await.ok()?.ok()?;
        tokio::time::timeout(wait, answer).await.ok()?.ok()
    }

    /// Acknowledgements can be made (live mode with an Alertmanager),
    /// lasting `hours` unless the form says.
    pub fn offer_acknowledgements(&self, hours: u32) {
        self.acknowledgements.store(hours.max(1), std::sync::atomic::Ordering::SeqCst);
    }

    /// The default hours of an acknowledgement, when one can be made.
    fn acknowledgement_hours(&self) -> Option<u32> {
        let hours = self.acknowledgements.load(std::sync::atomic::Ordering::SeqCst);
        (hours > 0 && self.access().allows_changes()).then_some(hours)
    }

    /// Who a request comes from, or the refusal to send.
    fn viewer(&self, headers: &axum::http::HeaderMap, peer: Option<Peer>) -> Result<Viewer, Response> {
        self.access().viewer(headers, peer.map(|p| p.0))
    }

    pub fn set_division_names(&self, names: BTreeMap<String, String>) {
        let list: Vec<(String, String)> = names.iter().map(|(c, n)| (c.clone(), n.clone())).collect();
        self.metrics.set_division_names(&list);
        if let Ok(mut slot) = self.division_names.write() {
            *slot = names;
        }
    }

    fn division_name(&self, code: &str) -> String {
        self.division_names.read().ok().and_then(|n| n.get(code).cloned()).unwrap_or_default()
    }

    fn division_names(&self) -> BTreeMap<String, String> {
        self.division_names.read().map(|n| n.clone()).unwrap_or_default()
    }

    /// The circular of the last evaluation's quarter, if kept.
    pub fn circular(&self) -> Option<Arc<vbp_detectors::circular::Circular>> {
        self.circular.read().ok().and_then(|c| c.clone())
    }

    /// The report of the last evaluation, if there was one.
    pub fn report(&self) -> Option<PublishedReport> {
        self.report.read().ok().and_then(|r| r.clone())
    }

    /// Publishes what an engine holds: the firing alerts for /api/alerts
    /// and the page, and the gauges; `evaluated` when it just evaluated at
    /// `at` (rather than being restored from a checkpoint).
    pub fn publish_engine<O>(&self, engine: &Engine<O>, at: DateTime<FixedOffset>, evaluated: bool) {
        let metrics = &self.metrics;
        metrics.alerts_firing.reset();
        metrics.alerts_abridged.reset();
        for name in AlertName::ALL {
            metrics.alerts_abridged.with_label_values(&[name.as_str()]).set(0);
        }
        let mut alerts = Vec::new();
        for f in engine.book().firing() {
            if f.alert.annotations.contains_key("abridged") {
                metrics.alerts_abridged.with_label_values(&[f.alert.name.as_str()]).inc();
            }
            let division = |l: &str| f.alert.labels.get(l).map(String::as_str).unwrap_or("");
            metrics
                .alerts_firing
                .with_label_values(&[f.alert.name.as_str(), f.alert.severity.as_str(), division("city_code"), division("division_code")])
                .inc();
            alerts.push(PublishedAlert {
                json: f.alert.to_json(at, Status::Firing),
                fingerprint: f.alert.fingerprint(),
                since: f.since,
                alert: f.alert.clone(),
            });
        }
        self.publish_alerts(Published { at: Some(at), alerts });
        if let Some(rollups) = &engine.rollups {
            metrics.set_rollups(rollups);
        }
        let rows = engine.report(vbp_detectors::time::local_date(at), |_| true);
        metrics.set_report_counts(&vbp_detectors::report::outcome_counts(&rows));
        if let (Some(rollups), Some(_)) = (&engine.rollups, &engine.fired_log) {
            let quarter = vbp_detectors::circular::Quarter::of(vbp_detectors::time::local_date(at));
            let circular = crate::circular::of_engine(engine, quarter, at, &rows, rollups);
            if let Ok(mut slot) = self.circular.write() {
                *slot = Some(Arc::new(circular));
            }
        }
        if let Ok(mut slot) = self.report.write() {
            *slot = Some(PublishedReport { at, rows: Arc::new(rows) });
        }
        let (held, remembered) = engine.pending();
        metrics.set_state_sizes(&engine.sizes(), held, remembered);
        if let Some(latest) = engine.stats.latest_event {
            metrics.watermark_seconds.set(latest as f64 / 1e6);
        }
        if evaluated {
            metrics.evaluation_seconds.observe(engine.last_evaluation_seconds);
            metrics.last_evaluation_seconds.set(chrono::Utc::now().timestamp_millis() as f64 / 1e3);
            self.update_health(|h| {
                h.heartbeat = Instant::now();
                h.last_evaluation = Some(at.to_rfc3339());
            });
        }
    }

    pub fn publish_alerts(&self, published: Published) {
        if let Ok(mut slot) = self.alerts.write() {
            *slot = Arc::new(published);
        }
    }

    /// What the last evaluation published.
    pub fn published(&self) -> Arc<Published> {
        self.alerts.read().map(|a| Arc::clone(&a)).unwrap_or_default()
    }

    /// The SPEC §7 objects of the alerts firing now.
    pub fn alerts(&self) -> Vec<Value> {
        self.published().alerts.iter().map(|a| a.json.clone()).collect()
    }

    pub fn update_health(&self, change: impl FnOnce(&mut Health)) {
        if let Ok(mut health) = self.health.write() {
            change(&mut health);
        }
    }

    pub fn health(&self) -> Option<Health> {
        self.health.read().ok().map(|h| h.clone())
    }
}

/// Binds `addr` and serves until the process ends; returns the bound
/// address (port 0 picks a free one).
/// The HTTP server cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} (is another process on that port? choose another with --http-listen or http_listen): {source}")]
pub struct HttpError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// How the server bounds its connections, so that clients sending their
/// headers slowly or holding connections idle cannot keep descriptors for
/// long, and no number of them starves `/healthz` or leaves the process
/// without file descriptors for its checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this, else the connection closes.
    pub header_read: Duration,
    /// A connection closes this long after it opened, idle or not
    /// (keep-alive clients such as Prometheus simply reconnect).
    pub lifetime: Duration,
    /// Connections served at once; more wait in the listen backlog, which
    /// holds no descriptor of this process.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits { header_read: Duration::from_secs(5), lifetime: Duration::from_secs(60), max_connections: 64 }
    }
}

pub async fn serve(addr: SocketAddr, shared: Arc<Shared>) -> Result<SocketAddr, HttpError> {
    serve_with(addr, shared, ConnectionLimits::default()).await
}

/// [`serve`] with other connection limits (tests).
pub async fn serve_with(addr: SocketAddr, shared: Arc<Shared>, limits: ConnectionLimits) -> Result<SocketAddr, HttpError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| HttpError { addr, source })?;
    let bound = listener.local_addr().map_err(|source| HttpError { addr, source })?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/alerts", get(alerts))
        .route("/", get(console::page))
        .route("/alerts/{fingerprint}", get(pages::alert))
        .route("/api/alerts/{fingerprint}", get(pages::alert_json))
        .route("/incidents/{fingerprint}", get(pages::incident))
        .route("/incidents/{fingerprint}/acknowledge", axum::routing::post(pages::acknowledge))
        .route("/history", get(history::page))
        .route("/api/history", get(history::api))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/api/report", get(report::api))
        .route("/report", get(report::page))
        .route("/report.xlsx", get(report::xlsx))
        .route("/report.csv", get(report::csv))
        .route("/circular", get(circular_page))
        .route("/-/reload", axum::routing::post(reload))
        .with_state(shared);
    tokio::spawn(accept(listener, app, limits));
    tracing::info!(%bound, "serving /metrics, /healthz, /api/alerts, /api/report, /report");
    Ok(bound)
}

/// Accepts connections while fewer than `limits.max_connections` are open,
/// and serves each within its header and lifetime limits.
async fn accept(listener: tokio::net::TcpListener, app: Router, limits: ConnectionLimits) {
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::warn!("cannot accept an HTTP connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = stream.peer_addr().ok().map(Peer);
        let app = match peer {
            Some(peer) => app.clone().layer(axum::Extension(peer)),
            None => app.clone(),
        };
        let service = hyper_util::service::TowerToHyperService::new(app);
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            // Past its lifetime the connection is dropped, which closes it.
            let _ = tokio::time::timeout(limits.lifetime, connection).await;
            drop(permit);
        });
    }
}

/// `POST /-/reload` (with the provincial token): the driver loads the
/// reference directory again and answers what it did (200 applied or
/// unchanged, 422 with every problem when the files are refused).
async fn reload(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> Response {
    if let Err(refusal) = shared.access().may_change_state_by_bearer(&headers) {
        return refusal;
    }
    if !shared.takes_commands() {
        return (StatusCode::NOT_FOUND, "this mode has no reference reload (vbp-watch run has)").into_response();
    }
    let (reply, answer) = tokio::sync::oneshot::channel();
    if shared.commands.send(Command::Reload { reply }).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the pipeline is shutting down").into_response();
    }
    match tokio::time::timeout(COMMAND_WAIT, answer).await {
        Ok(Ok(outcome)) => {
            let status = match outcome {
                crate::live::ReloadOutcome::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::OK,
            };
            (status, Json(outcome)).into_response()
        }
        Ok(Err(_)) => (StatusCode::SERVICE_UNAVAILABLE, "the pipeline stopped before answering").into_response(),
        Err(_) => (StatusCode::GATEWAY_TIMEOUT, "no answer within 300 s; see the pipeline's log").into_response(),
    }
}

/// `GET /metrics`: every division's series, so for the provincial or the
/// metrics token (or loopback when no token is configured).
async fn metrics(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap, peer: Option<axum::Extension<Peer>>) -> Response {
    match shared.viewer(&headers, peer.map(|p| p.0)) {
        Ok(viewer) if viewer.reads_metrics() => {}
        Ok(_) => return (StatusCode::FORBIDDEN, "/metrics holds every division's series: the provincial or the metrics token reads it").into_response(),
        Err(refusal) => return refusal,
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], shared.metrics.render()).into_response()
}

/// `GET /api/alerts`: the alerts firing now that the viewer may see.
async fn alerts(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap, peer: Option<axum::Extension<Peer>>) -> Response {
    let viewer = match shared.viewer(&headers, peer.map(|p| p.0)) {
        Ok(v) => v,
        Err(refusal) => return refusal,
    };
    let published = shared.published();
    let mine: Vec<&Value> = published.alerts.iter().filter(|a| viewer.sees_labels(&a.alert.all_labels())).map(|a| &a.json).collect();
    Json(mine).into_response()
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let Some(h) = shared.health() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "health unavailable").into_response();
    };
    let alive = h.heartbeat.elapsed() < STUCK_AFTER;
    let body = json!({
        "status": if alive { "ok" } else { "stuck" },
        "caught_up": h.caught_up,
        "seconds_since_loop": h.heartbeat.elapsed().as_secs(),
        "seconds_since_checkpoint": h.last_checkpoint.map(|t| t.elapsed().as_secs()),
        "last_evaluation": h.last_evaluation,
        "partitions": h.partitions,
    });
    let status = if alive { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// Ready: alive, the broker reachable, caught up, evaluated, and
/// Alertmanager not owed too much (503 with the reasons otherwise).
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let Some(h) = shared.health() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "health unavailable").into_response();
    };
    let why = h.not_ready();
    let body = json!({
        "status": if why.is_empty() { "ready" } else { "not_ready" },
        "reasons": why,
        "broker_reachable": h.broker_reachable,
        "caught_up": h.caught_up,
        "last_evaluation": h.last_evaluation,
        "alertmanager_undelivered": h.alertmanager_undelivered,
    });
    let status = if why.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

#[derive(Debug, Default, serde::Deserialize)]
struct CircularQuery {
    quarter: Option<String>,
}

/// `GET /circular`: the circular of the current quarter so far (a draft
/// until the quarter's last instant has been evaluated).
async fn circular_page(
    State(shared): State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    axum::extract::Query(query): axum::extract::Query<CircularQuery>,
) -> Response {
    match shared.viewer(&headers, peer.map(|p| p.0)) {
        Ok(viewer) if viewer.sees_province() => {}
        Ok(_) => return (StatusCode::FORBIDDEN, "the circular is the provincial centre's: a bureau token does not see it").into_response(),
        Err(refusal) => return refusal,
    }
    let Some(circular) = shared.circular() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no evaluation yet, or this instance keeps no circular").into_response();
    };
    if let Some(asked) = query.quarter.as_deref().filter(|q| !q.is_empty()) {
        match asked.parse::<vbp_detectors::circular::Quarter>() {
            Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
            Ok(q) if q != circular.quarter => {
                let message = format!(
                    "this instance holds the circular of {} (its last evaluation); the circular of {q} comes from \
                     `vbp-watch circular --quarter {q}` over the events",
                    circular.quarter
                );
                return (StatusCode::UNPROCESSABLE_ENTITY, message).into_response();
            }
            Ok(_) => {}
        }
    }
    let final_ = circular.at >= circular.quarter.last_instant();
    Html(crate::circular::page::render(&circular, final_).into_string()).into_response()
}

