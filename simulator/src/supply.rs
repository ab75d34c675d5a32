//! Regular purchases (supplies): what each institution buys, how often,
//! and the order lines they become day by day (paid on time, or late by a
//! planted late payer's delay).
//!
//! Why supplies rather than random orders: agreed volumes are set from the
//! planned consumption, and each supply is bought ahead of consumption (on
//! the due day or the last working day before it: before weekends and the
//! Spring Festival). Purchases therefore never fall behind the
//! time-proportional schedule, and the background stays clean at every
//! midnight the engine evaluates, not only at `as_of`.

use chrono::{Duration, NaiveDate};

use super::behaviour::{GroupCtrl, Mode};
use super::catalogue::Category;
use super::clock::{local_date, local_midnight, Calendar, DAY, HOUR};
use super::events::{Ctx, InstRun, Sink};
use super::institutions::Level;
use super::lifecycle::place;
use super::rng::Rng;

/// A regular purchase: `packs` of `product` for every `every` days of
/// consumption from `start`, bought ahead (on the due day, or on the last
/// working day before it, e.g. before the Spring Festival). Purchases then
/// never fall behind consumption, so progress never falls behind schedule.
#[derive(Debug, Clone)]
pub(super) struct Supply {
    item: usize,
    product: u32,
    packs: i64,
    every: i64,
    start: NaiveDate,
    /// Last day a due date may fall on (an exemption window's end).
    end: Option<NaiveDate>,
    next_due: NaiveDate,
    /// The first order covers only `phase` days (1..=every), so that the
    /// supplies of an institution do not all fall on the same days.
    phase: i64,
    started: bool,
    special: bool,
    price_fen: Option<i64>,
    /// Ordinary background supply of a selected product: may bring along
    /// the odd non-selected, backup, cheap or 特需 order.
    background: bool,
}

