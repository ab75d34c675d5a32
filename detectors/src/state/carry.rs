//! Carrying a state onto new reference data (a reload, or a restart with
//! changed files): every record follows its codes to the new ids, and what
//! cannot follow is counted and named, never dropped in silence.
//!
//! - Open and finished order lines, deliveries, complaints and the recent
//!   days of purchases follow their institution and product. Those of an
//!   institution or product that is gone are dropped and counted.
//! - An agreement that keeps its id, institution, family and period keeps
//!   its purchase sum (a changed agreed volume does not change the sum).
//! - An agreement that is new (or changed institution, family or period)
//!   is counted from the order lines the state still holds in full: the
//!   open ones. A finished line is folded without its quantities, and
//!   finished lines older than the retention are forgotten, so when either
//!   may hold purchases of its family since its start, the count is a
//!   lower bound and [`Carried::estimates`] says so, agreement by agreement.
//! - The institution × group windows (6.2, the report's columns 17–22)
//!   follow the same rule: kept when the window (institution, group, start)
//!   existed, else counted from the open lines.
//! - Products whose group, family, selection or base units per pack changed
//!   keep what they added to the sums before; what they add from now on
//!   counts the new way ([`Carried::changed_products`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::{FinishedOrder, Micros, OrderLine, Purchases, State};
use crate::reference::{AgreementId, InstitutionId, ProductId, ReferenceData, ReferenceKeys, Remap};
use crate::FastMap;

/// What a carry could not take across whole (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Carried {
    /// Codes the state named that the new data no longer has.
    pub removed_institutions: BTreeSet<String>,
    pub removed_products: BTreeSet<String>,
    /// What was dropped with them, by kind of record.
    pub dropped: BTreeMap<&'static str, u64>,
    /// Agreements whose purchase sum was kept.
    pub agreements_kept: u64,
    /// Agreements new or changed, counted from the open order lines.
    pub agreements_counted: u64,
    /// Agreements of the old data that are gone (or changed, and counted again).
    pub agreements_dropped: u64,
    /// Of the agreements counted, those whose count may be short.
    pub estimates: Vec<Estimate>,
    /// Institution × group windows counted from the open lines.
    pub windows_counted: u64,
    /// Of those, the ones that may be short (finished lines since their start).
    pub windows_estimated: u64,
    /// Products whose group, family, selection or base units changed.
    pub changed_products: Vec<String>,
}

/// An agreement whose purchased units after a carry are a lower bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Estimate {
    pub agreement_id: String,
    /// Base units counted from the open order lines.
    pub counted_units: Decimal,
    /// Why it may be short, in the words of the reload's log.
    pub reason: String,
}

impl Carried {
    /// The carry of several shards as one.
    pub fn merge(&mut self, other: Carried) {
        self.removed_institutions.extend(other.removed_institutions);
        self.removed_products.extend(other.removed_products);
        for (kind, n) in other.dropped {
            *self.dropped.entry(kind).or_default() += n;
        }
        // Every shard keeps a sum for every agreement: counted once.
        self.agreements_kept = self.agreements_kept.max(other.agreements_kept);
        self.agreements_counted = self.agreements_counted.max(other.agreements_counted);
        self.agreements_dropped = self.agreements_dropped.max(other.agreements_dropped);
        self.windows_counted = self.windows_counted.max(other.windows_counted);
        self.windows_estimated = self.windows_estimated.max(other.windows_estimated);
        let mut estimates: BTreeMap<String, Estimate> = self.estimates.drain(..).map(|e| (e.agreement_id.clone(), e)).collect();
        for e in other.estimates {
            match estimates.get_mut(&e.agreement_id) {
                // The institution lives in one shard; the other shards count 0.
                Some(known) => known.counted_units += e.counted_units,
                None => {
                    estimates.insert(e.agreement_id.clone(), e);
                }
            }
        }
        self.estimates = estimates.into_values().collect();
        if self.changed_products.is_empty() {
            self.changed_products = other.changed_products;
        }
    }

    /// Records dropped, over every kind.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        let dropped = if self.dropped.is_empty() {
            "nothing dropped".to_string()
        } else {
            let kinds: Vec<String> = self.dropped.iter().map(|(k, n)| format!("{n} {k}")).collect();
            format!(
                "dropped {} of {} removed institutions and {} removed products",
                kinds.join(", "),
                self.removed_institutions.len(),
                self.removed_products.len()
            )
        };
        format!(
            "{} agreements kept their sums, {} counted from open order lines ({} of them may be short), {} gone; {dropped}; {} products changed",
            self.agreements_kept,
            self.agreements_counted,
            self.estimates.len(),
            self.agreements_dropped,
            self.changed_products.len()
        )
    }
}

