//! Who delivers what (配送企业): the distributor each `delivery.received`
//! names, for on-call staff triaging a supply break — whom to call about an
//! open line, and which hospitals of the city still receive the product.
//!
//! Names are interned (a province has hundreds of distributors and millions
//! of deliveries). For each institution × product the latest delivery is
//! kept, the latest by (time, name) so that the answer does not depend on
//! the order events arrive in.

use serde::{Deserialize, Serialize};

use super::Micros;
use crate::reference::{InstitutionId, ProductId};
use crate::FastMap;

/// A distributor's position in [`Distributors::names`].
pub type DistributorId = u32;

/// One delivery as the triage views name it: by whom and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Delivered {
    pub at: Micros,
    pub by: DistributorId,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Distributors {
    /// Every name seen, in order of first appearance.
    names: Vec<String>,
    /// Name → position in `names`; rebuilt when read back.
    #[serde(skip)]
    index: FastMap<String, DistributorId>,
    /// The latest delivery of each institution × product.
    latest: FastMap<(InstitutionId, ProductId), Delivered>,
}

impl Distributors {
    /// The id of `name`, interned on first sight.
    pub fn intern(&mut self, name: &str) -> DistributorId {
        if self.index.is_empty() && !self.names.is_empty() {
            self.rebuild_index();
        }
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len() as DistributorId;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        id
    }

    fn rebuild_index(&mut self) {
        self.index = self.names.iter().enumerate().map(|(i, n)| (n.clone(), i as DistributorId)).collect();
    }

    pub fn name(&self, id: DistributorId) -> &str {
        self.names.get(id as usize).map_or("", String::as_str)
    }

    /// Records a delivery of `product` to `institution`.
    pub fn delivered(&mut self, institution: InstitutionId, product: ProductId, delivery: Delivered) {
        let names = &self.names;
        let later = |a: &Delivered, b: &Delivered| (a.at, names.get(a.by as usize)) > (b.at, names.get(b.by as usize));
        match self.latest.get_mut(&(institution, product)) {
            Some(known) if !later(&delivery, known) => {}
            Some(known) => *known = delivery,
            None => {
                self.latest.insert((institution, product), delivery);
            }
        }
    }

    /// The latest delivery of `product` to `institution`, if any.
    pub fn latest(&self, institution: InstitutionId, product: ProductId) -> Option<Delivered> {
        self.latest.get(&(institution, product)).copied()
    }

    /// Every institution's latest delivery of `product`.
    pub fn of_product(&self, product: ProductId) -> impl Iterator<Item = (InstitutionId, Delivered)> + '_ {
        self.latest.iter().filter(move |((_, p), _)| *p == product).map(|((i, _), d)| (*i, *d))
    }

    /// The same, with institutions and products moved to new ids (a
    /// reload); those gone are dropped.
    pub fn remapped(self, remap: &crate::reference::Remap) -> Distributors {
        let latest = self.latest.into_iter().filter_map(|((i, p), d)| Some((remap.both(i, p)?, d))).collect();
        let mut out = Distributors { names: self.names, index: FastMap::default(), latest };
        out.rebuild_index();
        out
    }

    /// Heap bytes, for the footprint.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        super::footprint::table_bytes(self.latest.capacity(), size_of::<((InstitutionId, ProductId), Delivered)>())
            + self.names.iter().map(String::capacity).sum::<usize>()
    }

    /// Whether every id is below the counts given (a checkpoint's check).
    pub fn ids_within(&self, institutions: usize, products: usize) -> bool {
        self.latest.iter().all(|((i, p), d)| i.index() < institutions && p.index() < products && (d.by as usize) < self.names.len())
    }
}