impl InstRun {
    /// The institution's supplies: one per selected family it buys (two
    /// for a group it splits between enterprises), plus the planted ones.
    pub(super) fn plan_supplies(&mut self, ctx: &Ctx<'_>) {
        let i = self.idx as usize;
        let inst = &ctx.pop.institutions[i];
        let lc = &ctx.scale.levels[inst.level.index()];
        let ctrls = ctx.plan.inst_plan(i).map(|p| p.ctrl.as_slice()).unwrap_or(&[]);
        // Order frequency by popularity: a group with weight w is bought
        // every `every` days so that the institution places about
        // `lines_per_day` lines a working day.
        let weights: Vec<u32> = inst
            .basket
            .iter()
            .scan(0, |prev, b| {
                let w = b.cum_weight - *prev;
                *prev = b.cum_weight;
                Some(w.max(1))
            })
            .collect();
        let total_w: u32 = weights.iter().sum();
        for (item, b) in inst.basket.iter().enumerate() {
            let group = &ctx.cat.groups[b.group as usize];
            let start = ctx.group_start[b.group as usize];
            let consumable = group.category == Category::Consumable;
            let family_product = |rng: &mut Rng, slot: usize| -> u32 {
                let fam = &ctx.cat.families[group.families[slot.min(group.families.len() - 1)]];
                fam.products[rng.below(fam.products.len() as u64) as usize] as u32
            };
            let push = |run: &mut InstRun,
                        slot_or_product: Result<usize, u32>,
                        packs: i64,
                        every: i64,
                        c: Option<&GroupCtrl>,
                        background: bool| {
                let product = match slot_or_product {
                    Ok(slot) => family_product(&mut run.rng, slot),
                    Err(p) => p,
                };
                let p = &ctx.cat.products[product as usize];
                let window = c.and_then(|c| c.window).filter(|_| !p.selected);
                let start = window.map_or(start, |(a, _)| a.max(start));
                if let Some(f) = p.family {
                    let slot = group.families.iter().position(|&x| x == f).unwrap_or(0).min(1);
                    run.ledger[item].rate[slot] += (packs * p.bupp_c) as f64 / every as f64;
                }
                run.supplies.push(Supply {
                    item,
                    product,
                    packs: packs.max(1),
                    every,
                    start,
                    end: window.map(|(_, z)| z),
                    next_due: start,
                    phase: 1 + run.rng.below(every as u64) as i64,
                    started: false,
                    special: c.is_some_and(|c| c.special) && !p.selected,
                    price_fen: c.and_then(|c| c.price_fen).filter(|_| !p.selected),
                    background,
                });
            };
            let packs = if consumable {
                self.rng.range(1, (lc.packs.1 / 20).max(2))
            } else {
                self.rng.range(lc.packs.0, lc.packs.1)
            };
            if let Some(c) = ctrls.iter().find(|c| c.group == b.group) {
                // Planted: daily, with the planted share of non-selected units.
                let daily = packs.max(4);
                let (sel, non) = match (c.nonselected, c.window) {
                    (None, _) => (daily, 0),
                    // A spike on top of normal buying, inside the window only.
                    (Some(_), Some(_)) => (daily, daily * i64::from(c.target_pm) / (1000 - i64::from(c.target_pm))),
                    (Some(_), None) => {
                        (daily * (1000 - i64::from(c.target_pm)) / 1000, daily * i64::from(c.target_pm) / 1000)
                    }
                };
                push(self, Ok(b.family_slot as usize), sel, 1, Some(c), false);
                if let Some(np) = c.nonselected {
                    // Same base units per order as the selected side.
                    let units = non * ctx.cat.products[self.supplies.last().map_or(np, |s| s.product) as usize].bupp_c;
                    let nb = ctx.cat.products[np as usize].bupp_c;
                    push(self, Err(np), (units + nb / 2) / nb, 1, Some(c), false);
                }
                continue;
            }
            // Lines are per working day; supplies run on calendar days.
            let freq = inst.lines_per_day * (5.0 / 7.0) * f64::from(weights[item]) / f64::from(total_w);
            let every = ((1.0 / freq.max(1e-9)).round() as i64).clamp(1, ctx.scale.longest_supply_interval);
            if b.other_family_pm > 0 && group.families.len() > 1 {
                let other = (packs * i64::from(b.other_family_pm) / 1000).max(1);
                push(self, Ok(b.family_slot as usize), packs - other.min(packs - 1), every, None, true);
                push(self, Ok(1 - b.family_slot as usize), other, every, None, true);
            } else {
                push(self, Ok(b.family_slot as usize), packs, every, None, true);
            }
        }
    }
}

/// The day an order due on `due` is placed: `due` if it is a working day,
/// else the last working day before it (stock bought ahead of weekends and
/// holidays), but never before `floor` (the start of the supply).
fn placement(cal: &Calendar, due: NaiveDate, floor: NaiveDate) -> NaiveDate {
    let mut d = due;
    while !cal.is_working_day(d) && d > floor {
        d -= Duration::days(1);
    }
    while !cal.is_working_day(d) {
        d += Duration::days(1);
    }
    d
}

pub(super) fn generate_day(ctx: &Ctx<'_>, run: &mut InstRun, sink: &mut Sink, date: NaiveDate) {
    let i = run.idx as usize;
    let inst = &ctx.pop.institutions[i];
    let midnight = local_midnight(date);
    if let Some(plan) = ctx.plan.inst_plan(i) {
        while let Some(po) = plan.orders.get(run.planned_cursor) {
            if po.t >= midnight + DAY {
                break;
            }
            run.planned_cursor += 1;
            let product = &ctx.cat.products[po.product as usize];
            let item = inst.basket_slot(product.group as u32);
            debug_assert!(item.is_some(), "planted orders are for basket groups");
            place(
                ctx,
                run,
                sink,
                item,
                po.t,
                po.product,
                po.qty,
                product.pack_price_fen,
                false,
                po.mode,
                po.pay,
                false,
                false,
            );
        }
    }
    let (open, span) = if inst.level == Level::Pharmacy { (8 * HOUR, 13 * HOUR) } else { (8 * HOUR, 9 * HOUR + 1800) };
    let last_day = local_date(ctx.as_of - 1);
    for si in 0..run.supplies.len() {
        // The packs bought today: every consumption period due today or
        // on the non-working days up to the next working day.
        let mut packs = 0;
        loop {
            let s = &mut run.supplies[si];
            if s.end.is_some_and(|z| s.next_due > z) || s.next_due > last_day {
                break;
            }
            if placement(ctx.cal, s.next_due, s.start) != date {
                break;
            }
            if s.started {
                packs += s.packs;
                s.next_due += Duration::days(s.every);
            } else {
                // Rounded up: the first order still covers its days.
                packs += (s.packs * s.phase + s.every - 1) / s.every;
                s.next_due += Duration::days(s.phase);
                s.started = true;
            }
        }
        if packs > 0 {
            let t0 = midnight + open + run.rng.range(0, span - 1);
            supply_order(ctx, run, sink, si, t0, packs);
        }
    }
}

