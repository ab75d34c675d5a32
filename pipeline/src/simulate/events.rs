//! The event generator: per institution, per day, order lines and their
//! whole life (cancellations, deliveries, acceptance, payments), written as
//! NDJSON in rough time order.
//!
//! Why the whole life is decided when the order is placed: the generator
//! then knows, for every line, exactly what will have happened by `as_of`,
//! and keeps the few numbers SPEC §6 needs (the [`Ledger`]) without a second
//! pass over the output. Events later than the order are parked in a ring of
//! day buckets until their day is written, so memory holds about a month of
//! future events, never the whole run.
//!
//! Determinism: each institution has its own random stream, and a worker's
//! output for a day depends only on its (fixed) share of institutions. Two
//! workers run in parallel and the writer interleaves their hour blocks in a
//! fixed order, so the bytes do not depend on thread timing.

use chrono::{Duration, NaiveDate};

use super::behaviour::{GroupCtrl, Mode, PayMode, Plan};
use super::catalogue::{Catalogue, Category};
use super::clock::{local_date, local_midnight, payment_overdue_from, Calendar, TimeFormatter, CST_OFFSET_SECS, DAY, HOUR};
use super::institutions::{Level, Population};
use super::json;
use super::rng::{mix, Rng};
use super::scale::ScaleConfig;

pub const TOPICS: usize = 3;
pub const TOPIC_FILES: [&str; TOPICS] = ["orders.ndjson", "deliveries.ndjson", "payments.ndjson"];
pub const HOURS: usize = 24;
/// Future days an event can be parked (payments come at most ~28 days
/// after the order).
const RING: usize = 40;

/// Everything read-only a worker needs.
pub struct Ctx<'a> {
    pub cat: &'a Catalogue,
    pub pop: &'a Population,
    pub plan: &'a Plan,
    pub cal: &'a Calendar,
    pub scale: &'a ScaleConfig,
    pub seed: u64,
    /// Day 0 of the run (the window start, or earlier for a prelude).
    pub events_start: NaiveDate,
    /// Background ordering starts here.
    pub window_start: NaiveDate,
    /// Exclusive end of the events, and the evaluation instant.
    pub as_of: i64,
    pub n_days: u32,
    /// Per group: the agreement period start of its batch.
    pub group_start: Vec<NaiveDate>,
    /// Per institution: exemption windows (group, from, to).
    pub exemptions: Vec<Vec<(u32, NaiveDate, NaiveDate)>>,
}

impl Ctx<'_> {
    fn exempt(&self, inst: usize, group: u32, d: NaiveDate) -> bool {
        self.exemptions[inst].iter().any(|&(g, a, b)| g == group && a <= d && d <= b)
    }

    fn day_index(&self, t: i64) -> usize {
        (local_date(t) - self.events_start).num_days() as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Placed { order: u32, product: u32, qty: i64, price_fen: i64, special: u8 },
    Cancelled { order: u32, qty: i64 },
    Received { order: u32, delivery: u32, qty: i64, distributor: u16 },
    Accepted { order: u32, delivery: u32, qty: i64, amount_fen: i64 },
    Payment { payment: u32, delivery: u32, amount_fen: i64 },
}

#[derive(Debug, Clone, Copy)]
struct Ev {
    t: i64,
    /// Where the line goes in the file: `t`, or a little earlier for the
    /// planted out-of-order lines.
    key: i64,
    /// institution << 32 | per-institution event number: unique, and the
    /// source of the event id.
    seq: u64,
    inst: u32,
    qty_str: bool,
    kind: Kind,
}

impl Ev {
    fn topic(&self) -> usize {
        match self.kind {
            Kind::Placed { .. } | Kind::Cancelled { .. } => 0,
            Kind::Received { .. } | Kind::Accepted { .. } => 1,
            Kind::Payment { .. } => 2,
        }
    }
}

/// What SPEC §6 needs from one institution × group, kept while generating.
/// Units are base units ×100.
#[derive(Debug, Clone, Default)]
pub struct GroupLedger {
    pub group: u32,
    /// Units per selected family of the group (index = family slot), orders
    /// dated on or after the batch's period start, net of cancellations, by as_of.
    pub purchased: [i64; 2],
    /// SPEC 6.2 numerator and the selected part of its denominator.
    pub selected: i64,
    pub non_selected: i64,
    /// All non-special units ever ordered (for the background share gate).
    gate_selected: i64,
    gate_non_selected: i64,
    /// Raw units of a controlled (planted) group, special orders included.
    ctrl_selected: i64,
    ctrl_non_selected: i64,
}

