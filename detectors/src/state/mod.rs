//! The state the events build: open order lines, deliveries that still owe
//! money, and running purchase sums (ARCHITECTURE: "keep sums per key, not
//! the events").
//!
//! Finished business folds. An order line with nothing outstanding and every
//! delivery accepted, and a delivery accepted and paid in full, can change
//! no more: every later event about it is rejected. It leaves the readable,
//! id-keyed maps for a compact record under the digest of its id
//! ([`FinishedOrder`], [`FinishedDelivery`]): what the rejections need (that
//! it exists, whose it is) and what the on-time delivery rate needs (when it
//! was placed and settled). At province scale that is nine in ten lines.
//!
//! [`State::apply`] takes one decoded event. It either applies it, says
//! which earlier event it is still waiting for (the engine holds it — SPEC
//! §4 orphans), or rejects it with a reason code. It never panics on input:
//! quantities and amounts are bounded before any arithmetic.

mod carry;
mod complaints;
mod distributors;
pub mod footprint;
mod purchases;
mod recent;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use vbp_schemas::{
    DeliveryAccepted, DeliveryReceived, Event, EventBody, OrderCancelled, OrderPlaced, PaymentMade, Reason, Rejection,
};

pub use carry::{Carried, Estimate};
pub use complaints::{Complaint, Complaints, Reply};
pub use distributors::{Delivered, DistributorId, Distributors};
pub use recent::{DayKey, DayTally, KEPT_DAYS};

use crate::reference::{InstitutionId, ProductId, ReferenceData};
use crate::time::{local_date, payment_overdue_from};

pub use purchases::{Bought, GroupWindow, Purchases, ShareClass};

/// Quantities above this many packs are rejected as `bad_value`: no real
/// order is that large, and the bound keeps every sum far from overflow.
pub const MAX_PACKS: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Amounts above this many yuan are rejected as `bad_value` (same reason).
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A map keyed by platform ids (order and delivery ids; event ids are kept
/// as digests, in the engine): millions of entries, looked up for every
/// event, so hashed with foldhash rather than SipHash (see the workspace
/// Cargo.toml).
pub type IdMap<V> = crate::FastMap<String, V>;

/// A map keyed by the [`id_digest`] of a platform id: 16 bytes and no
/// allocation per key, for what no longer needs its id spelled out.
pub type DigestMap<V> = crate::FastMap<u128, V>;

/// An id's digest: 128-bit SipHash-1-3 under fixed keys, the same in every
/// process and version, so a checkpoint's digests stay comparable. Two
/// different ids share one with odds of about 1e-25 at 15 M ids.
pub fn id_digest(id: &str) -> u128 {
    siphasher::sip128::SipHasher13::new_with_keys(0x7662_702d_7761_7463, 0x6820_6576_656e_7473)
        .hash(id.as_bytes())
        .as_u128()
}

/// An instant as microseconds since the Unix epoch: compact, and ordered the
/// same way as the instants themselves whatever offset they were written in.
pub type Micros = i64;

/// One order line (`order.placed` and what happened to it since).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub institution: InstitutionId,
    pub product: ProductId,
    pub placed_at: Micros,
    /// date(placed_at) in China Standard Time.
    pub placed_on: NaiveDate,
    pub packs: Decimal,
    pub cancelled: Decimal,
    pub delivered: Decimal,
    pub unit_price: Decimal,
    pub special_service: bool,
    pub class: ShareClass,
    /// Deliveries received and not yet accepted.
    pub unaccepted_deliveries: u32,
    /// Event time of the last change, for retention.
    pub last_change: Micros,
    /// The latest delivery or cancellation: once nothing is outstanding,
    /// when the line was settled — for the on-time delivery rate (配送率).
    /// A maximum, so it does not depend on the order events apply in.
    #[serde(default)]
    pub last_fill_at: Option<Micros>,
    /// Its latest delivery, by whom (triage: whom to call about it).
    #[serde(default)]
    pub delivered_by: Option<Delivered>,
}

impl OrderLine {
    /// Ordered minus cancelled minus delivered (SPEC 6.3).
    pub fn outstanding(&self) -> Decimal {
        self.packs - self.cancelled - self.delivered
    }

