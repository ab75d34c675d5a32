//! Purchase sums that 6.1 and 6.2 read: base units per agreement, and
//! selected / non-selected base units per institution × group window.
//!
//! The execution report (SPEC §10) reads two more sums per window: the
//! amount of the group's selected products, and the units and amount of
//! each non-selected product of the group and each substitute of it
//! ([`Bought`]). Both are kept as running sums so memory grows with
//! agreements, not with orders. An order adds its units once; a cancellation takes its units back
//! out of the same sums, because SPEC counts (packs − cancelled) × base units.

use crate::FastMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::reference::{AgreementId, GroupId, InstitutionId, Product, ProductId, ReferenceData};

/// How one order counts in its group's non-selected share (6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShareClass {
    Selected,
    NonSelected,
    /// Non-selected but left out by seed 002 二(四): backup supplier, no
    /// dearer than the cheapest selected product, or under an exemption.
    Excluded,
}

/// A purchase sum would leave the range of an exact decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// The units of one institution × group since one agreement period start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupWindow {
    pub institution: InstitutionId,
    pub group: GroupId,
    pub start: NaiveDate,
    pub selected_units: Decimal,
    pub non_selected_units: Decimal,
}

impl GroupWindow {
    /// The sum orders of `class` count in (none for excluded ones).
    fn sum_of(&mut self, class: ShareClass) -> Option<&mut Decimal> {
        match class {
            ShareClass::Selected => Some(&mut self.selected_units),
            ShareClass::NonSelected => Some(&mut self.non_selected_units),
            ShareClass::Excluded => None,
        }
    }
}

/// Running purchase sums, indexed by what the reference data declares.
///
/// A checkpoint keeps the sums only; the lookups are derived from the
/// reference data and rebuilt by [`Purchases::restored`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Purchases {
    /// Base units bought under each agreement (by `AgreementId`).
    pub per_agreement: Vec<Decimal>,
    /// Base units bought under an agreement on each local date of its
    /// period's last [`PERIOD_END_DAYS`] days (6.7 reads the last 30 days
    /// before T, T itself in the period's last 30): by (`AgreementId`, date).
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub period_end_days: FastMap<(u32, NaiveDate), Decimal>,
    /// One window per distinct period start of an institution's agreements
    /// in a group, sorted by (institution, group, start). The windows are
    /// fixed by the agreements, so this order is also the row order of the
    /// `group_windows` table, whose other columns are built once.
    pub windows: Vec<GroupWindow>,
    /// By window (position in `windows`): the amount (yuan) of the
    /// group's selected products bought since the window's start (§10).
    pub selected_amounts: Vec<Decimal>,
    /// (window, product) → what the institution bought since the window's
    /// start of a non-selected product of the window's group, or of a
    /// substitute of the group (§10 columns 18–22). Raw execution: no
    /// exemption, backup supplier or price leaves an order out.
    #[serde(deserialize_with = "crate::presized::deserialize")]
    pub bought: FastMap<(u32, ProductId), Bought>,
    /// Where the windows of each institution × group are in `windows`.
    #[serde(skip)]
    windows_of: FastMap<(InstitutionId, GroupId), std::ops::Range<usize>>,
    /// Which agreements an order of (institution, family) counts toward.
    #[serde(skip)]
    agreements_of: FastMap<(InstitutionId, u32), Vec<AgreementId>>,
    /// Exemption windows of each institution × group, inclusive dates.
    #[serde(skip)]
    exemptions_of: FastMap<(InstitutionId, GroupId), Vec<(NaiveDate, NaiveDate)>>,
    /// The groups each product substitutes for (`substitutes.csv`).
    #[serde(skip)]
    substitutes_for: FastMap<ProductId, Vec<GroupId>>,
}

/// Units and amount of one product bought in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bought {
    pub units: Decimal,
    /// (packs − cancelled) × unit_price, yuan.
    pub amount: Decimal,
}

/// How many of a period's last days [`Purchases::period_end_days`] keeps:
/// 6.7's window (30 days) ending on any of the period's last 30 days.
pub const PERIOD_END_DAYS: i64 = 59;

impl GroupWindow {
    /// What identifies a window, in table order.
    fn key(&self) -> (u32, u32, NaiveDate) {
        (self.institution.0, self.group.0, self.start)
    }
}