/// An order line that is overdue at as_of.
#[derive(Debug, Clone)]
pub struct OverdueLine {
    pub inst: u32,
    pub product: u32,
    pub deadline: i64,
    pub outstanding_packs: i64,
}

/// An accepted delivery not fully paid after its 次月底 deadline.
#[derive(Debug, Clone)]
pub struct OverduePayment {
    pub inst: u32,
    pub overdue_from: NaiveDate,
    pub outstanding_fen: i64,
}

/// Counts of what was written (only events before as_of).
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub by_type: [u64; 5],
    pub duplicates: u64,
    pub out_of_order: u64,
    pub partial_deliveries: u64,
    pub partial_payments: u64,
    pub special_orders: u64,
    pub rejected_packs: u64,
    pub full_cancellations: u64,
    pub events_before_window: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        for k in 0..5 {
            self.by_type[k] += o.by_type[k];
        }
        self.duplicates += o.duplicates;
        self.out_of_order += o.out_of_order;
        self.partial_deliveries += o.partial_deliveries;
        self.partial_payments += o.partial_payments;
        self.special_orders += o.special_orders;
        self.rejected_packs += o.rejected_packs;
        self.full_cancellations += o.full_cancellations;
        self.events_before_window += o.events_before_window;
    }

    pub fn events(&self) -> u64 {
        self.by_type.iter().sum()
    }
}

/// One hour of one day of a worker's output: the lines per topic. Sent
/// hour by hour so that only a few hours of text are in memory at once.
pub struct HourChunk {
    pub bufs: [Vec<u8>; TOPICS],
    pub lines: u64,
}

impl HourChunk {
    /// Empty buffers (or recycled ones, cleared, keeping their capacity).
    pub fn empty(recycled: Option<HourChunk>) -> HourChunk {
        match recycled {
            Some(mut c) => {
                c.bufs.iter_mut().for_each(Vec::clear);
                c.lines = 0;
                c
            }
            None => HourChunk { bufs: [Vec::new(), Vec::new(), Vec::new()], lines: 0 },
        }
    }
}

/// The ledger of one worker, returned at the end.
pub struct WorkerResult {
    pub stats: Stats,
    /// (institution, its group ledgers parallel to its basket)
    pub ledgers: Vec<(u32, Vec<GroupLedger>)>,
    pub overdue_lines: Vec<OverdueLine>,
    pub overdue_payments: Vec<OverduePayment>,
}

struct InstRun {
    idx: u32,
    rng: Rng,
    cum: Vec<u32>,
    ledger: Vec<GroupLedger>,
    /// Per basket item: index into the plan's controls for this institution.
    ctrl: Vec<Option<usize>>,
    planned_cursor: usize,
    next_order: u32,
    next_delivery: u32,
    next_payment: u32,
    next_event: u32,
}

impl InstRun {
    fn ev(&mut self, t: i64, kind: Kind) -> Ev {
        let seq = (u64::from(self.idx) << 32) | u64::from(self.next_event);
        self.next_event += 1;
        Ev { t, key: t, seq, inst: self.idx, qty_str: self.rng.chance(0.3), kind }
    }
}

/// Where generated events and ledger facts go.
struct Sink {
    ring: Vec<Vec<Ev>>,
    current_day: usize,
    stats: Stats,
    overdue_lines: Vec<OverdueLine>,
    overdue_payments: Vec<OverduePayment>,
}

impl Sink {
    /// Parks an event in its day's bucket, or drops it if it falls at or
    /// after as_of (it has not happened yet at the evaluation instant).
    fn push(&mut self, ctx: &Ctx<'_>, ev: Ev) -> bool {
        if ev.t >= ctx.as_of {
            return false;
        }
        let day = ctx.day_index(ev.t);
        debug_assert!(day >= self.current_day && day - self.current_day < RING, "event parked too far ahead");
        self.ring[day % RING].push(ev);
        let k = match ev.kind {
            Kind::Placed { .. } => 0,
            Kind::Cancelled { .. } => 1,
            Kind::Received { .. } => 2,
            Kind::Accepted { .. } => 3,
            Kind::Payment { .. } => 4,
        };
        self.stats.by_type[k] += 1;
        if ev.t < local_midnight(ctx.window_start) {
            self.stats.events_before_window += 1;
        }
        true
    }
}

pub struct Worker<'a> {
    ctx: &'a Ctx<'a>,
    insts: Vec<InstRun>,
    sink: Sink,
    tf: TimeFormatter,
    dup_rng: Rng,
    salt: u64,
}