    fn filled_at(&mut self, at: Micros) {
        self.last_fill_at = Some(self.last_fill_at.map_or(at, |t| t.max(at)));
    }

    /// When the line was delivered in full, if it is (cancelled packs need
    /// no delivery; a line cancelled in full was never delivered).
    pub fn settled_at(&self) -> Option<Micros> {
        (self.outstanding().is_zero() && self.delivered > Decimal::ZERO).then_some(self.last_fill_at).flatten()
    }
}

/// An order line that can change no more, folded (see the module doc):
/// 32 bytes instead of an [`OrderLine`] and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedOrder {
    pub institution: InstitutionId,
    pub product: ProductId,
    pub placed_at: Micros,
    /// When it was settled ([`OrderLine::last_fill_at`]); [`NOT_DUE`] for a
    /// line no on-time rate counts (special service, or cancelled in full).
    pub settled_at: Micros,
    /// Event time of the last change, for retention.
    pub last_change: Micros,
}

/// [`FinishedOrder::settled_at`] of a line that no on-time rate counts.
pub const NOT_DUE: Micros = Micros::MIN;

impl FinishedOrder {
    /// Whether the on-time delivery rate counts the line (SPEC 6.3).
    pub fn is_due_line(&self) -> bool {
        self.settled_at != NOT_DUE
    }
}

/// A delivery accepted and paid in full, folded: whose it was, for the
/// check of a later payment, and its last change, for retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedDelivery {
    pub institution: InstitutionId,
    pub last_change: Micros,
}

/// One delivery and what it still owes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLine {
    pub order_id: String,
    /// Who delivered it ([`Distributors`]).
    pub distributor: DistributorId,
    pub institution: InstitutionId,
    pub product: ProductId,
    pub received_packs: Decimal,
    pub received_at: Micros,
    pub accepted: Option<Acceptance>,
    pub paid: Decimal,
    pub last_change: Micros,
}

/// `delivery.accepted`: starts the 次月底 payment clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    pub accepted_at: Micros,
    pub accepted_on: NaiveDate,
    /// The first overdue date (SPEC 6.4), worked out once here rather
    /// than for every unpaid delivery at every evaluation.
    pub overdue_on: NaiveDate,
    pub packs: Decimal,
    pub amount: Decimal,
}

impl DeliveryLine {
    /// What the institution still owes for this delivery (0 before acceptance).
    pub fn outstanding(&self) -> Decimal {
        self.accepted.as_ref().map_or(Decimal::ZERO, |a| a.amount - self.paid)
    }
}

/// What an event is waiting for before it can apply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Awaited {
    /// The `order.placed` of this order id.
    Order(String),
    /// The `delivery.received` of this delivery id.
    Delivery(String),
    /// The `delivery.accepted` of this delivery id.
    Acceptance(String),
    /// The `complaint.filed` of this complaint id.
    Complaint(String),
}

impl Awaited {
    pub fn describe(&self) -> String {
        match self {
            Awaited::Order(id) => format!("order `{id}` never arrived"),
            Awaited::Delivery(id) => format!("delivery `{id}` was never received"),
            Awaited::Acceptance(id) => format!("delivery `{id}` was never accepted"),
            Awaited::Complaint(id) => format!("complaint `{id}` was never filed"),
        }
    }
}

/// The result of applying one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Waiting(Awaited),
    Rejected(Rejection),
}

/// Everything the rules read, as of the events applied so far. It is what a
/// checkpoint keeps (serde), with [`State::restored`] on the way back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// Order lines still open: packs outstanding, or a delivery not yet
    /// accepted.
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub orders: IdMap<OrderLine>,
    /// Deliveries not yet accepted, or owing money.
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub deliveries: IdMap<DeliveryLine>,
    /// Finished order lines, by the digest of their order id.
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub finished_orders: DigestMap<FinishedOrder>,
    /// Finished deliveries, by the digest of their delivery id.
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub finished_deliveries: DigestMap<FinishedDelivery>,
    pub purchases: Purchases,
    /// Supply complaints, by complaint id (6.5).
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub complaints: Complaints,
    /// The last [`KEPT_DAYS`] days of purchases the window rules read (6.6, 6.8).
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub recent: crate::FastMap<DayKey, DayTally>,
    /// Who delivers what, for the triage of supply breaks (SPEC §12).
    pub distributors: Distributors,
    /// The institutions this instance answers for, by `InstitutionId`;
    /// `None`: all. With several instances in one consumer group each
    /// answers for the institutions of its partitions (deploy/SCALING.md),
    /// and the tables the rules read leave the others out.
    #[serde(skip)]
    pub answers_for: Option<Vec<bool>>,
    /// Keep finished business in the id-keyed maps instead of folding it
    /// ([`State::unfolded`]): for the tests that show folding changes
    /// nothing but the memory.
    #[serde(skip)]
    unfolded: bool,
}

