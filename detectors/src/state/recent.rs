//! Recent purchases by local order date, for the rules that compare
//! windows of days: 6.6 `SubstituteSurge` (what substitutes cost) and
//! 6.8 `PriceAboveSelected` (what was paid above the selected price).
//!
//! Only orders those rules can read are tallied: non-special orders of a
//! product that substitutes for some group, or of a selected product above
//! its selected price per pack. A cancellation takes its packs back out of
//! the day its order was placed on, as SPEC counts (packs − cancelled). Days
//! older than [`KEPT_DAYS`] before an evaluation are no window's and are
//! forgotten at the retention sweep.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{OrderLine, State};
use crate::reference::{InstitutionId, ProductId, ReferenceData};

/// The longest window read: 6.6's baseline reaches back to date(T) − 119.
pub const KEPT_DAYS: i64 = 120;

/// What one institution bought of one product on one local date.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTally {
    /// Σ (packs − cancelled) × unit_price of a substituting product (6.6).
    pub amount: Decimal,
    /// Σ (unit_price − selected price per pack) × (packs − cancelled) of
    /// the orders above the selected price (6.8).
    pub overcharge: Decimal,
    /// Their packs, cancellations taken out.
    pub overpriced_packs: Decimal,
    /// How many of them still have packs not cancelled.
    pub overpriced_orders: u32,
    /// The highest unit price among them, yuan per pack.
    pub highest_price: Decimal,
}

/// (institution, product, local order date).
pub type DayKey = (InstitutionId, ProductId, NaiveDate);

impl State {
    /// Tallies `packs` of `line` (negative for a cancellation, which also
    /// passes `left` = the packs not cancelled afterwards).
    pub(super) fn tally_recent(&mut self, reference: &ReferenceData, line: &OrderLine, packs: Decimal, left: Decimal) {
        if line.special_service {
            return;
        }
        let product = &reference.products[line.product.index()];
        let substitute = reference.is_substitute(line.product);
        let over = product.selected_price_per_pack().filter(|selected| line.unit_price > *selected);
        if !substitute && over.is_none() {
            return;
        }
        let key = (line.institution, line.product, line.placed_on);
        let placing = packs > Decimal::ZERO;
        // A cancellation of a day already forgotten changes no window.
        let Some(day) = (if placing { Some(self.recent.entry(key).or_default()) } else { self.recent.get_mut(&key) }) else {
            return;
        };
        if substitute {
            day.amount += packs * line.unit_price;
        }
        if let Some(selected) = over {
            day.overcharge += packs * (line.unit_price - selected);
            day.overpriced_packs += packs;
            day.highest_price = day.highest_price.max(line.unit_price);
            if placing {
                day.overpriced_orders += 1;
            } else if left.is_zero() {
                day.overpriced_orders = day.overpriced_orders.saturating_sub(1);
            }
        }
    }

    /// Forgets the days before `first_kept`.
    pub(super) fn forget_recent_before(&mut self, first_kept: NaiveDate) {
        self.recent.retain(|(_, _, day), _| *day >= first_kept);
    }
}
