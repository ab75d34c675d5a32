//! Which shard an event belongs to (ARCHITECTURE, "Keyed parallelism").
//!
//! State is sharded by institution, the Kafka key: an institution's shard
//! is Kafka's own partitioner of its code modulo the shard count, so one
//! process with N shards cuts the province the way N partitions do.
//!
//! Orders, payments and complaints name their institution; a
//! cancellation, delivery or acceptance names only its order or delivery,
//! a complaint's reply or resolution only its complaint. In Kafka the message key
//! says the institution (live mode routes by it, and its shards are those
//! of the partitions); NDJSON files have no key, so replay learns
//! [`Routes`] in its first pass over the files.
//!
//! Every check [`State::apply`](vbp_detectors::state::State::apply) makes
//! joins ids: an order id to an institution, a delivery id to an order, a
//! payment's institution to its delivery's. The routes put every event of
//! one such connected group of ids in one shard, so each shard sees, in
//! event order, exactly the events one shard would see of its ids, and N
//! shards reject, hold, release and alert exactly as one does. In clean
//! data a group is one institution with its orders and deliveries, and its
//! shard is the institution's own. Bad data joins groups (an order id
//! placed by two institutions, a payment for another institution's
//! delivery, a delivery id received for two orders): the joined group goes
//! to the shard of its smallest institution code, where it is rejected as
//! in one shard. A group that names no institution (events whose order is
//! in no file) goes to the shard of its smallest id digest, where it ends
//! as the same orphans.
//!
//! Live mode learns nothing ahead: the key decides, as it decides the
//! partition across instances, and bad data that joins two institutions
//! behaves as it does across instances (a payment keyed by another
//! institution than its delivery's waits there, and ends as an orphan).
//! An unkeyed message that names no institution goes where its order or
//! delivery is ([`Route::Order`], [`Route::Delivery`]).

use vbp_detectors::FastMap;
use vbp_schemas::{Event, EventBody};

use super::id_digest;
use crate::sources::kafka::partition_of;

/// An institution's shard: Kafka's partitioner of its code.
pub fn institution_shard(institution_code: &str, shards: usize) -> u16 {
    partition_of(institution_code.as_bytes(), shards) as u16
}

/// The shard of an id whose institution is not known.
fn id_shard(digest: u128, shards: usize) -> u16 {
    (digest % shards.max(1) as u128) as u16
}

/// The groups of joined ids, learnt from the input; see the module doc.
#[derive(Debug, Default)]
pub struct Routes {
    shards: usize,
    /// Learnt from the input (replay); live mode routes by the key.
    learnt: bool,
    /// Union-find over order ids and institutions.
    parent: Vec<u32>,
    orders: FastMap<u128, u32>,
    institutions: FastMap<String, u32>,
    /// Each delivery id's node: its order's (or a payment's institution's).
    deliveries: FastMap<u128, u32>,
    /// Each complaint id's node: its institution's.
    complaints: FastMap<u128, u32>,
    /// After [`Routes::finish`]: the shard of each id.
    order_shard: FastMap<u128, u16>,
    delivery_shard: FastMap<u128, u16>,
    complaint_shard: FastMap<u128, u16>,
    institution_shard: FastMap<String, u16>,
}

impl Routes {
    pub fn new(shards: usize) -> Self {
        Routes { shards: shards.max(1), ..Routes::default() }
    }

    fn node(&mut self) -> u32 {
        self.parent.push(self.parent.len() as u32);
        self.parent.len() as u32 - 1
    }

    fn order(&mut self, order_id: &str) -> u32 {
        let digest = id_digest(order_id);
        match self.orders.get(&digest) {
            Some(&n) => n,
            None => {
                let n = self.node();
                self.orders.insert(digest, n);
                n
            }
        }
    }

    fn institution(&mut self, code: &str) -> u32 {
        match self.institutions.get(code) {
            Some(&n) => n,
            None => {
                let n = self.node();
                self.institutions.insert(code.to_string(), n);
                n
            }
        }
    }

    /// Joins a delivery id to `node`, and to whatever it was joined before.
    fn delivery(&mut self, delivery_id: &str, node: u32) {
        let earlier = *self.deliveries.entry(id_digest(delivery_id)).or_insert(node);
        self.union(earlier, node);
    }

