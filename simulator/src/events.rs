//! The event generator: per institution, per day, order lines (`supply`)
//! and their whole life (`lifecycle`: cancellations, deliveries,
//! acceptance, payments), written as NDJSON (`format`) in rough time order.
//!
//! Why the whole life is decided when the order is placed: the generator
//! then knows, for every line, exactly what will have happened by `as_of`,
//! and keeps the few numbers SPEC §6 needs (the [`GroupLedger`]) without a second
//! pass over the output. Events later than the order are parked in a ring of
//! day buckets until their day is written, so memory holds about a month of
//! future events, never the whole run.
//!
//! Determinism: each institution has its own random stream, and a worker's
//! output for a day depends only on its (fixed) share of institutions. Two
//! workers run in parallel and the writer interleaves their hour blocks in a
//! fixed order, so the bytes do not depend on thread timing.

use chrono::{Duration, NaiveDate};

use super::behaviour::Plan;
use super::catalogue::Catalogue;
use super::clock::{local_date, local_midnight, Calendar, TimeFormatter, CST_OFFSET_SECS, DAY, HOUR};
use super::format::format_event;
use super::institutions::Population;
use super::rng::{mix, Rng};
use super::scale::ScaleConfig;
use super::supply::{generate_day, Supply};

pub const TOPICS: usize = 3;
pub const TOPIC_FILES: [&str; TOPICS] = ["orders.ndjson", "deliveries.ndjson", "payments.ndjson"];
pub const HOURS: usize = 24;
/// Future days an event can be parked. Payments come at most ~28 days
/// after the order, a late payer's up to ~145 (acceptance within 3 days,
/// 次月底 up to 62 days later, then up to 80 days late). Only the ring's
/// length depends on this, not the bytes written.
const RING: usize = 160;

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
    pub(super) fn exempt(&self, inst: usize, group: u32, d: NaiveDate) -> bool {
        self.exemptions[inst].iter().any(|&(g, a, b)| g == group && a <= d && d <= b)
    }

    fn day_index(&self, t: i64) -> usize {
        (local_date(t) - self.events_start).num_days() as usize
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Placed { order: u32, product: u32, qty: i64, price_fen: i64, special: u8 },
    Cancelled { order: u32, qty: i64 },
    Received { order: u32, delivery: u32, qty: i64, distributor: u16 },
    Accepted { order: u32, delivery: u32, qty: i64, amount_fen: i64 },
    Payment { payment: u32, delivery: u32, amount_fen: i64 },
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    pub(super) t: i64,
    /// Where the line goes in the file: `t`, or a little earlier for the
    /// planted out-of-order lines.
    pub(super) key: i64,
    /// institution << 32 | per-institution event number: unique, and the
    /// source of the event id.
    pub(super) seq: u64,
    pub(super) inst: u32,
    pub(super) qty_str: bool,
    pub(super) kind: Kind,
}

impl Ev {
    pub(super) fn topic(&self) -> usize {
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
    pub(super) gate_selected: i64,
    pub(super) gate_non_selected: i64,
    /// Planned consumption per selected family slot, units ×100 per day:
    /// what the agreed volume is set from.
    pub rate: [f64; 2],
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

pub(super) struct InstRun {
    pub(super) idx: u32,
    pub(super) rng: Rng,
    pub(super) ledger: Vec<GroupLedger>,
    pub(super) supplies: Vec<Supply>,
    pub(super) planned_cursor: usize,
    pub(super) next_order: u32,
    pub(super) next_delivery: u32,
    pub(super) next_payment: u32,
    pub(super) next_event: u32,
}

impl InstRun {
    pub(super) fn ev(&mut self, t: i64, kind: Kind) -> Ev {
        let seq = (u64::from(self.idx) << 32) | u64::from(self.next_event);
        self.next_event += 1;
        Ev { t, key: t, seq, inst: self.idx, qty_str: self.rng.chance(0.3), kind }
    }
}

/// Where generated events and ledger facts go.
pub(super) struct Sink {
    pub(super) ring: Vec<Vec<Ev>>,
    pub(super) current_day: usize,
    pub(super) stats: Stats,
    pub(super) overdue_lines: Vec<OverdueLine>,
    pub(super) overdue_payments: Vec<OverduePayment>,
}

impl Sink {
    /// Parks an event in its day's bucket, or drops it if it falls at or
    /// after as_of (it has not happened yet at the evaluation instant).
    pub(super) fn push(&mut self, ctx: &Ctx<'_>, ev: Ev) -> bool {
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

impl<'a> Worker<'a> {
    /// The worker for institutions `i` with `i % workers == part`.
    pub fn new(ctx: &'a Ctx<'a>, part: usize, workers: usize) -> Self {
        let insts = (0..ctx.pop.institutions.len())
            .filter(|i| i % workers == part)
            .map(|i| {
                let inst = &ctx.pop.institutions[i];
                let mut run = InstRun {
                    idx: i as u32,
                    rng: Rng::for_stream(ctx.seed, 10, i as u64),
                    ledger: inst.basket.iter().map(|b| GroupLedger { group: b.group, ..Default::default() }).collect(),
                    supplies: Vec::new(),
                    planned_cursor: 0,
                    next_order: 1,
                    next_delivery: 1,
                    next_payment: 1,
                    next_event: 0,
                };
                run.plan_supplies(ctx);
                run
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
            salt: mix(ctx.seed ^ 0x005E_ED0F_E7E7),
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
            for (buf, waiting) in chunk.bufs.iter_mut().zip(later[hour].iter_mut()) {
                buf.extend_from_slice(waiting);
                *waiting = Vec::new();
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