impl State {
    /// A state read back from a checkpoint written with the data of `old`,
    /// checked against it, then carried onto `new` ([`State::carried`]).
    pub fn restored_onto(self, old: &ReferenceKeys, new: &ReferenceData, forgotten_before: Micros) -> Result<(State, Carried), String> {
        self.check_ids(old)?;
        Ok(self.carried(old, new, &Remap::between(old, new), forgotten_before))
    }

    /// Every id the state holds was issued by the data of `old`.
    fn check_ids(&self, old: &ReferenceKeys) -> Result<(), String> {
        let (institutions, products, groups) = (old.institutions.len(), old.products.len(), old.groups.len());
        let fits = |i: InstitutionId, p: ProductId| i.index() < institutions && p.index() < products;
        let p = &self.purchases;
        let ok = self.orders.values().all(|l| fits(l.institution, l.product))
            && self.deliveries.values().all(|d| fits(d.institution, d.product))
            && self.finished_orders.values().all(|f| fits(f.institution, f.product))
            && self.finished_deliveries.values().all(|f| f.institution.index() < institutions)
            && self.complaints.values().all(|c| fits(c.institution, c.product))
            && self.recent.keys().all(|(i, p, _)| fits(*i, *p))
            && self.distributors.ids_within(institutions, products)
            && p.per_agreement.len() == old.agreements.len()
            && p.period_end_days.keys().all(|(a, _)| (*a as usize) < old.agreements.len())
            && p.windows.iter().all(|w| w.institution.index() < institutions && w.group.index() < groups)
            && p.selected_amounts.len() == p.windows.len()
            && p.bought.keys().all(|(w, product)| (*w as usize) < p.windows.len() && product.index() < products);
        if ok {
            Ok(())
        } else {
            Err("the checkpoint's state names ids that its own record of the reference data does not have".to_string())
        }
    }

    /// This state (whose ids were issued by the data of `old`) carried onto
    /// `new` through `remap`, with what could not be carried whole. Order
    /// lines finished before `forgotten_before` (the retention horizon) may
    /// have been forgotten.
    pub fn carried(self, old: &ReferenceKeys, new: &ReferenceData, remap: &Remap, forgotten_before: Micros) -> (State, Carried) {
        let mut carried = Carried { changed_products: remap.changed_products.clone(), ..Carried::default() };
        let mut lost = Lost { old, carried: &mut carried };
        let orders = self
            .orders
            .into_iter()
            .filter_map(|(id, mut l)| {
                let (i, p) = lost.both(remap, l.institution, l.product, "open order lines")?;
                (l.institution, l.product) = (i, p);
                Some((id, l))
            })
            .collect();
        let deliveries = self
            .deliveries
            .into_iter()
            .filter_map(|(id, mut d)| {
                let (i, p) = lost.both(remap, d.institution, d.product, "deliveries")?;
                (d.institution, d.product) = (i, p);
                Some((id, d))
            })
            .collect();
        let finished_orders = self
            .finished_orders
            .into_iter()
            .filter_map(|(id, mut f)| {
                let (i, p) = lost.both(remap, f.institution, f.product, "finished order lines")?;
                (f.institution, f.product) = (i, p);
                Some((id, f))
            })
            .collect();
        let finished_deliveries = self
            .finished_deliveries
            .into_iter()
            .filter_map(|(id, mut f)| {
                f.institution = lost.institution(remap, f.institution, "finished deliveries")?;
                Some((id, f))
            })
            .collect();
        let complaints = self
            .complaints
            .into_iter()
            .filter_map(|(id, mut c)| {
                let (i, p) = lost.both(remap, c.institution, c.product, "complaints")?;
                (c.institution, c.product) = (i, p);
                Some((id, c))
            })
            .collect();
        let recent = self
            .recent
            .into_iter()
            .filter_map(|((i, p, day), tally)| Some(((lost.both(remap, i, p, "days of recent purchases")?.0, remap.product(p)?, day), tally)))
            .collect();
        let mut state = State {
            orders,
            deliveries,
            finished_orders,
            finished_deliveries,
            purchases: Purchases::new(new),
            complaints,
            recent,
            distributors: self.distributors.remapped(remap),
            answers_for: None,
            unfolded: self.unfolded,
        };
        let horizon = crate::time::in_china(forgotten_before).date_naive();
        state.purchases = self.purchases.carried(old, new, remap, &state, horizon, &mut carried);
        (state, carried)
    }
}

