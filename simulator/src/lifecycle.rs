//! The life of one order line, decided when it is placed: cancellation,
//! deliveries within 48 h, acceptance, payments before 次月底 (or, for a
//! planted late payer, weeks after it) — and what SPEC §6 will see of it
//! at `as_of` (the ledger).

use chrono::Duration;

use super::behaviour::{Mode, PayMode};
use super::clock::{local_date, local_midnight, payment_overdue_from, HOUR};
use super::events::{Ctx, InstRun, Kind, OverdueLine, OverduePayment, Sink};
use super::rng::Rng;

/// A random instant between `lo` and `hi` seconds after `t`.
fn after(rng: &mut Rng, t: i64, lo: i64, hi: i64) -> i64 {
    t + rng.range(lo, hi)
}

/// A payment instant `k` days after the acceptance date, in office hours.
fn pay_time(rng: &mut Rng, accepted: i64, k: i64) -> i64 {
    local_midnight(local_date(accepted) + Duration::days(k)) + 9 * HOUR + rng.range(0, 8 * HOUR)
}

/// Places one order line and decides its whole life; updates the ledger.
#[allow(clippy::too_many_arguments)]
pub(super) fn place(
    ctx: &Ctx<'_>,
    run: &mut InstRun,
    sink: &mut Sink,
    item: Option<usize>,
    t0: i64,
    product: u32,
    qty: i64,
    price_fen: i64,
    special: bool,
    mode: Mode,
    pay: PayMode,
    allow_mess: bool,
    replace_cancelled: bool,
) {
    let i = run.idx as usize;
    let inst = &ctx.pop.institutions[i];
    let p = &ctx.cat.products[product as usize];
    let as_of = ctx.as_of;
    let order = run.next_order;
    run.next_order += 1;
    let special_fmt = if special {
        2
    } else if run.rng.chance(0.6) {
        0
    } else {
        1
    };
    let placed = run.ev(t0, Kind::Placed { order, product, qty, price_fen, special: special_fmt });
    if sink.push(ctx, placed) && special {
        sink.stats.special_orders += 1;
    }

    // The life of the line: deliveries (time, packs) and a cancellation.
    let mut deliveries: [(i64, i64); 2] = [(0, 0); 2];
    let mut n_deliveries = 0;
    let mut cancel: Option<(i64, i64)> = None;
    if mode == Mode::Delivered {
        let slow = ctx.plan.slow_distributor == Some(inst.distributor);
        let (lo, hi) = if slow { (28 * HOUR, 46 * HOUR) } else { (2 * HOUR, 40 * HOUR) };
        let r = if allow_mess { run.rng.unit() } else { 1.0 };
        if r < 0.004 {
            // Withdrawn before anything was delivered.
            cancel = Some((after(&mut run.rng, t0, HOUR, 6 * HOUR), qty));
        } else if r < 0.024 && qty >= 2 {
            // Part delivered, the rest withdrawn (never more than undelivered).
            let q1 = (qty * run.rng.range(30, 70) / 100).clamp(1, qty - 1);
            let d1 = after(&mut run.rng, t0, 4 * HOUR, 24 * HOUR);
            deliveries[0] = (d1, q1);
            n_deliveries = 1;
            cancel = Some((after(&mut run.rng, d1, 2 * HOUR, 20 * HOUR), qty - q1));
        } else if r < 0.074 && qty >= 2 {
            // Delivered in two parts, both within 48 h.
            let q1 = (qty * run.rng.range(30, 70) / 100).clamp(1, qty - 1);
            deliveries[0] = (after(&mut run.rng, t0, 4 * HOUR, 20 * HOUR), q1);
            deliveries[1] = (after(&mut run.rng, t0, 22 * HOUR, 44 * HOUR), qty - q1);
            n_deliveries = 2;
        } else {
            deliveries[0] = (after(&mut run.rng, t0, lo, hi), qty);
            n_deliveries = 1;
        }
    }
    if let Some((tc, qc)) = cancel {
        let mut ev = run.ev(tc, Kind::Cancelled { order, qty: qc });
        let day_start = local_midnight(local_date(tc));
        let mut inverted = false;
        if local_date(tc) == local_date(t0) && run.rng.chance(0.15) {
            // Written before its order.placed line (same file, same day).
            let key = t0 - run.rng.range(1, 600);
            if key >= day_start {
                ev.key = key;
                inverted = true;
            }
        }
        if sink.push(ctx, ev) {
            if inverted {
                sink.stats.out_of_order += 1;
            }
            if n_deliveries == 0 {
                sink.stats.full_cancellations += 1;
            }
        }
        if replace_cancelled {
            // The hospital re-orders what was withdrawn at once, so its
            // purchases do not dip (the units cancelled and re-ordered
            // change at the same instant).
            place(ctx, run, sink, item, tc, product, qc, price_fen, special, Mode::Delivered, pay, false, false);
        }
    }
    let mut received_by_as_of = 0;
    for (k, &(td, q)) in deliveries[..n_deliveries].iter().enumerate() {
        let delivery = run.next_delivery;
        run.next_delivery += 1;
        let rec = run.ev(td, Kind::Received { order, delivery, qty: q, distributor: inst.distributor });
        if sink.push(ctx, rec) {
            received_by_as_of += q;
            if k == 0 && q < qty {
                sink.stats.partial_deliveries += 1;
            }
        }
        let ta = after(&mut run.rng, td, 1800, 18 * HOUR);
        let rejected = allow_mess && q >= 2 && run.rng.chance(0.005);
        let acc = if rejected { q - 1 } else { q };
        let amount = acc * price_fen;
        let mut ev = run.ev(ta, Kind::Accepted { order, delivery, qty: acc, amount_fen: amount });
        let mut inverted = false;
        if allow_mess && local_date(ta) == local_date(td) && run.rng.chance(0.002) {
            // Acceptance written before the receipt it refers to.
            let key = td - run.rng.range(1, 600);
            if key >= local_midnight(local_date(td)) {
                ev.key = key;
                inverted = true;
            }
        }
        let accepted = sink.push(ctx, ev);
        if accepted {
            if inverted {
                sink.stats.out_of_order += 1;
            }
            if rejected {
                sink.stats.rejected_packs += 1;
            }
        }
        // Payments.
        let mut payments: [(i64, i64); 2] = [(0, 0); 2];
        let mut n_pay = 0;
        match pay {
            PayMode::Unpaid => {}
            PayMode::Partial { pay_pm } => {
                let part = amount * i64::from(pay_pm) / 1000;
                if part > 0 {
                    payments[0] = (local_midnight(local_date(ta) + Duration::days(10)) + 10 * HOUR, part);
                    n_pay = 1;
                }
            }
            PayMode::Late { .. } | PayMode::Normal if amount <= 0 => {}
            PayMode::Late { days_after_deadline } => {
                // All at once, that many days into the overdue period.
                let from = payment_overdue_from(local_date(ta));
                let day = from + Duration::days(i64::from(days_after_deadline));
                payments[0] = (local_midnight(day) + 9 * HOUR + run.rng.range(0, 8 * HOUR), amount);
                n_pay = 1;
            }
            PayMode::Normal => {
                // Paid within 26 days of acceptance: always before 次月底
                // (at least 29 days away), so the background never owes.
                if amount >= 2 && run.rng.chance(0.08) {
                    let first = (amount * run.rng.range(30, 70) / 100).clamp(1, amount - 1);
                    let k1 = run.rng.range(3, 12);
                    payments[0] = (pay_time(&mut run.rng, ta, k1), first);
                    let k2 = run.rng.range(13, 26);
                    payments[1] = (pay_time(&mut run.rng, ta, k2), amount - first);
                    n_pay = 2;
                } else {
                    let k = run.rng.range(3, 26);
                    payments[0] = (pay_time(&mut run.rng, ta, k), amount);
                    n_pay = 1;
                }
            }
        }
        let mut paid_by_as_of = 0;
        let mut written = 0;
        for &(tp, amt) in &payments[..n_pay] {
            let payment = run.next_payment;
            run.next_payment += 1;
            let ev = run.ev(tp, Kind::Payment { payment, delivery, amount_fen: amt });
            if sink.push(ctx, ev) {
                paid_by_as_of += amt;
                written += 1;
            }
        }
        if written >= 2 || (written == 1 && matches!(pay, PayMode::Partial { .. })) {
            sink.stats.partial_payments += 1;
        }
        // SPEC 6.4 at as_of.
        if accepted && amount > 0 && amount > paid_by_as_of {
            let from = payment_overdue_from(local_date(ta));
            if as_of >= local_midnight(from) {
                sink.overdue_payments.push(OverduePayment {
                    inst: run.idx,
                    overdue_from: from,
                    outstanding_fen: amount - paid_by_as_of,
                });
            }
        }
    }

    // The ledger (SPEC 6.1–6.3 count no special-service line).
    if special {
        return;
    }
    let cancelled_by_as_of = cancel.filter(|&(tc, _)| tc < as_of).map_or(0, |(_, q)| q);
    let net_units = (qty - cancelled_by_as_of) * p.bupp_c;
    let d0 = local_date(t0);
    if let Some(item) = item {
        let group = &ctx.cat.groups[p.group];
        let l = &mut run.ledger[item];
        debug_assert_eq!(l.group as usize, p.group);
        if p.selected {
            l.gate_selected += net_units;
        } else {
            l.gate_non_selected += net_units;
        }
        if d0 >= ctx.group_start[p.group] {
            if let Some(f) = p.family {
                let slot = group.families.iter().position(|&x| x == f).unwrap_or(0);
                l.purchased[slot] += net_units;
                l.selected += net_units;
            } else {
                let cheap = price_fen * 10_000 <= group.lowest_price_e4 * p.bupp_c;
                if !(p.backup || cheap || ctx.exempt(i, p.group as u32, d0)) {
                    l.non_selected += net_units;
                }
            }
        }
    }
    let deadline = t0 + 48 * HOUR;
    let outstanding = qty - cancelled_by_as_of - received_by_as_of;
    if as_of > deadline && outstanding > 0 {
        sink.overdue_lines.push(OverdueLine { inst: run.idx, product, deadline, outstanding_packs: outstanding });
    }
}