/// A random instant between `lo` and `hi` seconds after `t`.
fn after(rng: &mut Rng, t: i64, lo: i64, hi: i64) -> i64 {
    t + rng.range(lo, hi)
}

/// A payment instant `k` days after the acceptance date, in office hours.
fn pay_time(rng: &mut Rng, accepted: i64, k: i64) -> i64 {
    local_midnight(local_date(accepted) + Duration::days(k)) + 9 * HOUR + rng.range(0, 8 * HOUR)
}

impl<'a> Worker<'a> {
    /// The worker for institutions `i` with `i % workers == part`.
    pub fn new(ctx: &'a Ctx<'a>, part: usize, workers: usize) -> Self {
        let insts = (0..ctx.pop.institutions.len())
            .filter(|i| i % workers == part)
            .map(|i| {
                let inst = &ctx.pop.institutions[i];
                let ctrls = ctx.plan.inst_plan(i).map(|p| p.ctrl.as_slice()).unwrap_or(&[]);
                InstRun {
                    idx: i as u32,
                    rng: Rng::for_stream(ctx.seed, 10, i as u64),
                    cum: inst.basket_cum(),
                    ledger: inst.basket.iter().map(|b| GroupLedger { group: b.group, ..Default::default() }).collect(),
                    ctrl: inst.basket.iter().map(|b| ctrls.iter().position(|c| c.group == b.group)).collect(),
                    planned_cursor: 0,
                    next_order: 1,
                    next_delivery: 1,
                    next_payment: 1,
                    next_event: 0,
                }
            })
            .collect();
        Worker {
            ctx,
            insts,
            sink: Sink {
                ring: (0..RING).map(|_| Vec::new()).collect(),
                current_day: 0,
                stats: Stats::default(),
                overdue_lines: Vec::new(),
                overdue_payments: Vec::new(),
            },
            tf: TimeFormatter::new(),
            dup_rng: Rng::for_stream(ctx.seed, 11, part as u64),
            salt: mix(ctx.seed ^ 0x5EED_0F_E7E7),
        }
    }

    /// Generates day `day` (0-based from `events_start`) and hands its
    /// lines to `emit` hour by hour (24 calls). `recycle` may return a
    /// written chunk whose buffers can be reused. Returns false when `emit`
    /// reports that nobody listens any more.
    pub fn run_day(
        &mut self,
        day: u32,
        recycle: &mut dyn FnMut() -> Option<HourChunk>,
        emit: &mut dyn FnMut(HourChunk) -> bool,
    ) -> bool {
        let ctx = self.ctx;
        self.sink.current_day = day as usize;
        let date = ctx.events_start + Duration::days(i64::from(day));
        for ii in 0..self.insts.len() {
            generate_day(ctx, &mut self.insts[ii], &mut self.sink, date);
        }
        let mut evs = std::mem::take(&mut self.sink.ring[day as usize % RING]);
        evs.sort_unstable_by_key(|e| (e.key, e.seq));
        // Duplicates aimed at a later hour of the day wait here.
        let mut later: Vec<[Vec<u8>; TOPICS]> = (0..HOURS).map(|_| [Vec::new(), Vec::new(), Vec::new()]).collect();
        let mut later_lines = [0u64; HOURS];
        let mut next = 0;
        for hour in 0..HOURS {
            let mut chunk = HourChunk::empty(recycle());
            for t in 0..TOPICS {
                chunk.bufs[t].extend_from_slice(&later[hour][t]);
                later[hour][t] = Vec::new();
            }
            chunk.lines += later_lines[hour];
            while let Some(ev) = evs.get(next) {
                let h = ((ev.key + CST_OFFSET_SECS).rem_euclid(DAY) / HOUR) as usize;
                if h != hour {
                    break;
                }
                next += 1;
                let topic = ev.topic();
                let buf = &mut chunk.bufs[topic];
                let start = buf.len();
                format_event(ctx, &mut self.tf, self.salt, buf, ev);
                chunk.lines += 1;
                if self.dup_rng.chance(ctx.scale.duplicate_rate) {
                    // An exact duplicate a little later in the file:
                    // producers retry, brokers redeliver.
                    let h2 = (hour + self.dup_rng.below(3) as usize).min(HOURS - 1);
                    let end = buf.len();
                    if h2 == hour {
                        buf.extend_from_within(start..end);
                        chunk.lines += 1;
                    } else {
                        later[h2][topic].extend_from_slice(&buf[start..end]);
                        later_lines[h2] += 1;
                    }
                    self.sink.stats.duplicates += 1;
                }
            }
            if !emit(chunk) {
                return false;
            }
        }
        debug_assert_eq!(next, evs.len(), "every event of the day is written");
        true
    }