fn micros(event: &Event) -> Micros {
    event.occurred_at.timestamp_micros()
}

fn reject(reason: Reason, detail: String) -> Outcome {
    Outcome::Rejected(Rejection::new(reason, detail))
}

/// Gives back a map's memory once it is under a quarter full.
fn shrink<V>(map: &mut IdMap<V>) {
    if map.capacity() > 4 * map.len().max(1024) {
        map.shrink_to_fit();
    }
}

/// A quantity for a rejection's words: zero as `0` whatever its scale, so
/// that a folded line (which keeps no quantities) reads as an open one.
fn shown(packs: Decimal) -> Decimal {
    if packs.is_zero() {
        Decimal::ZERO
    } else {
        packs
    }
}

fn bounded(field: &str, value: Decimal, max: Decimal) -> Result<(), Outcome> {
    if value > max {
        return Err(reject(Reason::BadValue, format!("field `{field}`: {value} exceeds the limit of {max}")));
    }
    Ok(())
}

/// A quantity of packs: at most [`MAX_PACKS`], and with no more decimal
/// places than the tables keep ([`crate::tables::UNITS_SCALE`]), so that
/// what an alert says is what was ordered ("0.0000001" would read "0").
fn packs(field: &str, value: Decimal) -> Result<(), Outcome> {
    bounded(field, value, MAX_PACKS)?;
    let places = crate::tables::UNITS_SCALE as u32;
    if value.normalize().scale() > places {
        return Err(reject(Reason::BadValue, format!("field `{field}`: {value} has more than {places} decimal places")));
    }
    Ok(())
}

impl State {
    pub fn new(reference: &ReferenceData) -> Self {
        State {
            orders: IdMap::default(),
            deliveries: IdMap::default(),
            finished_orders: DigestMap::default(),
            finished_deliveries: DigestMap::default(),
            purchases: Purchases::new(reference),
            complaints: Complaints::default(),
            recent: crate::FastMap::default(),
            distributors: Distributors::default(),
            answers_for: None,
            unfolded: false,
        }
    }

    /// A state that never folds finished business (see the module doc):
    /// the same answers, with every line kept readable until retention.
    pub fn unfolded(reference: &ReferenceData) -> Self {
        State { unfolded: true, ..State::new(reference) }
    }

    /// Whether an order of this id was placed (open or finished).
    pub fn has_order(&self, order_id: &str) -> bool {
        self.orders.contains_key(order_id) || self.finished_orders.contains_key(&id_digest(order_id))
    }

    /// Whether a delivery of this id was received (open or finished).
    pub fn has_delivery(&self, delivery_id: &str) -> bool {
        self.deliveries.contains_key(delivery_id) || self.finished_deliveries.contains_key(&id_digest(delivery_id))
    }

    /// A state read back from a checkpoint, checked against the reference
    /// data it must belong to (ids are positions in its vectors).
    pub fn restored(self, reference: &ReferenceData) -> Result<Self, String> {
        let institutions = reference.institutions.len();
        let products = reference.products.len();
        let bad_order = self.orders.iter().find(|(_, l)| l.institution.index() >= institutions || l.product.index() >= products);
        let bad_delivery =
            self.deliveries.iter().find(|(_, d)| d.institution.index() >= institutions || d.product.index() >= products);
        if let Some(id) = bad_order.map(|(id, _)| id).or(bad_delivery.map(|(id, _)| id)) {
            return Err(format!("the checkpoint refers in `{id}` to an institution or product that the reference data does not have"));
        }
        let bad_finished = self.finished_orders.values().any(|f| f.institution.index() >= institutions || f.product.index() >= products)
            || self.finished_deliveries.values().any(|f| f.institution.index() >= institutions);
        if bad_finished || !self.distributors.ids_within(institutions, products) {
            return Err("the checkpoint refers in a finished order line, a delivery or a distributor to an institution or product that the reference data does not have".into());
        }
        let purchases = self.purchases.restored(reference)?;
        Ok(State { purchases, ..self })
    }

