//! Agreements (购销协议), derived from what each institution actually bought.
//!
//! Why derived: agreed volumes are reported by hospitals from their own
//! consumption (SPEC §1, seed 002 二(一) "结合临床实际需求"), so a clean
//! institution's progress sits near its time-proportional schedule. The
//! simulator sets each agreed volume from the planned consumption rate of
//! the (institution, family) over the whole period, divided by a factor:
//! 0.92–1.05 for the background, 0.30 or 0.65 where a lag is planted. As
//! purchases are bought ahead of consumption, progress / schedule stays at
//! or above the factor (times (d−1)/d for the day in progress) at every
//! evaluation, and at most one supply interval above it.
//!
//! A laggard's agreement (region scale, `Plan::lagging`) is set from what
//! was actually bought by as_of instead, so progress / schedule there is
//! exactly the planted 25–35 % or 60–68 % (to within the rounding of the
//! agreed volume to whole units, under 1 % once 50 units were bought;
//! agreements with less stay ordinary).

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use super::behaviour::Plan;
use super::catalogue::Catalogue;
use super::clock::{local_date, local_midnight};
use super::events::GroupLedger;
use super::institutions::{Level, Population};
use super::rng::Rng;

#[derive(Debug, Clone)]
pub struct AgreementRow {
    pub id: String,
    pub inst: u32,
    pub family: u32,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// Whole base units.
    pub agreed_units: i64,
    /// Units ×100 bought under it by as_of (active agreements only).
    pub purchased_c: i64,
    /// A laggard's planted progress at as_of, ‰ of schedule.
    pub lag_pm: Option<u32>,
}

impl AgreementRow {
    pub fn active(&self, d: NaiveDate) -> bool {
        self.start <= d && d <= self.end
    }
}

/// Purchases (units ×100) below which an agreement is not made to lag: the
/// agreed volume would be too small for its rounding to stay negligible.
const LAGGING_MIN_PURCHASED_C: i64 = 50 * 100;

/// The agreed volume (whole units, rounded) under which `purchased_c`
/// units ×100 after `elapsed` of `total` days are `factor_pm` ‰ of the
/// time-proportional schedule.
fn agreed_from_purchases(purchased_c: i64, total: i64, elapsed: i64, factor_pm: i64) -> i64 {
    let num = purchased_c as i128 * total as i128 * 1000;
    let den = elapsed as i128 * factor_pm as i128 * 100;
    ((num + den / 2) / den) as i64
}

/// `ledgers` sorted by institution.
pub fn derive(
    seed: u64,
    cat: &Catalogue,
    pop: &Population,
    plan: &Plan,
    ledgers: &[(u32, Vec<GroupLedger>)],
    window_start: NaiveDate,
    as_of_date: NaiveDate,
) -> Vec<AgreementRow> {
    let mut rng = Rng::for_stream(seed, 30, 0);
    let zero: BTreeSet<(u32, u32)> = plan.zero_agreements.iter().copied().collect();
    let mut rows = Vec::new();
    for (inst, ledger) in ledgers {
        let inst = *inst;
        let level = pop.institutions[inst as usize].level;
        let mut mine: Vec<AgreementRow> = Vec::new();
        for l in ledger {
            let group = &cat.groups[l.group as usize];
            let batch = &cat.batches[group.batch];
            for (slot, &family) in group.families.iter().enumerate() {
                let purchased = l.purchased[slot.min(1)];
                if purchased <= 0 || zero.contains(&(inst, family as u32)) {
                    continue;
                }
                let (start, end) = (batch.period_start, batch.period_end);
                if !(start <= as_of_date && as_of_date <= end) {
                    continue;
                }
                let elapsed = (as_of_date - start).num_days() + 1;
                let total = (end - start).num_days() + 1;
                let lag_pm =
                    plan.lagging.get(&(inst, l.group)).copied().filter(|_| purchased >= LAGGING_MIN_PURCHASED_C);
                let agreed = match lag_pm {
                    Some(pm) => agreed_from_purchases(purchased, total, elapsed, i64::from(pm)),
                    None => {
                        let factor_pm = plan
                            .progress_pm
                            .get(&(inst, family as u32))
                            .copied()
                            .map(i64::from)
                            .unwrap_or_else(|| rng.range(920, 1050));
                        let rate = l.rate[slot.min(1)];
                        if rate > 0.0 {
                            // From the planned consumption: purchases (bought
                            // ahead) never fall behind it, so progress /
                            // schedule ≥ factor at every instant, not only at as_of.
                            (rate * total as f64 * 1000.0 / (factor_pm as f64 * 100.0)).round() as i64
                        } else {
                            // Bought only through planted lines: from the units by as_of.
                            agreed_from_purchases(purchased, total, elapsed, factor_pm)
                        }
                    }
                }
                .max(1);
                if let (Some((ps, pe)), Level::Tertiary) = (batch.prior, level) {
                    // Tertiary hospitals also carry the ended agreement of the previous round.
                    mine.push(AgreementRow {
                        id: String::new(),
                        inst,
                        family: family as u32,
                        start: ps,
                        end: pe,
                        agreed_units: agreed * rng.range(90, 110) / 100 * (pe - ps).num_days() / total.max(1),
                        purchased_c: 0,
                        lag_pm: None,
                    });
                }
                mine.push(AgreementRow {
                    id: String::new(),
                    inst,
                    family: family as u32,
                    start,
                    end,
                    agreed_units: agreed,
                    purchased_c: purchased,
                    lag_pm,
                });
            }
        }
        // Orders placed before the window (a late payer's) fall under an
        // ended agreement.
        if let Some(p) = plan.inst_plan(inst as usize) {
            for po in &p.orders {
                let d = local_date(po.t);
                if po.t >= local_midnight(window_start) {
                    continue;
                }
                let product = &cat.products[po.product as usize];
                let Some(family) = product.family else { continue };
                let batch = &cat.batches[cat.groups[product.group].batch];
                let Some((ps, pe)) = batch.prior.filter(|(ps, pe)| *ps <= d && d <= *pe) else { continue };
                if mine.iter().any(|a| a.family == family as u32 && a.start == ps) {
                    continue;
                }
                mine.push(AgreementRow {
                    id: String::new(),
                    inst,
                    family: family as u32,
                    start: ps,
                    end: pe,
                    agreed_units: rng.range(5_000, 30_000),
                    purchased_c: 0,
                    lag_pm: None,
                });
            }
        }
        for &(zi, family) in &plan.zero_agreements {
            if zi == inst {
                let batch = &cat.batches[cat.groups[cat.families[family as usize].group].batch];
                mine.push(AgreementRow {
                    id: String::new(),
                    inst,
                    family,
                    start: batch.period_start,
                    end: batch.period_end,
                    agreed_units: rng.range(8_000, 40_000),
                    purchased_c: 0,
                    lag_pm: None,
                });
            }
        }
        mine.sort_by_key(|a| (a.start, a.family));
        rows.extend(mine);
    }
    for (n, a) in rows.iter_mut().enumerate() {
        a.id = format!("GX{}-{:07}", a.start.year(), n + 1);
    }
    rows
}
