//! The runner: the one place where an input becomes state and an
//! evaluation becomes published transitions, for every mode.
//!
//! ```text
//! input (raw bytes or a decoded event, with its origin O)
//!   │ take, take_all (replay), take_messages (live)
//!   ▼
//! decode ─► Engine::ingest ─► Fate (applied, waiting, duplicate, rejected)
//!   │ rejection                    │ rejections (its own, or released events')
//!   └──────────────┬───────────────┘
//!                  ▼
//!           dead-letter sink (a file in replay and demo, vbp.dead-letter live)
//!
//! Clock: an evaluation instant T, and the Watermark of the input
//!   │ evaluate(T, watermark)
//!   ▼
//! expire orphans older than watermark − timeout ─► dead-letter sink
//! Engine::evaluate(T) ─► transitions ─► NDJSON file, Alertmanager, /api/alerts and /metrics
//! ```
//!
//! `replay`, `demo` and `run` build a runner with their own sinks and drive
//! it from their own clock ([`clock`]); none of them expires orphans, calls
//! the engine's evaluation or publishes on its own, so those rules exist
//! once. What stays in a driver is only what its source needs: the two
//! passes of replay over files, the Kafka positions, checkpoints and
//! partition ownership of live mode.

pub mod clock;
mod questions;

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use datafusion::error::DataFusionError;
use vbp_detectors::alert::Transition;
use vbp_detectors::state::Micros;
use vbp_schemas::{decode, DeadLetter, DecodeLimits, Event, Source};

use crate::engine::{Engine, Fate, Ingested, Keyed, Rejected};
use crate::http::Shared;
use crate::metrics::Metrics;
use crate::sinks::alertmanager::Alertmanager;
use crate::sinks::ndjson::NdjsonSinkError;
use crate::sinks::NdjsonSink;
use crate::sources::ndjson::{LineOrigin, NdjsonFiles, NdjsonSourceError};

pub use clock::{EventClock, Watermark};
pub use questions::{under, AlertAnswer, AlertPage, IncidentPage};

/// How long resolved alerts stay in the history by default.
pub const HISTORY_DAYS: u32 = 400;

/// What stops a runner. Rejected input never does (it is a dead letter);
/// an output that cannot be written, or an evaluation that fails, does.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot write to the dead-letter output: {0}")]
    DeadLetters(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("cannot write the alert transitions: {0}")]
    Transitions(#[source] NdjsonSinkError),
    #[error("the evaluation at {at} failed: {source}")]
    Evaluation {
        at: DateTime<FixedOffset>,
        #[source]
        source: DataFusionError,
    },
}

/// An origin that carries the input's original bytes (a Kafka message).
pub trait RawMessage {
    fn raw(&self) -> &[u8];
}

/// Where rejected inputs go, with their original bytes (SPEC §4).
pub trait DeadLetterSink<O> {
    type Error: std::error::Error + Send + Sync + 'static;
    /// A rejected input, with its origin.
    fn write(&mut self, rejected: Rejected<O>) -> Result<(), Self::Error>;
    /// A record of no input: an alert Alertmanager refused.
    fn write_record(&mut self, record: &DeadLetter) -> Result<(), Self::Error>;
}