impl Purchases {
    /// Sets up the empty sums for the agreements of `reference`.
    pub fn new(reference: &ReferenceData) -> Self {
        let mut windows: Vec<GroupWindow> = reference
            .agreements
            .iter()
            .map(|agreement| GroupWindow {
                institution: agreement.institution,
                group: reference.families[agreement.family.0 as usize].group,
                start: agreement.period_start,
                selected_units: Decimal::ZERO,
                non_selected_units: Decimal::ZERO,
            })
            .collect();
        windows.sort_unstable_by_key(GroupWindow::key);
        windows.dedup_by_key(|w| w.key());
        let sums = Purchases {
            per_agreement: vec![Decimal::ZERO; reference.agreements.len()],
            selected_amounts: vec![Decimal::ZERO; windows.len()],
            windows,
            ..Default::default()
        };
        sums.with_lookups(reference)
    }

    /// Sums read back from a checkpoint, checked against the reference
    /// data they must belong to, with the lookups rebuilt.
    pub fn restored(self, reference: &ReferenceData) -> Result<Self, String> {
        if self.per_agreement.len() != reference.agreements.len() {
            return Err(format!(
                "the checkpoint has sums for {} agreements but agreements.csv has {}",
                self.per_agreement.len(),
                reference.agreements.len()
            ));
        }
        let fresh = Purchases::new(reference);
        let differs = self.windows.len() != fresh.windows.len()
            || self.windows.iter().zip(&fresh.windows).any(|(a, b)| a.key() != b.key());
        if differs || self.selected_amounts.len() != self.windows.len() {
            return Err("the checkpoint's institution × group windows are not those of agreements.csv".to_string());
        }
        if self.bought.keys().any(|&(w, p)| w as usize >= self.windows.len() || p.index() >= reference.products.len()) {
            return Err("the checkpoint's report sums name a window or product that the reference data does not have".to_string());
        }
        Ok(self.with_lookups(reference))
    }

    fn with_lookups(mut self, reference: &ReferenceData) -> Self {
        self.agreements_of.clear();
        for (index, agreement) in reference.agreements.iter().enumerate() {
            self.agreements_of.entry((agreement.institution, agreement.family.0)).or_default().push(AgreementId(index as u32));
        }
        self.exemptions_of.clear();
        for e in &reference.exemptions {
            self.exemptions_of.entry((e.institution, e.group)).or_default().push((e.valid_from, e.valid_to));
        }
        self.substitutes_for.clear();
        for s in &reference.substitutes {
            self.substitutes_for.entry(s.product).or_default().push(s.group);
        }
        self.windows_of.clear();
        for (index, w) in self.windows.iter().enumerate() {
            let range = self.windows_of.entry((w.institution, w.group)).or_insert(index..index);
            range.end = index + 1;
        }
        self
    }

    /// (entries, bytes per entry, heap bytes of the values) of each lookup
    /// table, for [`State::heap_bytes`](super::State::heap_bytes).
    pub(super) fn lookup_sizes(&self) -> [(usize, usize, usize); 4] {
        use std::mem::size_of;
        let values = |n: usize, item: usize| super::footprint::allocation_bytes(n * item);
        [
            (
                self.agreements_of.capacity(),
                size_of::<((InstitutionId, u32), Vec<AgreementId>)>(),
                self.agreements_of.values().map(|v| values(v.capacity(), size_of::<AgreementId>())).sum(),
            ),
            (
                self.exemptions_of.capacity(),
                size_of::<((InstitutionId, GroupId), Vec<(NaiveDate, NaiveDate)>)>(),
                self.exemptions_of.values().map(|v| values(v.capacity(), size_of::<(NaiveDate, NaiveDate)>())).sum(),
            ),
            (self.windows_of.capacity(), size_of::<((InstitutionId, GroupId), std::ops::Range<usize>)>(), 0),
            (
                self.substitutes_for.capacity(),
                size_of::<(ProductId, Vec<GroupId>)>(),
                self.substitutes_for.values().map(|v| values(v.capacity(), size_of::<GroupId>())).sum(),
            ),
        ]
    }