    pub fn finish(self) -> WorkerResult {
        WorkerResult {
            stats: self.sink.stats,
            ledgers: self.insts.into_iter().map(|r| (r.idx, r.ledger)).collect(),
            overdue_lines: self.sink.overdue_lines,
            overdue_payments: self.sink.overdue_payments,
        }
    }
}

fn generate_day(ctx: &Ctx<'_>, run: &mut InstRun, sink: &mut Sink, date: NaiveDate) {
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
            place(ctx, run, sink, item, po.t, po.product, po.qty, product.pack_price_fen, false, po.mode, po.pay, false);
        }
    }
    if date < ctx.window_start || inst.basket.is_empty() {
        return;
    }
    let n = run.rng.count(inst.lines_per_day * ctx.cal.order_activity(date));
    let (open, span) = if inst.level == Level::Pharmacy { (8 * HOUR, 13 * HOUR) } else { (8 * HOUR, 9 * HOUR + 1800) };
    for _ in 0..n {
        let t0 = midnight + open + run.rng.range(0, span - 1);
        let item = run.rng.weighted(&run.cum);
        background_order(ctx, run, sink, item, t0);
    }
    if ctx.cal.is_working_day(date) {
        for item in 0..run.ctrl.len() {
            let Some(c) = run.ctrl[item] else { continue };
            let daily = ctx.plan.inst_plan(i).map(|p| p.ctrl[c].daily).unwrap_or(false);
            if daily {
                let t0 = midnight + 10 * HOUR + run.rng.range(0, 6 * HOUR);
                background_order(ctx, run, sink, item, t0);
            }
        }
    }
}

/// One ordinary order line of basket item `item` (or a planted control's).
fn background_order(ctx: &Ctx<'_>, run: &mut InstRun, sink: &mut Sink, item: usize, t0: i64) {
    let i = run.idx as usize;
    let inst = &ctx.pop.institutions[i];
    let b = &inst.basket[item];
    let group = &ctx.cat.groups[b.group as usize];
    let lc = &ctx.scale.levels[inst.level.index()];
    let consumable = group.category == Category::Consumable;
    let selected_product = |rng: &mut Rng, slot: usize| -> u32 {
        let fam = &ctx.cat.families[group.families[slot.min(group.families.len() - 1)]];
        fam.products[rng.below(fam.products.len() as u64) as usize] as u32
    };
    if let Some(c) = run.ctrl[item] {
        let ctrl: &GroupCtrl = &ctx.plan.inst_plan(i).expect("control implies a plan").ctrl[c];
        // Planted groups: steady quantities so the share sits where planted.
        let mid = if consumable { 4 } else { (lc.packs.0 + lc.packs.1) / 2 };
        let qty = run.rng.range(mid * 8 / 10, mid * 12 / 10).max(1);
        let date = local_date(t0);
        let in_window = ctrl.window.is_none_or(|(a, z)| a <= date && date <= z);
        let l = &run.ledger[item];
        let nonsel_turn = ctrl.nonselected.is_some()
            && in_window
            && l.ctrl_non_selected * 1000 < i64::from(ctrl.target_pm) * (l.ctrl_selected + l.ctrl_non_selected);
        if let (true, Some(p)) = (nonsel_turn, ctrl.nonselected) {
            let product = &ctx.cat.products[p as usize];
            let price = ctrl.price_fen.unwrap_or(product.pack_price_fen);
            run.ledger[item].ctrl_non_selected += qty * product.bupp_c;
            place(ctx, run, sink, Some(item), t0, p, qty, price, ctrl.special, Mode::Delivered, PayMode::Normal, false);
        } else {
            let p = selected_product(&mut run.rng, b.family_slot as usize);
            let product = &ctx.cat.products[p as usize];
            run.ledger[item].ctrl_selected += qty * product.bupp_c;
            let price = product.pack_price_fen;
            place(ctx, run, sink, Some(item), t0, p, qty, price, false, Mode::Delivered, PayMode::Normal, false);
        }
        return;
    }
    let qty = if consumable { run.rng.range(1, (lc.packs.1 / 20).max(2)) } else { run.rng.range(lc.packs.0, lc.packs.1) };
    let special = inst.level == Level::Tertiary && run.rng.chance(0.004);
    let roll = run.rng.unit();
    let l = &run.ledger[item];
    let product = if roll < 0.05 && !group.regular_nonselected.is_empty() {
        let p = *run.rng.pick(&group.regular_nonselected);
        let units = qty * ctx.cat.products[p].bupp_c;
        // Keep every background institution's non-selected share at or
        // below 10 % (SPEC warns above 30 %): clean by construction.
        if special || (l.gate_non_selected + units) * 10 <= l.gate_selected + l.gate_non_selected + units {
            p as u32
        } else {
            selected_product(&mut run.rng, b.family_slot as usize)
        }
    } else if roll < 0.06 && !group.backup.is_empty() {
        *run.rng.pick(&group.backup) as u32
    } else if roll < 0.065 && !group.cheap.is_empty() {
        *run.rng.pick(&group.cheap) as u32
    } else {
        let other = b.other_family_pm > 0 && run.rng.below(1000) < u64::from(b.other_family_pm);
        let slot = if other { 1 - b.family_slot as usize } else { b.family_slot as usize };
        selected_product(&mut run.rng, slot)
    };
    let price = ctx.cat.products[product as usize].pack_price_fen;
    place(ctx, run, sink, Some(item), t0, product, qty, price, special, Mode::Delivered, PayMode::Normal, true);
}

