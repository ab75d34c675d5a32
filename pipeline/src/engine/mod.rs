//! The engine: one straight line from a decoded event to alert transitions.
//!
//! ```text
//! decoded event ─► dedup ─► hold until its order/delivery arrives ─► state ─► evaluate at T ─► alert book
//!                     │            │ (orphan after timeout)            │ rejection
//!                     ▼            ▼                                   ▼
//!                  counted      dead letter                        dead letter
//! ```
//!
//! Replay, demo and live mode drive the same engine; they differ only in
//! where events come from, which clock picks T, and where outputs go. The
//! engine knows nothing of files or Kafka: each event travels with an opaque
//! origin `O` that comes back with its rejection so the driver can write the
//! original bytes to the dead-letter output.

mod held;
mod snapshot;
mod stats;

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use datafusion::error::DataFusionError;
use tracing::instrument;
use vbp_detectors::alert::{Alert, AlertBook, AlertName, Transition};
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::rollups::{self, Rollups};
use vbp_detectors::rules;
use vbp_detectors::tables::{Need, StaticTables};
use vbp_detectors::state::{Awaited, Micros, Outcome, State};
use vbp_schemas::{Event, EventBody, Reason, Rejection};

use crate::stage::{FactChange, KeyOwnership, SupplyStage};

pub use held::{Held, HeldEvent};
pub use snapshot::{EngineSnapshot, EngineSnapshotRef};
pub use stats::Stats;

const DAY_MICROS: Micros = 24 * 3_600 * 1_000_000;

/// Default `orphan_timeout`: 7 days of event time (SPEC §4).
pub const DEFAULT_ORPHAN_TIMEOUT_MICROS: Micros = 7 * DAY_MICROS;

/// How long finished business and seen `event_id`s are remembered, in event
/// time. Beyond it an order line that is delivered and accepted, a delivery
/// that is paid, and an id, are forgotten: memory follows open business,
/// not the number of events ever seen. A repeat older than this is not
/// caught by the id set — in live mode committed Kafka offsets already keep
/// the consumer from reading it again, and replay applies events sorted, so
/// exact repeats are adjacent.
pub const DEFAULT_RETENTION_MICROS: Micros = 35 * DAY_MICROS;

/// How far the retention horizon moves before finished business and old
/// ids are swept out: a sweep walks every remembered id and line, so it
/// runs weekly in event time rather than at every evaluation, and memory
/// holds at most retention + one week.
const SWEEP_EVERY_MICROS: Micros = 7 * DAY_MICROS;

/// The `event_id`s remembered for de-duplication, by digest: 16 bytes and no
/// allocation per id instead of a string (15 M ids at province scale).
pub type SeenIds = vbp_detectors::FastMap<u128, Micros>;

/// An `event_id`'s digest: 128-bit SipHash-1-3 under fixed keys, the same
/// in every process and version, so a checkpoint's ids stay comparable.
pub fn id_digest(id: &str) -> u128 {
    siphasher::sip128::SipHasher13::new_with_keys(0x7662_702d_7761_7463, 0x6820_6576_656e_7473)
        .hash(id.as_bytes()).as_u128()
}

/// A rejected event with its origin, for the dead-letter output.
#[derive(Debug, Clone)]
pub struct Rejected<O> {
    pub origin: O,
    pub rejection: Rejection,
}

/// What became of one ingested input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It changed the state (and may have released waiting events).
    Applied,
    /// It refers to an order or delivery not seen yet, and waits for it
    /// until the orphan timeout.
    Waiting,
    /// Its `event_id` was seen before: counted and ignored.
    Duplicate,
    /// It goes to the dead-letter output, for this reason.
    Rejected(Reason),
}

impl Fate {
    /// The `outcome` label of `vbp_events_total`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Fate::Applied => "applied",
            Fate::Waiting => "waiting",
            Fate::Duplicate => "duplicate",
            Fate::Rejected(_) => "rejected",
        }
    }
}

/// An input's fate, with every rejection it caused (its own, or those of
/// waiting events it released), each with its origin.
#[derive(Debug)]
#[must_use = "rejections must reach the dead-letter output"]
pub struct Ingested<O> {
    pub fate: Fate,
    pub rejected: Vec<Rejected<O>>,
}

/// The order in which events apply: event time, then causal type order
/// (an order before its delivery at the same instant), then id — a total
/// order, so any arrival order of the same events gives the same state.
pub fn event_order(a: &Event, b: &Event) -> Ordering {
    (a.occurred_at.timestamp_micros(), a.body.event_type(), &a.event_id).cmp(&(
        b.occurred_at.timestamp_micros(),
        b.body.event_type(),
        &b.event_id,
    ))
}