    /// Whether this instance answers for `institution`.
    pub fn answers_for(&self, institution: InstitutionId) -> bool {
        self.answers_for.as_ref().is_none_or(|owned| owned.get(institution.index()).copied().unwrap_or(false))
    }

    /// Applies one event, or says why it cannot (yet).
    pub fn apply(&mut self, reference: &ReferenceData, event: &Event) -> Outcome {
        let at = micros(event);
        let result = match &event.body {
            EventBody::OrderPlaced(e) => self.order_placed(reference, event, e),
            EventBody::OrderCancelled(e) => self.order_cancelled(reference, at, e),
            EventBody::DeliveryReceived(e) => self.delivery_received(at, e),
            EventBody::DeliveryAccepted(e) => self.delivery_accepted(event, e),
            EventBody::PaymentMade(e) => self.payment_made(reference, at, e),
            EventBody::ComplaintFiled(e) => self.complaint_filed(reference, event, e),
            EventBody::ComplaintReplied(e) => self.complaint_replied(at, e),
            EventBody::ComplaintResolved(e) => self.complaint_resolved(at, &e.complaint_id),
        };
        result.unwrap_or_else(|outcome| outcome)
    }

    fn order_placed(&mut self, reference: &ReferenceData, event: &Event, e: &OrderPlaced) -> Result<Outcome, Outcome> {
        let institution = reference.institution(&e.institution_code).ok_or_else(|| {
            reject(Reason::UnknownInstitution, format!("institution `{}` is not in institutions.csv", e.institution_code))
        })?;
        let product_id = reference.product(&e.product_code).ok_or_else(|| {
            reject(Reason::UnknownProduct, format!("product `{}` is not in products.csv", e.product_code))
        })?;
        packs("quantity_packs", e.quantity_packs)?;
        bounded("unit_price", e.unit_price, MAX_AMOUNT)?;
        if self.has_order(&e.order_id) {
            return Err(reject(Reason::BadValue, format!("order `{}` was already placed by another event", e.order_id)));
        }
        let product = &reference.products[product_id.0 as usize];
        let placed_on = local_date(event.occurred_at);
        let class = self.purchases.share_class(reference, institution, product, e.unit_price, placed_on);
        let line = OrderLine {
            institution,
            product: product_id,
            placed_at: micros(event),
            placed_on,
            packs: e.quantity_packs,
            cancelled: Decimal::ZERO,
            delivered: Decimal::ZERO,
            unit_price: e.unit_price,
            special_service: e.special_service,
            class,
            unaccepted_deliveries: 0,
            last_change: micros(event),
            last_fill_at: None,
            delivered_by: None,
        };
        self.count_units(reference, &line, e.quantity_packs)?;
        self.tally_recent(reference, &line, e.quantity_packs, e.quantity_packs);
        self.orders.insert(e.order_id.clone(), line);
        Ok(Outcome::Applied)
    }

    /// Adds `packs` of `line` (negative to take back) to the purchase sums;
    /// special-service orders count nowhere (seed 000 三(四)). Base units
    /// beyond an exact decimal's range are a `bad_value`, and count nowhere.
    fn count_units(&mut self, reference: &ReferenceData, line: &OrderLine, packs: Decimal) -> Result<(), Outcome> {
        if line.special_service {
            return Ok(());
        }
        let product = &reference.products[line.product.0 as usize];
        let too_many = || {
            let units = format!("{packs} packs of {} base units", product.base_units_per_pack);
            reject(Reason::BadValue, format!("field `quantity_packs`: {units} each exceed what the purchase sums can hold"))
        };
        let units = packs.checked_mul(product.base_units_per_pack).ok_or_else(too_many)?;
        let amount = packs.checked_mul(line.unit_price).ok_or_else(too_many)?;
        let (institution, class, placed_on) = (line.institution, line.class, line.placed_on);
        self.purchases.add(reference, institution, line.product, class, placed_on, units, amount).map_err(|_| too_many())
    }