/// Counts what a carry drops, with the codes of what is gone.
struct Lost<'a> {
    old: &'a ReferenceKeys,
    carried: &'a mut Carried,
}

impl Lost<'_> {
    fn institution(&mut self, remap: &Remap, old: InstitutionId, kind: &'static str) -> Option<InstitutionId> {
        let new = remap.institution(old);
        if new.is_none() {
            self.carried.removed_institutions.insert(self.old.institution_code(old).to_string());
            *self.carried.dropped.entry(kind).or_default() += 1;
        }
        new
    }

    fn both(
        &mut self,
        remap: &Remap,
        institution: InstitutionId,
        product: ProductId,
        kind: &'static str,
    ) -> Option<(InstitutionId, ProductId)> {
        let i = self.institution(remap, institution, kind)?;
        let Some(p) = remap.product(product) else {
            self.carried.removed_products.insert(self.old.product_code(product).to_string());
            *self.carried.dropped.entry(kind).or_default() += 1;
            return None;
        };
        Some((i, p))
    }
}

impl Purchases {
    /// The sums for `new`: kept where the agreement or window is the same,
    /// else counted from the open lines of `state` (already carried).
    fn carried(self, old: &ReferenceKeys, new: &ReferenceData, remap: &Remap, state: &State, horizon: NaiveDate, carried: &mut Carried) -> Purchases {
        let mut sums = Purchases::new(new);
        let recount = Purchases::of_open_lines(new, state.orders.values());
        let mut kept = vec![false; new.agreements.len()];
        for (index, units) in self.per_agreement.iter().enumerate() {
            match remap.agreement(AgreementId(index as u32)) {
                Some(to) => {
                    sums.per_agreement[to.index()] = *units;
                    kept[to.index()] = true;
                }
                None => carried.agreements_dropped += 1,
            }
        }
        for (&(agreement, day), units) in &self.period_end_days {
            if let Some(to) = remap.agreement(AgreementId(agreement)) {
                sums.period_end_days.insert((to.0, day), *units);
            }
        }
        carried.agreements_kept = kept.iter().filter(|k| **k).count() as u64;
        let folded = FoldedSince::of(state.finished_orders.values());
        let mut family_products: FastMap<u32, Vec<ProductId>> = FastMap::default();
        for (index, p) in new.products.iter().enumerate() {
            if let Some(f) = p.family {
                family_products.entry(f.0).or_default().push(ProductId(index as u32));
            }
        }
        for (index, agreement) in new.agreements.iter().enumerate().filter(|(i, _)| !kept[*i]) {
            carried.agreements_counted += 1;
            let units = recount.per_agreement[index];
            sums.per_agreement[index] = units;
            for (&(a, day), u) in recount.period_end_days.iter().filter(|((a, _), _)| *a as usize == index) {
                sums.period_end_days.insert((a, day), *u);
            }
            let family = family_products.get(&agreement.family.0).map_or(&[][..], Vec::as_slice);
            let finished = folded.since(agreement.institution, family, agreement.period_start);
            if let Some(reason) = short_because(finished, agreement.period_start, horizon) {
                carried.estimates.push(Estimate { agreement_id: agreement.agreement_id.clone(), counted_units: units, reason });
            }
        }
        self.carry_windows(old, new, remap, &recount, &folded, horizon, &mut sums, carried);
        sums
    }