/// Places a supply's order for `nominal` packs (never less, up to 20 % more
/// for the background), and now and then an extra line around it.
fn supply_order(ctx: &Ctx<'_>, run: &mut InstRun, sink: &mut Sink, si: usize, t0: i64, nominal: i64) {
    let s = run.supplies[si].clone();
    let inst = &ctx.pop.institutions[run.idx as usize];
    let p = &ctx.cat.products[s.product as usize];
    let qty = if s.background { nominal + nominal * run.rng.range(0, 20) / 100 } else { nominal };
    let price = s.price_fen.unwrap_or(p.pack_price_fen);
    // A late payer pays every line late, the odd extra line included.
    let pay = ctx.plan.pay_mode(run.idx);
    place(ctx, run, sink, Some(s.item), t0, s.product, qty, price, s.special, Mode::Delivered, pay, s.background, true);
    if !s.background {
        return;
    }
    let group = &ctx.cat.groups[p.group];
    let roll = run.rng.unit();
    let extra_t = t0 + run.rng.range(60, 1800);
    if roll < 0.06 && !group.regular_nonselected.is_empty() {
        // A non-selected line, kept to at most 10 % of the group's units
        // (SPEC warns above 30 %): clean by construction.
        let np = *run.rng.pick(&group.regular_nonselected);
        let packs = (qty * p.bupp_c / ctx.cat.products[np].bupp_c / 4).max(1);
        let units = packs * ctx.cat.products[np].bupp_c;
        let l = &run.ledger[s.item];
        if (l.gate_non_selected + units) * 10 <= l.gate_selected + l.gate_non_selected + units {
            let price = ctx.cat.products[np].pack_price_fen;
            place(
                ctx,
                run,
                sink,
                Some(s.item),
                extra_t,
                np as u32,
                packs,
                price,
                false,
                Mode::Delivered,
                pay,
                true,
                false,
            );
        }
    } else if roll < 0.07 && !group.backup.is_empty() {
        let bp = *run.rng.pick(&group.backup);
        let price = ctx.cat.products[bp].pack_price_fen;
        place(
            ctx,
            run,
            sink,
            Some(s.item),
            extra_t,
            bp as u32,
            (qty / 3).max(1),
            price,
            false,
            Mode::Delivered,
            pay,
            true,
            false,
        );
    } else if roll < 0.075 && !group.cheap.is_empty() {
        let cp = *run.rng.pick(&group.cheap);
        let price = ctx.cat.products[cp].pack_price_fen;
        place(
            ctx,
            run,
            sink,
            Some(s.item),
            extra_t,
            cp as u32,
            (qty / 3).max(1),
            price,
            false,
            Mode::Delivered,
            pay,
            true,
            false,
        );
    } else if roll < 0.08 && inst.level == Level::Tertiary {
        // 特需 (special service) use, of any product of the group.
        let all: Vec<usize> = group
            .families
            .iter()
            .flat_map(|&f| ctx.cat.families[f].products.iter().copied())
            .chain(group.regular_nonselected.iter().copied())
            .collect();
        let sp = *run.rng.pick(&all);
        let price = ctx.cat.products[sp].pack_price_fen;
        place(
            ctx,
            run,
            sink,
            Some(s.item),
            extra_t,
            sp as u32,
            (qty / 5).max(1),
            price,
            true,
            Mode::Delivered,
            pay,
            true,
            false,
        );
    }
}