    fn order_cancelled(&mut self, reference: &ReferenceData, at: Micros, e: &OrderCancelled) -> Result<Outcome, Outcome> {
        packs("quantity_packs", e.quantity_packs)?;
        let over_cancel = |outstanding: Decimal| {
            reject(
                Reason::OverCancel,
                format!(
                    "order `{}`: cancels {} packs but only {} are undelivered",
                    e.order_id,
                    e.quantity_packs,
                    shown(outstanding)
                ),
            )
        };
        let Some(line) = self.orders.get_mut(&e.order_id) else {
            return Err(self.finished_order(&e.order_id, over_cancel(Decimal::ZERO)));
        };
        let outstanding = line.outstanding();
        if e.quantity_packs > outstanding {
            return Err(over_cancel(outstanding));
        }
        line.cancelled += e.quantity_packs;
        line.last_change = line.last_change.max(at);
        line.filled_at(at);
        let line = line.clone();
        // Takes back part of what the order added: it cannot overflow.
        self.count_units(reference, &line, -e.quantity_packs)?;
        self.tally_recent(reference, &line, -e.quantity_packs, line.packs - line.cancelled);
        self.fold_order_if_finished(&e.order_id);
        Ok(Outcome::Applied)
    }

    /// The rejection of an event about a finished order line (nothing in
    /// it can change), or, when no such order was placed, the wait for it.
    fn finished_order(&self, order_id: &str, rejection: Outcome) -> Outcome {
        if self.finished_orders.contains_key(&id_digest(order_id)) {
            rejection
        } else {
            Outcome::Waiting(Awaited::Order(order_id.to_string()))
        }
    }

    /// Folds the line of `order_id` when it is finished (module doc).
    fn fold_order_if_finished(&mut self, order_id: &str) {
        let finished = self.orders.get(order_id).is_some_and(|l| l.outstanding().is_zero() && l.unaccepted_deliveries == 0);
        if self.unfolded || !finished {
            return;
        }
        if let Some(line) = self.orders.remove(order_id) {
            let due = !line.special_service && line.packs > line.cancelled;
            let settled_at = if due { line.last_fill_at.unwrap_or(line.last_change) } else { NOT_DUE };
            let folded = FinishedOrder {
                institution: line.institution,
                product: line.product,
                placed_at: line.placed_at,
                settled_at,
                last_change: line.last_change,
            };
            self.finished_orders.insert(id_digest(order_id), folded);
        }
    }

    /// Folds the delivery of `delivery_id` when it is accepted and paid in full.
    fn fold_delivery_if_finished(&mut self, delivery_id: &str) {
        let finished = self.deliveries.get(delivery_id).is_some_and(|d| d.accepted.is_some() && d.outstanding().is_zero());
        if self.unfolded || !finished {
            return;
        }
        if let Some(d) = self.deliveries.remove(delivery_id) {
            let folded = FinishedDelivery { institution: d.institution, last_change: d.last_change };
            self.finished_deliveries.insert(id_digest(delivery_id), folded);
        }
    }

