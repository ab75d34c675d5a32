//! Our own evaluation of SPEC §6 at `as_of`, from the generator's ledger:
//! the alerts `planted.json` promises.
//!
//! It is deliberately independent of the engine (`vbp_detectors`): written
//! from the SPEC text, in exact integer arithmetic (units ×100, fen), so a
//! disagreement between the two points at a bug on one side. Every
//! comparison is the SPEC's inequality multiplied out, never a division.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::agreements::AgreementRow;
use super::behaviour::KeySpec;
use super::catalogue::Catalogue;
use super::clock::{add_months_clamped, local_date, Calendar};
use super::events::{GroupLedger, OverdueLine, OverduePayment};
use super::institutions::Population;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub alertname: &'static str,
    pub severity: &'static str,
    pub key: KeySpec,
    /// What was measured, for the reader of planted.json.
    pub measured: String,
}

pub struct Inputs<'a> {
    pub cat: &'a Catalogue,
    pub pop: &'a Population,
    pub cal: &'a Calendar,
    pub as_of: i64,
    pub agreements: &'a [AgreementRow],
    /// Sorted by institution; each parallel to the institution's basket.
    pub ledgers: &'a [(u32, Vec<GroupLedger>)],
    pub overdue_lines: &'a [OverdueLine],
    pub overdue_payments: &'a [OverduePayment],
}

fn ratio(num: i64, den: i64) -> String {
    if den == 0 {
        return "n/a".into();
    }
    format!("{:.3}", num as f64 / den as f64)
}

pub fn evaluate(x: &Inputs<'_>) -> Vec<Alert> {
    let today: NaiveDate = local_date(x.as_of);
    let mut out = Vec::new();

    // 6.1
    for a in x.agreements.iter().filter(|a| a.active(today)) {
        let elapsed = (today - a.start).num_days() + 1;
        let total = (a.end - a.start).num_days() + 1;
        let key = KeySpec::Agreement { inst: a.inst, family: a.family };
        let purchased = a.purchased_c as i128;
        let agreed_c = a.agreed_units as i128 * 100;
        let measured = format!(
            "progress {} of schedule {} ({} of {} units, day {} of {})",
            ratio(a.purchased_c, a.agreed_units * 100),
            ratio(elapsed, total),
            a.purchased_c / 100,
            a.agreed_units,
            elapsed,
            total
        );
        if a.purchased_c == 0 && today >= add_months_clamped(a.start, 2) {
            out.push(Alert { alertname: "SelectedProductNotEntered", severity: "critical", key, measured });
        } else if elapsed >= 30 {
            // progress < k × schedule  ⇔  purchased × total < k × agreed × elapsed
            let lhs = purchased * total as i128;
            let rhs = agreed_c * elapsed as i128;
            if 2 * lhs < rhs {
                out.push(Alert { alertname: "ProcurementBehindSchedule", severity: "critical", key, measured });
            } else if 10 * lhs < 8 * rhs {
                out.push(Alert { alertname: "ProcurementBehindSchedule", severity: "warning", key, measured });
            }
        }
    }

    // 6.2: institution × group with an active agreement for a family of the group.
    let mut evaluated: BTreeSet<(u32, u32)> = BTreeSet::new();
    for a in x.agreements.iter().filter(|a| a.active(today)) {
        evaluated.insert((a.inst, x.cat.families[a.family as usize].group as u32));
    }
    let ledger_of: BTreeMap<u32, &Vec<GroupLedger>> = x.ledgers.iter().map(|(i, l)| (*i, l)).collect();
    for &(inst, group) in &evaluated {
        let Some(l) = ledger_of.get(&inst).and_then(|ls| ls.iter().find(|l| l.group == group)) else { continue };
        let total = l.selected + l.non_selected;
        if total < 100 * 100 {
            continue;
        }
        let key = KeySpec::Share { inst, group };
        let measured =
            format!("share {} ({} of {} units)", ratio(l.non_selected, total), l.non_selected / 100, total / 100);
        if 2 * l.non_selected > total {
            out.push(Alert { alertname: "NonSelectedShareHigh", severity: "critical", key, measured });
        } else if 10 * l.non_selected > 3 * total {
            out.push(Alert { alertname: "NonSelectedShareHigh", severity: "warning", key, measured });
        }
    }

    // 6.3
    let mut oldest: BTreeMap<(u32, u32), (i64, i64, u32)> = BTreeMap::new();
    for l in x.overdue_lines {
        let e = oldest.entry((l.inst, l.product)).or_insert((l.deadline, 0, 0));
        e.0 = e.0.min(l.deadline);
        e.1 += l.outstanding_packs;
        e.2 += 1;
    }
    let mut by_city: BTreeMap<(usize, u32), BTreeSet<u32>> = BTreeMap::new();
    for (&(inst, product), &(deadline, packs, lines)) in &oldest {
        let wd = x.cal.working_days_after_until(local_date(deadline), today);
        let severity = if wd >= 5 { "critical" } else { "warning" };
        out.push(Alert {
            alertname: "OrderUndelivered",
            severity,
            key: KeySpec::Undelivered { inst, product },
            measured: format!(
                "{lines} overdue line(s), {packs} packs outstanding, oldest deadline {} ({wd} working days before as_of)",
                super::clock::rfc3339(deadline)
            ),
        });
        let city = x.pop.institutions[inst as usize].city;
        by_city.entry((city, product)).or_default().insert(inst);
    }
    for ((city, product), insts) in by_city {
        if insts.len() >= 3 {
            out.push(Alert {
                alertname: "SupplyBreak",
                severity: "critical",
                key: KeySpec::SupplyBreak { city, product },
                measured: format!("{} institutions with overdue lines", insts.len()),
            });
        }
    }

    // 6.4
    let mut owed: BTreeMap<u32, (NaiveDate, i64, u32)> = BTreeMap::new();
    for p in x.overdue_payments {
        let e = owed.entry(p.inst).or_insert((p.overdue_from, 0, 0));
        e.0 = e.0.min(p.overdue_from);
        e.1 += p.outstanding_fen;
        e.2 += 1;
    }
    for (inst, (from, fen, n)) in owed {
        let days = (today - from).num_days();
        out.push(Alert {
            alertname: "PaymentOverdue",
            severity: if days >= 30 { "critical" } else { "warning" },
            key: KeySpec::Payment { inst },
            measured: format!(
                "{n} deliveries, {}.{:02} yuan overdue, oldest overdue since {from} ({days} days)",
                fen / 100,
                fen % 100
            ),
        });
    }
    out
}