pub struct Engine<O> {
    reference: Arc<ReferenceData>,
    config: DetectorConfig,
    statics: StaticTables,
    state: State,
    /// `event_id` → event time, for de-duplication within the retention.
    seen: SeenIds,
    held: Held<O>,
    book: AlertBook,
    orphan_timeout: Micros,
    pub stats: Stats,
    /// Compute the dashboards' roll-ups at each evaluation (demo, live).
    pub want_rollups: bool,
    /// The roll-ups of the last evaluation, when wanted.
    pub rollups: Option<Rollups>,
    /// Wall-clock seconds the last evaluation took.
    pub last_evaluation_seconds: f64,
    /// The retention horizon of the last sweep.
    swept_to: Micros,
    /// The supply-break stage: the (city, product) keys this engine
    /// answers for, and the facts heard from other instances.
    pub stage: SupplyStage,
    /// Keep [`Engine::take_fact_changes`] filled for `vbp.facts` (live mode
    /// with other instances in the group).
    pub publish_facts: bool,
    /// At the next evaluation, publish every fact, not only the changes.
    pub republish_facts: bool,
    fact_changes: Vec<FactChange>,
}

impl<O> Engine<O> {
    pub fn new(reference: Arc<ReferenceData>, config: DetectorConfig) -> Result<Self, DataFusionError> {
        let state = State::new(&reference);
        let statics = StaticTables::build(&reference, &config)?;
        Ok(Engine {
            reference,
            config,
            statics,
            state,
            seen: SeenIds::default(),
            held: Held::default(),
            book: AlertBook::default(),
            orphan_timeout: DEFAULT_ORPHAN_TIMEOUT_MICROS,
            stats: Stats::default(),
            want_rollups: false,
            rollups: None,
            last_evaluation_seconds: 0.0,
            swept_to: Micros::MIN,
            stage: SupplyStage::default(),
            publish_facts: false,
            republish_facts: false,
            fact_changes: Vec::new(),
        })
    }

    pub fn statics(&self) -> &StaticTables {
        &self.statics
    }