    /// The institution × group windows (see the module doc).
    #[allow(clippy::too_many_arguments)]
    fn carry_windows(
        self,
        old: &ReferenceKeys,
        new: &ReferenceData,
        remap: &Remap,
        recount: &Purchases,
        folded: &FoldedSince,
        horizon: NaiveDate,
        sums: &mut Purchases,
        carried: &mut Carried,
    ) {
        // Old window → new window of the same institution, group and start.
        let mut to_new: Vec<Option<usize>> = Vec::with_capacity(self.windows.len());
        let mut kept = vec![false; sums.windows.len()];
        for w in &self.windows {
            let to = match (remap.institution(w.institution), remap.group(w.group)) {
                (Some(i), Some(g)) => sums.window(i, g, w.start),
                _ => None,
            };
            if to.is_none() {
                // No agreement of the new data opens this window any more.
                *carried.dropped.entry("institution × group windows").or_default() += 1;
            }
            to_new.push(to);
        }
        for (from, to) in to_new.iter().enumerate() {
            let Some(to) = *to else { continue };
            kept[to] = true;
            let w = &self.windows[from];
            sums.windows[to].selected_units = w.selected_units;
            sums.windows[to].non_selected_units = w.non_selected_units;
            sums.selected_amounts[to] = self.selected_amounts[from];
        }
        for (&(from, product), bought) in &self.bought {
            let to = to_new.get(from as usize).copied().flatten();
            match (to, remap.product(product)) {
                (Some(to), Some(p)) => {
                    sums.bought.insert((to as u32, p), *bought);
                }
                (Some(_), None) => {
                    carried.removed_products.insert(old.product_code(product).to_string());
                    *carried.dropped.entry("report sums of removed products").or_default() += 1;
                }
                (None, _) => {}
            }
        }
        for index in (0..kept.len()).filter(|&w| !kept[w]) {
            carried.windows_counted += 1;
            let w = &recount.windows[index];
            sums.windows[index].selected_units = w.selected_units;
            sums.windows[index].non_selected_units = w.non_selected_units;
            sums.selected_amounts[index] = recount.selected_amounts[index];
            for (&(at, p), b) in recount.bought.iter().filter(|((at, _), _)| *at as usize == index) {
                sums.bought.insert((at, p), *b);
            }
            let group_products: Vec<ProductId> =
                new.products.iter().enumerate().filter(|(_, p)| p.group == w.group).map(|(i, _)| ProductId(i as u32)).collect();
            if short_because(folded.since(w.institution, &group_products, w.start), w.start, horizon).is_some() {
                carried.windows_estimated += 1;
            }
        }
    }

    /// The sums that the open lines alone add up to under `reference`
    /// (their share class worked out again: exemptions may have changed).
    fn of_open_lines<'a>(reference: &ReferenceData, lines: impl Iterator<Item = &'a OrderLine>) -> Purchases {
        let mut sums = Purchases::new(reference);
        for line in lines.filter(|l| !l.special_service) {
            let net = line.packs - line.cancelled;
            let product = &reference.products[line.product.index()];
            let (Some(units), Some(amount)) = (net.checked_mul(product.base_units_per_pack), net.checked_mul(line.unit_price)) else {
                continue;
            };
            let class = sums.share_class(reference, line.institution, product, line.unit_price, line.placed_on);
            // A sum that would overflow was refused when the line was placed.
            let _ = sums.add(reference, line.institution, line.product, class, line.placed_on, units, amount);
        }
        sums
    }
}

/// Why a count from the open lines may be short, if it may. Lines
/// finished before `horizon`'s instant may be forgotten: so may some
/// finished on that date, which a period starting then counts.
fn short_because(finished_since_start: usize, start: NaiveDate, horizon: NaiveDate) -> Option<String> {
    let forgotten = start <= horizon;
    match (finished_since_start, forgotten) {
        (0, false) => None,
        (n, false) => Some(format!("{n} finished order lines since {start} are folded without their quantities")),
        (0, true) => Some(format!("finished order lines placed between {start} and {horizon} are past the retention and forgotten")),
        (n, true) => Some(format!(
            "{n} finished order lines since {start} are folded without their quantities, and those finished before {horizon} are forgotten"
        )),
    }
}

/// The dates finished order lines were placed on, by (institution, product).
struct FoldedSince {
    placed: FastMap<(u32, u32), Vec<NaiveDate>>,
}

impl FoldedSince {
    fn of<'a>(finished: impl Iterator<Item = &'a FinishedOrder>) -> Self {
        let mut placed: FastMap<(u32, u32), Vec<NaiveDate>> = FastMap::default();
        // Special-service lines and lines cancelled in full add no units.
        for f in finished.filter(|f| f.is_due_line()) {
            placed.entry((f.institution.0, f.product.0)).or_default().push(crate::time::in_china(f.placed_at).date_naive());
        }
        FoldedSince { placed }
    }

    /// Finished lines of `institution` for any of `products` placed on or after `start`.
    fn since(&self, institution: InstitutionId, products: &[ProductId], start: NaiveDate) -> usize {
        products
            .iter()
            .filter_map(|p| self.placed.get(&(institution.0, p.0)))
            .map(|days| days.iter().filter(|d| **d >= start).count())
            .sum()
    }
}