    fn root(&mut self, mut n: u32) -> u32 {
        while self.parent[n as usize] != n {
            let grandparent = self.parent[self.parent[n as usize] as usize];
            self.parent[n as usize] = grandparent;
            n = grandparent;
        }
        n
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            self.parent[a.max(b) as usize] = a.min(b);
        }
    }

    /// Learns from one decoded event of the input, in any order.
    pub fn learn(&mut self, event: &Event) {
        self.learnt = true;
        match &event.body {
            EventBody::OrderPlaced(e) => {
                let (order, institution) = (self.order(&e.order_id), self.institution(&e.institution_code));
                self.union(order, institution);
            }
            EventBody::OrderCancelled(e) => {
                self.order(&e.order_id);
            }
            EventBody::DeliveryReceived(e) => {
                let order = self.order(&e.order_id);
                self.delivery(&e.delivery_id, order);
            }
            EventBody::DeliveryAccepted(e) => {
                let order = self.order(&e.order_id);
                self.delivery(&e.delivery_id, order);
            }
            EventBody::PaymentMade(e) => {
                let institution = self.institution(&e.institution_code);
                self.delivery(&e.delivery_id, institution);
            }
            EventBody::ComplaintFiled(e) => {
                let institution = self.institution(&e.institution_code);
                let earlier = *self.complaints.entry(id_digest(&e.complaint_id)).or_insert(institution);
                self.union(earlier, institution);
            }
            EventBody::ComplaintReplied(_) | EventBody::ComplaintResolved(_) => {}
        }
    }

    /// Gives each group its shard, once the input is read; the union-find
    /// is dropped.
    pub fn finish(&mut self) {
        let n = self.shards;
        // Each group's smallest institution code, else its smallest order digest.
        let mut smallest: FastMap<u32, (Option<String>, u128)> = FastMap::default();
        let institutions = std::mem::take(&mut self.institutions);
        let orders = std::mem::take(&mut self.orders);
        for (code, &node) in &institutions {
            let entry = smallest.entry(self.root(node)).or_insert((None, u128::MAX));
            if entry.0.as_ref().is_none_or(|c| code < c) {
                entry.0 = Some(code.clone());
            }
        }
        for (&digest, &node) in &orders {
            let entry = smallest.entry(self.root(node)).or_insert((None, u128::MAX));
            entry.1 = entry.1.min(digest);
        }
        let group_shard: FastMap<u32, u16> = smallest
            .into_iter()
            .map(|(root, (code, digest))| (root, code.map_or_else(|| id_shard(digest, n), |c| institution_shard(&c, n))))
            .collect();
        let deliveries = std::mem::take(&mut self.deliveries);
        let shard_of = |routes: &mut Routes, node: u32| group_shard[&routes.root(node)];
        let order_shard = orders.iter().map(|(&d, &node)| (d, shard_of(self, node))).collect();
        let institution_shard = institutions.iter().map(|(c, &node)| (c.clone(), shard_of(self, node))).collect();
        let delivery_shard = deliveries.iter().map(|(&d, &node)| (d, shard_of(self, node))).collect();
        let complaints = std::mem::take(&mut self.complaints);
        self.complaint_shard = complaints.iter().map(|(&d, &node)| (d, shard_of(self, node))).collect();
        (self.order_shard, self.institution_shard, self.delivery_shard) = (order_shard, institution_shard, delivery_shard);
        self.parent = Vec::new();
    }

    /// The shard of an institution's own business.
    pub fn institution_shard(&self, code: &str) -> u16 {
        self.institution_shard.get(code).copied().unwrap_or_else(|| institution_shard(code, self.shards))
    }

    fn order_shard(&self, order_id: &str) -> u16 {
        let digest = id_digest(order_id);
        self.order_shard.get(&digest).copied().unwrap_or_else(|| id_shard(digest, self.shards))
    }

    fn delivery_shard(&self, delivery_id: &str) -> Option<u16> {
        self.delivery_shard.get(&id_digest(delivery_id)).copied()
    }

    /// A complaint's shard: its institution's, else where it waits.
    fn complaint_shard(&self, complaint_id: &str) -> u16 {
        let digest = id_digest(complaint_id);
        self.complaint_shard.get(&digest).copied().unwrap_or_else(|| id_shard(digest, self.shards))
    }
}