    fn delivery_received(&mut self, at: Micros, e: &DeliveryReceived) -> Result<Outcome, Outcome> {
        packs("quantity_packs", e.quantity_packs)?;
        if self.has_delivery(&e.delivery_id) {
            return Err(reject(Reason::BadValue, format!("delivery `{}` was already received", e.delivery_id)));
        }
        let over_delivery = |outstanding: Decimal| {
            reject(
                Reason::BadValue,
                format!(
                    "delivery `{}`: delivers {} packs but order `{}` has only {} outstanding",
                    e.delivery_id,
                    e.quantity_packs,
                    e.order_id,
                    shown(outstanding)
                ),
            )
        };
        let Some(line) = self.orders.get_mut(&e.order_id) else {
            return Err(self.finished_order(&e.order_id, over_delivery(Decimal::ZERO)));
        };
        let outstanding = line.outstanding();
        if e.quantity_packs > outstanding {
            return Err(over_delivery(outstanding));
        }
        line.delivered += e.quantity_packs;
        line.unaccepted_deliveries += 1;
        line.last_change = line.last_change.max(at);
        line.filled_at(at);
        let delivered = Delivered { at, by: self.distributors.intern(&e.distributor) };
        let names = &self.distributors;
        if line.delivered_by.is_none_or(|known| (delivered.at, names.name(delivered.by)) > (known.at, names.name(known.by))) {
            line.delivered_by = Some(delivered);
        }
        let (institution, product) = (line.institution, line.product);
        let delivery = DeliveryLine {
            distributor: delivered.by,
            order_id: e.order_id.clone(),
            institution: line.institution,
            product: line.product,
            received_packs: e.quantity_packs,
            received_at: at,
            accepted: None,
            paid: Decimal::ZERO,
            last_change: at,
        };
        self.deliveries.insert(e.delivery_id.clone(), delivery);
        self.distributors.delivered(institution, product, delivered);
        Ok(Outcome::Applied)
    }

    fn delivery_accepted(&mut self, event: &Event, e: &DeliveryAccepted) -> Result<Outcome, Outcome> {
        packs("accepted_quantity_packs", e.accepted_quantity_packs)?;
        bounded("amount", e.amount, MAX_AMOUNT)?;
        let already_accepted = || reject(Reason::BadValue, format!("delivery `{}` was already accepted", e.delivery_id));
        if self.finished_deliveries.contains_key(&id_digest(&e.delivery_id)) {
            return Err(already_accepted());
        }
        let delivery = self
            .deliveries
            .get_mut(&e.delivery_id)
            .ok_or_else(|| Outcome::Waiting(Awaited::Delivery(e.delivery_id.clone())))?;
        // A repeated acceptance is told first, whatever order it names: a
        // folded delivery no longer knows its order.
        if delivery.accepted.is_some() {
            return Err(already_accepted());
        }
        let problem = if delivery.order_id != e.order_id {
            Some(format!("belongs to order `{}`, not `{}`", delivery.order_id, e.order_id))
        } else if e.accepted_quantity_packs > delivery.received_packs {
            Some(format!("accepts {} packs of {} received", e.accepted_quantity_packs, delivery.received_packs))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(reject(Reason::BadValue, format!("delivery `{}` {problem}", e.delivery_id)));
        }
        let (at, accepted_on) = (micros(event), local_date(event.occurred_at));
        delivery.accepted = Some(Acceptance {
            accepted_at: at,
            accepted_on,
            overdue_on: local_date(payment_overdue_from(accepted_on)),
            packs: e.accepted_quantity_packs,
            amount: e.amount,
        });
        delivery.last_change = delivery.last_change.max(at);
        if let Some(line) = self.orders.get_mut(&e.order_id) {
            line.unaccepted_deliveries = line.unaccepted_deliveries.saturating_sub(1);
            line.last_change = line.last_change.max(at);
        }
        self.fold_order_if_finished(&e.order_id);
        self.fold_delivery_if_finished(&e.delivery_id);
        Ok(Outcome::Applied)
    }

    fn payment_made(&mut self, reference: &ReferenceData, at: Micros, e: &PaymentMade) -> Result<Outcome, Outcome> {
        let institution = reference.institution(&e.institution_code).ok_or_else(|| {
            reject(Reason::UnknownInstitution, format!("institution `{}` is not in institutions.csv", e.institution_code))
        })?;
        bounded("amount", e.amount, MAX_AMOUNT)?;
        let another_institution = || {
            reject(
                Reason::BadValue,
                format!("delivery `{}` was made to another institution than `{}`", e.delivery_id, e.institution_code),
            )
        };
        let over_payment = |outstanding: Decimal| {
            reject(
                Reason::OverPayment,
                format!("delivery `{}`: pays {} yuan but only {outstanding:.2} is outstanding", e.delivery_id, e.amount),
            )
        };
        if let Some(finished) = self.finished_deliveries.get(&id_digest(&e.delivery_id)) {
            let wrong = finished.institution != institution;
            return Err(if wrong { another_institution() } else { over_payment(Decimal::ZERO) });
        }
        let delivery = match self.deliveries.get_mut(&e.delivery_id) {
            Some(d) if d.accepted.is_some() => d,
            _ => return Err(Outcome::Waiting(Awaited::Acceptance(e.delivery_id.clone()))),
        };
        if delivery.institution != institution {
            return Err(another_institution());
        }
        let outstanding = delivery.outstanding();
        if e.amount > outstanding {
            return Err(over_payment(outstanding));
        }
        delivery.paid += e.amount;
        delivery.last_change = delivery.last_change.max(at);
        self.fold_delivery_if_finished(&e.delivery_id);
        Ok(Outcome::Applied)
    }