/// Why [`FileDeadLetters`] cannot write a dead letter.
#[derive(Debug, thiserror::Error)]
pub enum FileDeadLettersError {
    #[error(transparent)]
    Source(#[from] NdjsonSourceError),
    #[error(transparent)]
    Sink(#[from] NdjsonSinkError),
}

/// The most bytes of an input line a dead letter keeps: a 200 MB line
/// would otherwise write a dead letter as large, several times over once
/// escaped. Four times the default `--max-message-bytes`.
pub const DEAD_LETTER_RAW_BYTES: u32 = 256 * 1024;

/// Dead letters of NDJSON files, to an NDJSON file: the original line is
/// read back from its position, so nothing but positions is kept meanwhile.
pub struct FileDeadLetters {
    files: Arc<NdjsonFiles>,
    out: NdjsonSink,
}

impl FileDeadLetters {
    pub fn new(files: Arc<NdjsonFiles>, out: NdjsonSink) -> Self {
        FileDeadLetters { files, out }
    }

    pub fn finish(&mut self) -> Result<(), NdjsonSinkError> {
        self.out.finish()
    }

    pub fn files(&self) -> &Arc<NdjsonFiles> {
        &self.files
    }
}

impl DeadLetterSink<LineOrigin> for FileDeadLetters {
    type Error = FileDeadLettersError;

    fn write(&mut self, r: Rejected<LineOrigin>) -> Result<(), FileDeadLettersError> {
        let kept = LineOrigin { len: r.origin.len.min(DEAD_LETTER_RAW_BYTES), ..r.origin };
        let raw = self.files.raw(&kept)?;
        let mut rejection = r.rejection;
        if kept.len < r.origin.len {
            let (kept, all) = (kept.len, r.origin.len);
            rejection.detail.push_str(&format!(" (this dead letter keeps the first {kept} of the line's {all} bytes)"));
        }
        let source = Source::File { file: self.files.path(&r.origin).display().to_string(), line: r.origin.line };
        self.write_record(&DeadLetter::new(rejection, source, raw))
    }

    fn write_record(&mut self, record: &DeadLetter) -> Result<(), FileDeadLettersError> {
        Ok(self.out.write_line(&record.to_json_line())?)
    }
}

/// Where a runner's results go besides its dead letters.
#[derive(Default)]
pub struct Outputs {
    /// Every transition, one SPEC §7 object per line (replay, demo).
    pub transitions: Option<NdjsonSink>,
    /// Firing and resolved alerts pushed to Alertmanager.
    pub alertmanager: Option<Alertmanager>,
    /// The HTTP pages and /metrics of demo and live mode.
    pub http: Option<Arc<Shared>>,
    /// The metrics of a mode without HTTP (replay `--metrics-out`).
    pub metrics: Option<Metrics>,
}

/// The engine with its sinks; see the module doc.
pub struct Runner<O, D> {
    pub engine: Engine<O>,
    /// The history, incident timelines and acknowledgements, kept up to
    /// date at each evaluation ([`crate::triage`]).
    pub triage: crate::triage::Triage,
    /// How long resolved alerts stay in the history.
    pub history_retention: chrono::Duration,
    /// The instant of the last evaluation, which the pages' evidence is of.
    pub last_evaluation: Option<DateTime<FixedOffset>>,
    dead_letters: D,
    outputs: Outputs,
    limits: DecodeLimits,
}

impl<O, D: DeadLetterSink<O>> Runner<O, D> {
    pub fn new(engine: Engine<O>, dead_letters: D, outputs: Outputs, limits: DecodeLimits) -> Self {
        Runner {
            engine,
            triage: crate::triage::Triage::default(),
            history_retention: chrono::Duration::days(i64::from(HISTORY_DAYS)),
            last_evaluation: None,
            dead_letters,
            outputs,
            limits,
        }
    }

    pub fn http(&self) -> Option<&Arc<Shared>> {
        self.outputs.http.as_ref()
    }

    /// The registry the counters go to: the served one, else replay's own.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.outputs.http.as_ref().map(|h| &h.metrics).or(self.outputs.metrics.as_ref())
    }

    pub fn alertmanager(&self) -> Option<&Alertmanager> {
        self.outputs.alertmanager.as_ref()
    }

    pub fn dead_letters_mut(&mut self) -> &mut D {
        &mut self.dead_letters
    }

    /// Takes one event decoded already (replay's second pass).
    pub fn take(&mut self, event: Event, origin: O) -> Result<Fate, RunnerError>
    where
        O: Keyed,
    {
        let ingested = self.engine.ingest(event, origin);
        self.settle(ingested)
    }

    /// Takes a run of decoded events in order, which the engine's shards
    /// apply side by side; the dead letters are written in input order.
    pub fn take_all(&mut self, events: Vec<(Event, O)>) -> Result<Vec<Fate>, RunnerError>
    where
        O: Keyed + Send,
    {
        self.engine.ingest_all(events).into_iter().map(|ingested| self.settle(ingested)).collect()
    }

    /// Decodes and takes a run of messages as they arrived (live mode: a
    /// burst from the consumer); returns each one's fate, in order.
    pub fn take_messages(&mut self, messages: Vec<O>) -> Result<Vec<Fate>, RunnerError>
    where
        O: RawMessage + Keyed + Send,
    {
        let mut fates: Vec<Option<Fate>> = Vec::with_capacity(messages.len());
        let mut decoded = Vec::with_capacity(messages.len());
        for message in messages {
            self.engine.stats.read += 1;
            match decode(message.raw(), &self.limits) {
                Ok(event) => {
                    fates.push(None);
                    decoded.push((event, message));
                }
                Err(rejection) => {
                    let ingested = self.engine.undecodable(message, rejection);
                    fates.push(Some(self.settle(ingested)?));
                }
            }
        }
        let mut taken = self.take_all(decoded)?.into_iter();
        Ok(fates.into_iter().map(|f| f.or_else(|| taken.next()).unwrap_or(Fate::Applied)).collect())
    }

    /// Sends an input that did not decode to the dead-letter output.
    pub fn reject_undecodable(&mut self, origin: O, rejection: vbp_schemas::Rejection) -> Result<(), RunnerError> {
        let ingested = self.engine.undecodable(origin, rejection);
        self.settle(ingested).map(|_| ())
    }

    fn settle(&mut self, ingested: Ingested<O>) -> Result<Fate, RunnerError> {
        self.dead_letter(ingested.rejected)?;
        Ok(ingested.fate)
    }

    fn dead_letter(&mut self, rejected: Vec<Rejected<O>>) -> Result<(), RunnerError> {
        for r in rejected {
            self.count_rejection(r.rejection.reason);
            self.dead_letters.write(r).map_err(|e| RunnerError::DeadLetters(Box::new(e)))?;
        }
        Ok(())
    }

    /// `vbp_rejected_total{reason}`, where metrics are kept.
    fn count_rejection(&self, reason: vbp_schemas::Reason) {
        if let Some(metrics) = self.metrics() {
            metrics.rejected.with_label_values(&[reason.code()]).inc();
        }
    }

    /// Evaluates every rule at `at` once the input is complete up to
    /// `watermark`: what waited longer than the orphan timeout before the
    /// watermark is rejected first, then the transitions are published to
    /// every output and returned (live mode also logs them durably).
    pub async fn evaluate(&mut self, at: DateTime<FixedOffset>, watermark: Watermark) -> Result<Vec<Transition>, RunnerError> {
        self.expire_orphans(watermark)?;
        let transitions = self.engine.evaluate(at).await.map_err(|source| RunnerError::Evaluation { at, source })?;
        self.triage.observe(at, &transitions, self.engine.book(), self.history_retention);
        self.last_evaluation = Some(at);
        if let Some(out) = &mut self.outputs.transitions {
            for t in &transitions {
                out.write_line(&t.to_json().to_string()).map_err(RunnerError::Transitions)?;
            }
        }
        if let Some(am) = &self.outputs.alertmanager {
            am.send(&transitions);
        }
        self.dead_letter_refused_alerts()?;
        if let Some(http) = &self.outputs.http {
            http.publish_engine(&self.engine, at, true);
        }
        Ok(transitions)
    }

    /// Passes `at` without evaluating the rules, when no output wants the
    /// transitions of that instant (replay `--as-of` without
    /// `--alerts-out`): orphans expire and retention sweeps exactly as
    /// [`Runner::evaluate`] would, so the state a later evaluation reads,
    /// and the dead letters, are the same bytes.
    pub fn pass(&mut self, at: DateTime<FixedOffset>, watermark: Watermark) -> Result<(), RunnerError> {
        self.expire_orphans(watermark)?;
        self.engine.sweep(at);
        Ok(())
    }

    /// What waited longer than the orphan timeout before the watermark, to
    /// the dead letters.
    fn expire_orphans(&mut self, watermark: Watermark) -> Result<(), RunnerError> {
        if let Watermark::At(complete_to) = watermark {
            let orphans = self.engine.expire_orphans(complete_to);
            self.dead_letter(orphans)?;
        }
        Ok(())
    }

    /// Writes the alerts Alertmanager refused since the last call to the
    /// dead-letter output (at each evaluation, and before a checkpoint).
    pub fn dead_letter_refused_alerts(&mut self) -> Result<(), RunnerError> {
        let Some(am) = &self.outputs.alertmanager else { return Ok(()) };
        for refused in am.take_refused() {
            self.count_rejection(vbp_schemas::Reason::RefusedByAlertmanager);
            self.dead_letters.write_record(&refused.to_dead_letter()).map_err(|e| RunnerError::DeadLetters(Box::new(e)))?;
        }
        Ok(())
    }

    /// The input ended (replay, demo): whatever still waits is an orphan.
    pub fn end_of_input(&mut self) -> Result<(), RunnerError> {
        let orphans = self.engine.drain_orphans();
        self.dead_letter(orphans)
    }

    /// Flushes the transition file (the dead-letter sink is the driver's).
    pub fn finish(&mut self) -> Result<(), RunnerError> {
        self.dead_letter_refused_alerts()?;
        match &mut self.outputs.transitions {
            Some(out) => out.finish().map_err(RunnerError::Transitions),
            None => Ok(()),
        }
    }

    /// Answers the pages' questions for `pause` (demo: between simulated
    /// days), or at once when there is nothing to wait for.
    pub async fn answer_for(&mut self, pause: std::time::Duration) {
        let Some(http) = self.outputs.http.clone() else {
            tokio::time::sleep(pause).await;
            return;
        };
        let deadline = tokio::time::Instant::now() + pause;
        let mut questions = http.take_questions();
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                Some(asked) = questions.recv() => self.answer(asked),
            }
        }
        http.give_back_questions(questions);
    }

    /// Answers the pages' questions until `until` resolves (demo, once
    /// its stream is done).
    pub async fn answer_until(&mut self, until: impl std::future::Future<Output = ()>) {
        let Some(http) = self.outputs.http.clone() else {
            until.await;
            return;
        };
        let mut questions = http.take_questions();
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => break,
                Some(asked) = questions.recv() => self.answer(asked),
            }
        }
        http.give_back_questions(questions);
    }

    /// The newest event time taken, if any.
    pub fn latest_event(&self) -> Option<Micros> {
        self.engine.stats.latest_event
    }
}
