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
mod stats;

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use datafusion::error::DataFusionError;
use tracing::instrument;
use vbp_detectors::alert::{AlertBook, Transition};
use vbp_detectors::config::DetectorConfig;
use vbp_detectors::reference::ReferenceData;
use vbp_detectors::rules;
use vbp_detectors::state::{Awaited, Micros, Outcome, State};
use vbp_schemas::{Event, EventBody, Reason, Rejection};

pub use held::{Held, HeldEvent};
pub use stats::Stats;

/// Default `orphan_timeout`: 7 days of event time (SPEC §4).
pub const DEFAULT_ORPHAN_TIMEOUT_MICROS: Micros = 7 * 24 * 3_600 * 1_000_000;

/// A rejected event with its origin, for the dead-letter output.
#[derive(Debug, Clone)]
pub struct Rejected<O> {
    pub origin: O,
    pub rejection: Rejection,
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
    state: State,
    seen: HashSet<String>,
    held: Held<O>,
    book: AlertBook,
    orphan_timeout: Micros,
    pub stats: Stats,
}

impl<O> Engine<O> {
    pub fn new(reference: Arc<ReferenceData>, config: DetectorConfig) -> Self {
        let state = State::new(&reference);
        Engine {
            reference,
            config,
            state,
            seen: HashSet::new(),
            held: Held::default(),
            book: AlertBook::default(),
            orphan_timeout: DEFAULT_ORPHAN_TIMEOUT_MICROS,
            stats: Stats::default(),
        }
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

    pub fn held(&self) -> &Held<O> {
        &self.held
    }

    /// Takes one decoded event; returns what was rejected because of it
    /// (the event itself, or nothing).
    pub fn ingest(&mut self, event: Event, origin: O) -> Vec<Rejected<O>> {
        self.stats.decoded += 1;
        self.stats.latest_event = self.stats.latest_event.max(Some(event.occurred_at.timestamp_micros()));
        if !self.seen.insert(event.event_id.clone()) {
            self.stats.duplicates += 1;
            return Vec::new();
        }
        let mut rejected = Vec::new();
        self.apply(event, origin, &mut rejected);
        rejected
    }

    /// Applies one event and, transitively, whatever was waiting for it.
    fn apply(&mut self, event: Event, origin: O, rejected: &mut Vec<Rejected<O>>) {
        let mut queue = vec![(event, origin)];
        while let Some((event, origin)) = queue.pop() {
            match self.state.apply(&self.reference, &event) {
                Outcome::Applied => {
                    self.stats.applied += 1;
                    if let Some(arrived) = arrival(&event) {
                        let mut released = self.held.release(&arrived);
                        // Apply in event order: pop takes from the end.
                        released.sort_by(|a, b| event_order(&b.event, &a.event));
                        queue.extend(released.into_iter().map(|h| (h.event, h.origin)));
                    }
                }
                Outcome::Waiting(awaited) => self.held.hold(event, origin, awaited),
                Outcome::Rejected(rejection) => {
                    self.stats.reject(rejection.reason);
                    rejected.push(Rejected { origin, rejection });
                }
            }
        }
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
        let alerts = rules::evaluate_all(&self.reference, &self.state, &self.config, at).await?;
        let transitions = self.book.observe(at, alerts);
        self.stats.evaluations += 1;
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