    /// Forgets finished business whose last change is before `horizon`:
    /// order lines with nothing outstanding and every delivery accepted,
    /// deliveries paid in full, and resolved complaints; and the days of
    /// purchases no window can reach any more. Their contribution stays in the sums; an
    /// event that still refers to them later waits and ends as an orphan.
    pub fn forget_finished_before(&mut self, horizon: Micros) {
        self.orders.retain(|_, l| {
            !(l.outstanding().is_zero() && l.unaccepted_deliveries == 0 && l.last_change < horizon)
        });
        self.deliveries.retain(|_, d| !(d.accepted.is_some() && d.outstanding().is_zero() && d.last_change < horizon));
        self.finished_orders.retain(|_, f| f.last_change >= horizon);
        self.finished_deliveries.retain(|_, f| f.last_change >= horizon);
        self.complaints.retain(|_, c| c.resolved_at.is_none() || c.last_change >= horizon);
        // The window rules read days from date(T) − 119 on, and T is past
        // the horizon: days older than that before it are no window's.
        let horizon_date = crate::time::in_china(horizon).date_naive();
        self.forget_recent_before(horizon_date - chrono::Duration::days(KEPT_DAYS));
        self.purchases.forget_period_end_days_before(horizon_date - chrono::Duration::days(KEPT_DAYS));
        // The open maps shrink as lines fold; give back what a peak took.
        shrink(&mut self.orders);
        shrink(&mut self.deliveries);
    }

    /// Sizes for the pipeline's own metrics.
    pub fn sizes(&self) -> StateSizes {
        StateSizes {
            order_lines: self.orders.len() + self.finished_orders.len(),
            open_order_lines: self.orders.values().filter(|l| l.outstanding() > Decimal::ZERO).count(),
            finished_order_lines: self.finished_orders.len(),
            deliveries: self.deliveries.len() + self.finished_deliveries.len(),
            finished_deliveries: self.finished_deliveries.len(),
            unpaid_deliveries: self.deliveries.values().filter(|d| d.outstanding() > Decimal::ZERO).count(),
            agreements: self.purchases.per_agreement.len(),
        }
    }
}

/// How much the state holds, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateSizes {
    pub order_lines: usize,
    pub open_order_lines: usize,
    /// Of `order_lines`, folded ([`FinishedOrder`]).
    pub finished_order_lines: usize,
    pub deliveries: usize,
    /// Of `deliveries`, folded ([`FinishedDelivery`]).
    pub finished_deliveries: usize,
    pub unpaid_deliveries: usize,
    pub agreements: usize,
}

impl std::ops::Add for StateSizes {
    type Output = StateSizes;

    /// The sizes of two shards together. Every shard keeps a purchase sum
    /// for every agreement (zero for the institutions of other shards), so
    /// agreements are not added up.
    fn add(self, o: StateSizes) -> StateSizes {
        StateSizes {
            order_lines: self.order_lines + o.order_lines,
            open_order_lines: self.open_order_lines + o.open_order_lines,
            finished_order_lines: self.finished_order_lines + o.finished_order_lines,
            deliveries: self.deliveries + o.deliveries,
            finished_deliveries: self.finished_deliveries + o.finished_deliveries,
            unpaid_deliveries: self.unpaid_deliveries + o.unpaid_deliveries,
            agreements: self.agreements.max(o.agreements),
        }
    }
}