/// An input's origin, which may carry a Kafka key.
pub trait Keyed {
    fn key(&self) -> Option<&[u8]> {
        None
    }
}

/// A line of an NDJSON file, or a test's numbered input: no key.
impl Keyed for crate::sources::ndjson::LineOrigin {}
impl Keyed for u32 {}
impl Keyed for () {}

impl Keyed for crate::sources::kafka::KafkaOrigin {
    fn key(&self) -> Option<&[u8]> {
        self.key.as_deref()
    }
}

/// Sends each event to its shard; see the module doc.
#[derive(Debug)]
pub struct Router {
    routes: Routes,
}

impl Router {
    pub fn new(mut routes: Routes) -> Self {
        routes.shards = routes.shards.max(1);
        Router { routes }
    }

    pub fn shards(&self) -> usize {
        self.routes.shards
    }

    /// The shard of each institution of the reference data, by position.
    pub fn homes<'a>(&self, codes: impl Iterator<Item = &'a str>) -> Vec<u16> {
        codes.map(|c| self.routes.institution_shard(c)).collect()
    }

    /// Where an event goes; `key` is its Kafka key (the institution's
    /// code, SPEC §4), which decides when there is one. Without learnt
    /// routes (live mode) an unkeyed event that names no institution goes
    /// where its order or delivery is, which the engine looks up.
    pub fn route<'e>(&self, event: &'e Event, key: Option<&[u8]>) -> Route<'e> {
        if self.routes.shards == 1 {
            return Route::Shard(0);
        }
        let r = &self.routes;
        if let Some(code) = key.and_then(|k| std::str::from_utf8(k).ok()) {
            return Route::Shard(usize::from(r.institution_shard(code)));
        }
        if !r.learnt {
            return match &event.body {
                EventBody::OrderPlaced(e) => Route::Shard(usize::from(r.institution_shard(&e.institution_code))),
                EventBody::PaymentMade(e) => Route::Shard(usize::from(r.institution_shard(&e.institution_code))),
                EventBody::OrderCancelled(e) => Route::Order(&e.order_id),
                EventBody::DeliveryReceived(e) => Route::Order(&e.order_id),
                EventBody::DeliveryAccepted(e) => Route::Delivery { delivery_id: &e.delivery_id, order_id: &e.order_id },
                EventBody::ComplaintFiled(e) => Route::Shard(usize::from(r.institution_shard(&e.institution_code))),
                EventBody::ComplaintReplied(e) => Route::Complaint(&e.complaint_id),
                EventBody::ComplaintResolved(e) => Route::Complaint(&e.complaint_id),
            };
        }
        Route::Shard(usize::from(match &event.body {
            EventBody::OrderPlaced(e) => r.order_shard(&e.order_id),
            EventBody::OrderCancelled(e) => r.order_shard(&e.order_id),
            EventBody::DeliveryReceived(e) => r.delivery_shard(&e.delivery_id).unwrap_or_else(|| r.order_shard(&e.order_id)),
            EventBody::DeliveryAccepted(e) => r.delivery_shard(&e.delivery_id).unwrap_or_else(|| r.order_shard(&e.order_id)),
            EventBody::PaymentMade(e) => r.delivery_shard(&e.delivery_id).unwrap_or_else(|| r.institution_shard(&e.institution_code)),
            EventBody::ComplaintFiled(e) => r.complaint_shard(&e.complaint_id),
            EventBody::ComplaintReplied(e) => r.complaint_shard(&e.complaint_id),
            EventBody::ComplaintResolved(e) => r.complaint_shard(&e.complaint_id),
        }))
    }

    /// Whether [`Router::route`] may answer with a lookup (live mode with
    /// several shards).
    pub fn looks_up(&self) -> bool {
        self.routes.shards > 1 && !self.routes.learnt
    }

    /// The shard of an id no shard holds: where it waits.
    pub fn fallback(&self, id: &str) -> usize {
        usize::from(id_shard(id_digest(id), self.routes.shards))
    }
}

/// Where [`Router::route`] sends an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'e> {
    Shard(usize),
    /// Where this order is (live mode, unkeyed).
    Order(&'e str),
    /// Where this delivery is, else where its order is (live, unkeyed).
    Delivery { delivery_id: &'e str, order_id: &'e str },
    /// Where this complaint is (live, unkeyed).
    Complaint(&'e str),
}
