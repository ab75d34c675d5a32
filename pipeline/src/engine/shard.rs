//! One shard of the engine: the state of the institutions routed to it and
//! the events waiting in it. A shard applies events alone, so N shards
//! apply on N threads; what waits for an order or delivery waits in the
//! shard that order or delivery goes to ([`super::router`]).

use vbp_detectors::reference::ReferenceData;
use vbp_detectors::state::{Awaited, Micros, Outcome, State};
use vbp_schemas::{Event, EventBody, Rejection};

use super::held::{Held, HeldEvent};
use super::{event_order, id_digest, Fate, Rejected};

pub struct Shard<O> {
    pub(super) state: State,
    pub(super) held: Held<O>,
    /// The institutions routed here, by `InstitutionId` (`None`: all, the
    /// only shard). The tables the rules read leave the others out.
    pub(super) home: Option<Vec<bool>>,
}

/// What applying one input did in its shard.
#[derive(Debug)]
pub struct Applied<O> {
    pub fate: Fate,
    /// Its own rejection, or those of waiting events it released.
    pub rejected: Vec<Rejected<O>>,
    /// Events applied: it and the waiting events it released.
    pub applied: u64,
    /// The id digests of the events rejected, to forget: their resends apply.
    pub forget: Vec<u128>,
}

impl<O> Shard<O> {
    pub fn new(reference: &ReferenceData, home: Option<Vec<bool>>) -> Self {
        let mut state = State::new(reference);
        state.answers_for.clone_from(&home);
        Shard { state, held: Held::default(), home }
    }

    /// Answers for the institutions routed here that this instance owns
    /// (`owned`: `None`, all of them).
    pub fn answer_for(&mut self, owned: Option<&[bool]>) {
        self.state.answers_for = match (&self.home, owned) {
            (None, owned) => owned.map(<[bool]>::to_vec),
            (Some(home), None) => Some(home.clone()),
            (Some(home), Some(owned)) => {
                Some(home.iter().enumerate().map(|(i, h)| *h && owned.get(i).copied().unwrap_or(false)).collect())
            }
        };
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Applies one event and, transitively, whatever was waiting for it;
    /// the fate is that of the first.
    pub fn apply(&mut self, reference: &ReferenceData, event: Event, origin: O) -> Applied<O> {
        let mut out = Applied { fate: Fate::Applied, rejected: Vec::new(), applied: 0, forget: Vec::new() };
        // Nearly every event releases nothing: the queue (and the id copy
        // that looks for what waits) cost nothing then.
        let mut queue = Vec::new();
        let mut next = Some((event, origin));
        let mut first = None;
        while let Some((event, origin)) = next.take().or_else(|| queue.pop()) {
            let fate = match self.state.apply(reference, &event) {
                Outcome::Applied => {
                    out.applied += 1;
                    if let Some(arrived) = (self.held.len() > 0).then(|| arrival(&event)).flatten() {
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
                    let fate = Fate::Rejected(rejection.reason);
                    out.forget.push(id_digest(&event.event_id));
                    out.rejected.push(Rejected { origin, rejection });
                    fate
                }
            };
            first.get_or_insert(fate);
        }
        out.fate = first.unwrap_or(Fate::Applied);
        out
    }

    /// Applies a run of inputs in order, each with its index in the batch.
    pub fn apply_all(&mut self, reference: &ReferenceData, inputs: Vec<(usize, Event, O)>) -> Vec<(usize, Applied<O>)> {
        inputs.into_iter().map(|(index, event, origin)| (index, self.apply(reference, event, origin))).collect()
    }

    /// Takes out the events that occurred before `cutoff`, in event order.
    pub fn expire_before(&mut self, cutoff: Micros) -> Vec<HeldEvent<O>> {
        self.held.expire_before(cutoff)
    }
}

/// What an applied event makes available to waiting events.
fn arrival(event: &Event) -> Option<Awaited> {
    match &event.body {
        EventBody::OrderPlaced(e) => Some(Awaited::Order(e.order_id.clone())),
        EventBody::DeliveryReceived(e) => Some(Awaited::Delivery(e.delivery_id.clone())),
        EventBody::DeliveryAccepted(e) => Some(Awaited::Acceptance(e.delivery_id.clone())),
        EventBody::ComplaintFiled(e) => Some(Awaited::Complaint(e.complaint_id.clone())),
        EventBody::OrderCancelled(_)
        | EventBody::PaymentMade(_)
        | EventBody::ComplaintReplied(_)
        | EventBody::ComplaintResolved(_) => None,
    }
}

/// A rejection that is not yet counted (the engine counts them all).
pub fn orphan<O>(held: HeldEvent<O>, when: &str) -> Rejected<O> {
    let detail = format!("{} {when}", held.awaited.describe());
    Rejected { origin: held.origin, rejection: Rejection::new(vbp_schemas::Reason::Orphan, detail) }
}