    pub fn reference(&self) -> &ReferenceData {
        &self.reference
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    pub fn book(&self) -> &AlertBook {
        &self.book
    }

    /// Answers only for the institutions marked in `owned` and the supply
    /// breaks of the (city, product) keys of `keys` (`None`: all): the
    /// rules leave the others out, and their alerts are forgotten without a
    /// transition, since another instance answers for them now. Returns the
    /// alerts forgotten, for the sinks to stop re-sending them.
    pub fn answer_for(&mut self, owned: Option<Vec<bool>>, keys: Option<KeyOwnership>) -> Vec<Alert> {
        self.state.answers_for = owned;
        self.stage.set_ownership(keys);
        let (state, reference, stage) = (&self.state, &self.reference, &self.stage);
        let forgotten = self.book.forget(|alert| match alert.labels.get("institution_code") {
            Some(code) => reference.institution(code).is_none_or(|id| state.answers_for(id)),
            None if alert.name == AlertName::SupplyBreak => {
                let label = |l: &str| alert.labels.get(l).map_or("", String::as_str);
                stage.owns(label("city_code"), label("product_code"))
            }
            None => true,
        });
        if !forgotten.is_empty() {
            tracing::info!(forgotten = forgotten.len(), "alerts handed over with their institutions");
        }
        forgotten
    }

    /// The changes of this engine's overdue facts that `vbp.facts` does not
    /// hold yet (filled by each evaluation when `publish_facts`).
    pub fn take_fact_changes(&mut self) -> Vec<FactChange> {
        std::mem::take(&mut self.fact_changes)
    }

    /// Heap bytes of the ids remembered for de-duplication.
    pub fn seen_heap_bytes(&self) -> usize {
        vbp_detectors::state::footprint::table_bytes(self.seen.capacity(), std::mem::size_of::<(u128, Micros)>())
    }

    /// Events waiting for their order or delivery, and ids remembered.
    pub fn pending(&self) -> (usize, usize) {
        (self.held.len(), self.seen.len())
    }

    /// Takes one decoded event and says what became of it, with every
    /// rejection it caused: its own, or those of waiting events it released
    /// that then failed to apply.
    pub fn ingest(&mut self, event: Event, origin: O) -> Ingested<O> {
        self.stats.decoded += 1;
        self.stats.latest_event = self.stats.latest_event.max(Some(event.occurred_at.timestamp_micros()));
        if self.seen.insert(id_digest(&event.event_id), event.occurred_at.timestamp_micros()).is_some() {
            self.stats.duplicates += 1;
            return Ingested { fate: Fate::Duplicate, rejected: Vec::new() };
        }
        let mut rejected = Vec::new();
        let fate = self.apply(event, origin, &mut rejected);
        Ingested { fate, rejected }
    }

    /// Counts an input that did not decode into an event, and hands it back
    /// as a rejection for the dead-letter output.
    pub fn undecodable(&mut self, origin: O, rejection: Rejection) -> Ingested<O> {
        self.stats.reject(rejection.reason);
        Ingested { fate: Fate::Rejected(rejection.reason), rejected: vec![Rejected { origin, rejection }] }
    }

    /// Applies one event and, transitively, whatever was waiting for it;
    /// returns what became of the first.
    fn apply(&mut self, event: Event, origin: O, rejected: &mut Vec<Rejected<O>>) -> Fate {
        let mut queue = vec![(event, origin)];
        let mut first = None;
        while let Some((event, origin)) = queue.pop() {
            let fate = match self.state.apply(&self.reference, &event) {
                Outcome::Applied => {
                    self.stats.applied += 1;
                    if let Some(arrived) = arrival(&event) {
                        let mut released = self.held.release(&arrived);
                        // Apply in event order: pop takes from the end.
                        released.sort_by(|a, b| event_order(&b.event, &a.event));
                        queue.extend(released.into_iter().map(|h| (h.event, h.origin)));
                    }
                    Fate::Applied
                }
                Outcome::Waiting(awaited) => {
                    self.held.hold(event, origin, awaited);
                    Fate::Waiting
                }
                Outcome::Rejected(rejection) => {
                    self.stats.reject(rejection.reason);
                    let fate = Fate::Rejected(rejection.reason);
                    rejected.push(Rejected { origin, rejection });
                    fate
                }
            };
            first.get_or_insert(fate);
        }
        first.unwrap_or(Fate::Applied)
    }

    /// Rejects as orphans the events that waited longer than the timeout
    /// before `watermark` (event time).
    pub fn expire_orphans(&mut self, watermark: Micros) -> Vec<Rejected<O>> {
        let expired = self.held.expire_before(watermark.saturating_sub(self.orphan_timeout));
        self.orphans(expired, "for longer than the orphan timeout")
    }

    /// Rejects as orphans all events still waiting (end of a finite input).
    pub fn drain_orphans(&mut self) -> Vec<Rejected<O>> {
        let expired = self.held.drain();
        self.orphans(expired, "by the end of the input")
    }

    fn orphans(&mut self, expired: Vec<HeldEvent<O>>, when: &str) -> Vec<Rejected<O>> {
        expired
            .into_iter()
            .map(|h| {
                self.stats.reject(Reason::Orphan);
                let detail = format!("{} {when}", h.awaited.describe());
                Rejected { origin: h.origin, rejection: Rejection::new(Reason::Orphan, detail) }
            })
            .collect()
    }

    /// Evaluates every rule at `at` and returns the alert transitions.
    #[instrument(skip(self), fields(firing))]
    pub async fn evaluate(&mut self, at: DateTime<FixedOffset>) -> Result<Vec<Transition>, DataFusionError> {
        // Retention follows event time, not T: a live engine catching up on
        // old events must still remember their ids and open business.
        let started = std::time::Instant::now();
        let newest = self.stats.latest_event.unwrap_or(i64::MIN).min(at.timestamp_micros());
        let horizon = newest.saturating_sub(DEFAULT_RETENTION_MICROS);
        if horizon.saturating_sub(self.swept_to) >= SWEEP_EVERY_MICROS {
            self.state.forget_finished_before(horizon);
            self.seen.retain(|_, t| *t >= horizon);
            self.swept_to = horizon;
        }
        let need = if self.want_rollups { Need::Everything } else { Need::Rules };
        let eval = rules::Evaluation::new(&self.statics, &self.reference, &self.state, &self.config, at, need)?;
        let shard = rules::evaluate_shard(&eval).await?;
        let (reference, state) = (&self.reference, &self.state);
        let answers_for = |code: &str| reference.institution(code).is_some_and(|id| state.answers_for(id));
        let mut alerts = shard.alerts;
        alerts.extend(self.stage.alerts(&shard.facts, answers_for, reference, &self.config));
        if self.publish_facts {
            self.fact_changes = self.stage.to_publish(&shard.facts, answers_for, std::mem::take(&mut self.republish_facts));
        }
        if self.want_rollups {
            self.rollups = Some(rollups::compute(&eval).await?);
        }
        let transitions = self.book.observe(at, alerts);
        self.last_evaluation_seconds = started.elapsed().as_secs_f64();
        self.stats.evaluations += 1;
        self.stats.evaluation_micros += started.elapsed().as_micros() as u64;
        for t in &transitions {
            self.stats.transition(t);
        }
        tracing::Span::current().record("firing", self.book.len());
        Ok(transitions)
    }
}

/// What an applied event makes available to waiting events.
fn arrival(event: &Event) -> Option<Awaited> {
    match &event.body {
        EventBody::OrderPlaced(e) => Some(Awaited::Order(e.order_id.clone())),
        EventBody::DeliveryReceived(e) => Some(Awaited::Delivery(e.delivery_id.clone())),
        EventBody::DeliveryAccepted(e) => Some(Awaited::Acceptance(e.delivery_id.clone())),
        EventBody::OrderCancelled(_) | EventBody::PaymentMade(_) => None,
    }
}