/// Places one order line and decides its whole life; updates the ledger.
#[allow(clippy::too_many_arguments)]
fn place(
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
            PayMode::Normal if amount <= 0 => {}
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

fn push_id(out: &mut Vec<u8>, prefix: &[u8], inst_code: &str, n: u32) {
    out.push(b'"');
    out.extend_from_slice(prefix);
    out.extend_from_slice(inst_code.as_bytes());
    out.push(b'-');
    json::push_padded(out, u64::from(n), 7);
    out.push(b'"');
}

/// One event as a JSON line (with the newline).
fn format_event(ctx: &Ctx<'_>, tf: &mut TimeFormatter, salt: u64, out: &mut Vec<u8>, ev: &Ev) {
    let inst_code = ctx.pop.institutions[ev.inst as usize].code.as_str();
    out.extend_from_slice(b"{\"event_id\":\"");
    json::push_uuid(out, mix(ev.seq ^ salt), mix(ev.seq.wrapping_add(salt)));
    out.extend_from_slice(b"\",\"type\":\"");
    let ty: &[u8] = match ev.kind {
        Kind::Placed { .. } => b"order.placed",
        Kind::Cancelled { .. } => b"order.cancelled",
        Kind::Received { .. } => b"delivery.received",
        Kind::Accepted { .. } => b"delivery.accepted",
        Kind::Payment { .. } => b"payment.made",
    };
    out.extend_from_slice(ty);
    out.push(b'"');
    json::push_time(out, tf, ev.t);
    match ev.kind {
        Kind::Placed { order, product, qty, price_fen, special } => {
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "institution_code", false);
            json::push_plain_str(out, inst_code);
            json::push_key(out, "product_code", false);
            json::push_plain_str(out, &ctx.cat.products[product as usize].code);
            json::push_key(out, "quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
            json::push_key(out, "unit_price", false);
            out.push(b'"');
            json::push_money(out, price_fen);
            out.push(b'"');
            match special {
                1 => out.extend_from_slice(b",\"special_service\":false"),
                2 => out.extend_from_slice(b",\"special_service\":true"),
                _ => {}
            }
        }
        Kind::Cancelled { order, qty } => {
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
        }
        Kind::Received { order, delivery, qty, distributor } => {
            json::push_key(out, "delivery_id", false);
            push_id(out, b"DL-", inst_code, delivery);
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
            json::push_key(out, "distributor", false);
            json::push_plain_str(out, &ctx.pop.distributors[distributor as usize]);
        }
        Kind::Accepted { order, delivery, qty, amount_fen } => {
            json::push_key(out, "delivery_id", false);
            push_id(out, b"DL-", inst_code, delivery);
            json::push_key(out, "order_id", false);
            push_id(out, b"PO-", inst_code, order);
            json::push_key(out, "accepted_quantity_packs", false);
            json::push_qty(out, qty, ev.qty_str);
            json::push_key(out, "amount", false);
            out.push(b'"');
            json::push_money(out, amount_fen);
            out.push(b'"');
        }
        Kind::Payment { payment, delivery, amount_fen } => {
            json::push_key(out, "payment_id", false);
            push_id(out, b"PY-", inst_code, payment);
            json::push_key(out, "institution_code", false);
            json::push_plain_str(out, inst_code);
            json::push_key(out, "delivery_id", false);
            push_id(out, b"DL-", inst_code, delivery);
            json::push_key(out, "amount", false);
            out.push(b'"');
            json::push_money(out, amount_fen);
            out.push(b'"');
        }
    }
    out.extend_from_slice(b"}\n");
}
