//! Purchase sums that 6.1 and 6.2 read: base units per agreement, and
//! selected / non-selected base units per institution × group window.
//!
//! Both are kept as running sums so memory grows with agreements, not with
//! orders. An order adds its units once; a cancellation takes its units back
//! out of the same sums, because SPEC counts (packs − cancelled) × base units.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::reference::{AgreementId, GroupId, InstitutionId, Product, ReferenceData};

/// How one order counts in its group's non-selected share (6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareClass {
    Selected,
    NonSelected,
    /// Non-selected but left out by seed 002 二(四): backup supplier, no
    /// dearer than the cheapest selected product, or under an exemption.
    Excluded,
}

/// The units of one institution × group since one agreement period start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWindow {
    pub start: NaiveDate,
    pub selected_units: Decimal,
    pub non_selected_units: Decimal,
}

/// Running purchase sums, indexed by what the reference data declares.
#[derive(Debug, Clone, Default)]
pub struct Purchases {
    /// Base units bought under each agreement (by `AgreementId`).
    pub per_agreement: Vec<Decimal>,
    /// One window per distinct period start of the institution's agreements
    /// in the group, sorted by start.
    pub per_group: HashMap<(InstitutionId, GroupId), Vec<GroupWindow>>,
    /// Which agreements an order of (institution, family) counts toward.
    agreements_of: HashMap<(InstitutionId, u32), Vec<AgreementId>>,
    /// Exemption windows of each institution × group, inclusive dates.
    exemptions_of: HashMap<(InstitutionId, GroupId), Vec<(NaiveDate, NaiveDate)>>,
}

impl Purchases {
    /// Sets up the empty sums for the agreements of `reference`.
    pub fn new(reference: &ReferenceData) -> Self {
        let mut agreements_of: HashMap<(InstitutionId, u32), Vec<AgreementId>> = HashMap::new();
        let mut per_group: HashMap<(InstitutionId, GroupId), Vec<GroupWindow>> = HashMap::new();
        for (index, agreement) in reference.agreements.iter().enumerate() {
            let id = AgreementId(index as u32);
            agreements_of.entry((agreement.institution, agreement.family.0)).or_default().push(id);
            let group = reference.families[agreement.family.0 as usize].group;
            let windows = per_group.entry((agreement.institution, group)).or_default();
            if !windows.iter().any(|w| w.start == agreement.period_start) {
                windows.push(GroupWindow {
                    start: agreement.period_start,
                    selected_units: Decimal::ZERO,
                    non_selected_units: Decimal::ZERO,
                });
            }
        }
        for windows in per_group.values_mut() {
            windows.sort_by_key(|w| w.start);
        }
        let mut exemptions_of: HashMap<(InstitutionId, GroupId), Vec<(NaiveDate, NaiveDate)>> = HashMap::new();
        for e in &reference.exemptions {
            exemptions_of.entry((e.institution, e.group)).or_default().push((e.valid_from, e.valid_to));
        }
        Purchases {
            per_agreement: vec![Decimal::ZERO; reference.agreements.len()],
            per_group,
            agreements_of,
            exemptions_of,
        }
    }

    /// Adds (or, with negative `units`, takes back) an order's base units
    /// placed on local date `placed_on`.
    pub fn add(
        &mut self,
        reference: &ReferenceData,
        institution: InstitutionId,
        product: &Product,
        class: ShareClass,
        placed_on: NaiveDate,
        units: Decimal,
    ) {
        if let Some(family) = product.family {
            for id in self.agreements_of.get(&(institution, family.0)).into_iter().flatten() {
                let agreement = &reference.agreements[id.0 as usize];
                if agreement.period_start <= placed_on && placed_on <= agreement.period_end {
                    self.per_agreement[id.0 as usize] += units;
                }
            }
        }
        let Some(windows) = self.per_group.get_mut(&(institution, product.group)) else {
            return;
        };
        for window in windows.iter_mut().filter(|w| w.start <= placed_on) {
            match class {
                ShareClass::Selected => window.selected_units += units,
                ShareClass::NonSelected => window.non_selected_units += units,
                ShareClass::Excluded => {}
            }
        }
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