    /// Adds (or, with negative `units` and `amount`, takes back) an order's
    /// base units and amount (yuan) placed on local date `placed_on`; when
    /// a sum would overflow, changes none of them.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        reference: &ReferenceData,
        institution: InstitutionId,
        product_id: ProductId,
        class: ShareClass,
        placed_on: NaiveDate,
        units: Decimal,
        amount: Decimal,
    ) -> Result<(), Overflow> {
        let product = &reference.products[product_id.index()];
        let mut agreements: Vec<usize> = Vec::new();
        if let Some(family) = product.family {
            for id in self.agreements_of.get(&(institution, family.0)).into_iter().flatten() {
                let agreement = &reference.agreements[id.0 as usize];
                if agreement.period_start <= placed_on && placed_on <= agreement.period_end {
                    agreements.push(id.0 as usize);
                }
            }
        }
        let windows = self.windows_since(institution, product.group, placed_on);
        let substituted: Vec<usize> = self
            .substitutes_for
            .get(&product_id)
            .into_iter()
            .flatten()
            .flat_map(|&group| self.windows_since(institution, group, placed_on))
            .collect();
        // The windows where the product is bought by product (§10): its own
        // group's when it is not selected, and those it substitutes for.
        let by_product: Vec<usize> = if product.selected { Vec::new() } else { windows.clone() };
        let by_product = by_product.into_iter().chain(substituted);
        let fits = |sum: &Decimal, by: Decimal| sum.checked_add(by).is_some();
        let bought_fits = |w: &usize| {
            let b = self.bought.get(&(*w as u32, product_id)).copied().unwrap_or_default();
            fits(&b.units, units) && fits(&b.amount, amount)
        };
        let fit = agreements.iter().all(|&a| fits(&self.per_agreement[a], units))
            && windows.iter().all(|&w| self.windows[w].sum_of(class).is_none_or(|sum| fits(sum, units)))
            && windows.iter().all(|&w| !product.selected || fits(&self.selected_amounts[w], amount))
            && by_product.clone().all(|w| bought_fits(&w));
        if !fit {
            return Err(Overflow);
        }
        for a in agreements {
            self.per_agreement[a] += units;
            if (reference.agreements[a].period_end - placed_on).num_days() < PERIOD_END_DAYS {
                add_day(&mut self.period_end_days, (a as u32, placed_on), units);
            }
        }
        for &w in &windows {
            if let Some(sum) = self.windows[w].sum_of(class) {
                *sum += units;
            }
            if product.selected {
                self.selected_amounts[w] += amount;
            }
        }
        for w in by_product {
            let b = self.bought.entry((w as u32, product_id)).or_default();
            b.units += units;
            b.amount += amount;
        }
        Ok(())
    }

    /// The windows of `institution` × `group` that started on or before `day`.
    fn windows_since(&self, institution: InstitutionId, group: GroupId, day: NaiveDate) -> Vec<usize> {
        let range = self.windows_of.get(&(institution, group)).cloned().unwrap_or_default();
        range.filter(|&w| self.windows[w].start <= day).collect()
    }

    /// The window of `institution` × `group` that starts on `start`.
    pub fn window(&self, institution: InstitutionId, group: GroupId, start: NaiveDate) -> Option<usize> {
        let range = self.windows_of.get(&(institution, group)).cloned().unwrap_or_default();
        range.into_iter().find(|&w| self.windows[w].start == start)
    }

    /// Forgets the period-end days before `first_kept`.
    pub fn forget_period_end_days_before(&mut self, first_kept: NaiveDate) {
        self.period_end_days.retain(|(_, day), _| *day >= first_kept);
    }

    /// Classifies an order for 6.2. `unit_price` is yuan per pack.
    pub fn share_class(
        &self,
        reference: &ReferenceData,
        institution: InstitutionId,
        product: &Product,
        unit_price: Decimal,
        placed_on: NaiveDate,
    ) -> ShareClass {
        if product.selected {
            return ShareClass::Selected;
        }
        if product.backup_supplier {
            return ShareClass::Excluded;
        }
        let group = &reference.groups[product.group.0 as usize];
        // price per base unit ≤ lowest selected price per base unit, compared
        // without dividing so that no rounding can move an order across the line.
        if let Some(lowest) = group.lowest_selected_price_per_base_unit {
            if lowest.checked_mul(product.base_units_per_pack).is_some_and(|cap| unit_price <= cap) {
                return ShareClass::Excluded;
            }
        }
        let exempt = self
            .exemptions_of
            .get(&(institution, product.group))
            .is_some_and(|windows| windows.iter().any(|&(from, to)| from <= placed_on && placed_on <= to));
        if exempt {
            ShareClass::Excluded
        } else {
            ShareClass::NonSelected
        }
    }
}

/// Adds `units` to a day's sum; a take-back (negative) of a day already
/// forgotten changes no window and is dropped with it.
fn add_day(days: &mut FastMap<(u32, NaiveDate), Decimal>, key: (u32, NaiveDate), units: Decimal) {
    if units > Decimal::ZERO {
        *days.entry(key).or_default() += units;
    } else if let Some(sum) = days.get_mut(&key) {
        *sum += units;
    }
}
