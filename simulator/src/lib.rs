//! `vbp-watch simulate`: a simulated 陕西省 — reference data, one NDJSON file
//! per topic, and `planted.json`, the alerts the detectors must raise (and
//! only those) when the events are replayed up to `as_of`.
//!
//! Why a simulator at all: real procurement feeds cannot leave the
//! provincial platform, and the detectors need data whose right answer is
//! known to the cent and to the working day. The simulated province is
//! clean by construction (every background institution is on schedule,
//! mostly buys selected products, is delivered to within 48 h and pays
//! before 次月底), then specific institutions are made to misbehave, and the
//! feed is made as messy as real ones (duplicates, malformed lines,
//! out-of-order and orphan events).
//!
//! Region scale makes misbehaviour common instead ([`widespread`]: laggards,
//! late payers, stuck lines and the rest spread over the population), so
//! thousands of alerts fire at `as_of`, each still planted and promised.
//!
//! Layout: [`catalogue`] and [`institutions`] build the static world,
//! [`behaviour`] plants the misbehaviour, [`events`] runs the generator
//! ([`supply`]: what is bought when; [`lifecycle`]: each line's deliveries
//! and payments, and the [`events::GroupLedger`] of what SPEC §6 will see;
//! [`format`]: the JSON lines), [`writer`] streams it,
//! [`agreements`] derives agreed volumes, [`expect`] evaluates SPEC §6 at
//! `as_of` independently of the engine, and [`planted`] writes the answer.

mod agreements;
mod behaviour;
mod catalogue;
mod clock;
mod complaints;
mod events;
mod expect;
mod format;
mod geography;
mod institutions;
mod json;
mod lifecycle;
mod mess;
mod names;
mod planted;
mod reference;
mod rng;
mod scale;
mod stems;
mod supply;
mod widespread;
mod windows;
mod writer;

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::{Duration, NaiveDate};

use clock::{local_date, local_midnight, rfc3339, ymd, Calendar};
use events::Ctx;

/// How big a province to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    /// A few hundred institutions, tens of groups, ~75 days: for tests.
    Small,
    /// SPEC §8: 20,000 institutions, 600 groups, ~500,000 agreements, one month.
    Province,
    /// ~2,000 institutions, 60 groups, ~1 million events over ten months,
    /// with misbehaviour widespread: thousands of alerts fire at as_of.
    Region,
}

/// Options of `vbp-watch simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateOptions {
    /// Output directory (created): reference/, events/, planted.json.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "small")]
    pub scale: Scale,
    /// Seed of every random choice; the same seed gives identical bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Days simulated from 2026-01-01 (default: 75 for small, 31 for province, 300 for region).
    #[arg(long)]
    pub days: Option<u32>,
}

/// What was written, and how fast.
#[derive(Debug, Clone)]
pub struct SimulateSummary {
    pub out: PathBuf,
    pub scale: &'static str,
    pub seed: u64,
    pub window_start: String,
    pub as_of: String,
    pub institutions: usize,
    pub groups: usize,
    pub products: usize,
    pub agreements: usize,
    pub events_by_type: [u64; 5],
    pub lines: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub expected_firing: usize,
    /// Alerts that fire although nothing was planted: a simulator bug.
    pub unplanned: usize,
    /// Planted behaviours that do not fire at as_of (e.g. a short --days).
    pub missed: usize,
    pub severity_changed: usize,
}

impl SimulateSummary {
    pub fn events(&self) -> u64 {
        self.events_by_type.iter().sum()
    }
}

impl fmt::Display for SimulateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.seconds.max(1e-9);
        writeln!(f, "simulated {} province (seed {}) into {}", self.scale, self.seed, self.out.display())?;
        writeln!(f, "  window {} .. as_of {}", self.window_start, self.as_of)?;
        writeln!(
            f,
            "  {} institutions, {} groups, {} products, {} agreements",
            self.institutions, self.groups, self.products, self.agreements
        )?;
        let [placed, cancelled, received, accepted, paid] = self.events_by_type;
        writeln!(
            f,
            "  events: {} (order.placed {placed}, order.cancelled {cancelled}, delivery.received {received}, delivery.accepted {accepted}, payment.made {paid}); {} lines written",
            self.events(),
            self.lines
        )?;
        writeln!(f, "  planted: {} alerts expected at as_of", self.expected_firing)?;
        if self.unplanned + self.missed + self.severity_changed > 0 {
            writeln!(
                f,
                "  NOTE: {} unplanned, {} planted but not firing, {} with another severity (see planted.json notes)",
                self.unplanned, self.missed, self.severity_changed
            )?;
        }
        write!(
            f,
            "  throughput: {:.0} events/s, {:.1} MB/s ({:.1} MB in {:.2} s)",
            self.events() as f64 / secs,
            self.bytes as f64 / 1e6 / secs,
            self.bytes as f64 / 1e6,
            self.seconds
        )
    }
}

/// The simulated window always starts on New Year's Day 2026: the current
/// agreement periods start then, and 75 days cross the Spring Festival.
pub const WINDOW_START: (i32, u32, u32) = (2026, 1, 1);

pub fn run(opts: &SimulateOptions) -> Result<SimulateSummary> {
    let started = Instant::now();
    let scale = match opts.scale {
        Scale::Small => scale::small(),
        Scale::Province => scale::province(),
        Scale::Region => scale::region(),
    };
    let days = opts.days.unwrap_or(scale.default_days);
    if !(1..=366).contains(&days) {
        bail!("--days must be between 1 and 366, not {days}");
    }
    let seed = opts.seed;
    let window_start: NaiveDate = ymd(WINDOW_START.0, WINDOW_START.1, WINDOW_START.2);
    let as_of = local_midnight(window_start + Duration::days(i64::from(days)));
    let as_of_date = local_date(as_of);

    let cat = catalogue::build(seed, scale.groups)?;
    let mut pop = institutions::build(seed, &scale, &cat);
    let cal = Calendar::china_2025_2026()?;
    let window = behaviour::Window { start: window_start, days, as_of };
    let mut plan = behaviour::build(seed, &cat, &mut pop, &cal, window, &scale);
    for p in plan.inst.iter_mut().flatten() {
        p.orders.sort_by_key(|o| (o.t, o.product));
    }
    let group_start = cat.groups.iter().map(|g| cat.batches[g.batch].period_start).collect();
    let mut exemptions = vec![Vec::new(); pop.institutions.len()];
    for e in &plan.exemptions {
        exemptions[e.inst as usize].push((e.group, e.from, e.to));
    }
    // The feed starts with the earliest running agreement period among the
    // groups bought (the history of batches that started before the
    // window), or earlier for a planted late payer.
    let earliest_supply = pop
        .institutions
        .iter()
        .flat_map(|i| i.basket.iter())
        .map(|b| cat.batches[cat.groups[b.group as usize].batch].period_start)
        .min()
        .unwrap_or(window_start);
    plan.events_start = plan.events_start.min(earliest_supply);
    let n_days = (as_of_date - plan.events_start).num_days() as u32;
    let ctx = Ctx {
        cat: &cat,
        pop: &pop,
        plan: &plan,
        cal: &cal,
        scale: &scale,
        seed,
        events_start: plan.events_start,
        window_start,
        as_of,
        n_days,
        group_start,
        exemptions,
    };

    // ~4.4 lines per order line; only used to size the malformed share.
    let activity: f64 = (0..days).map(|d| cal.order_activity(window_start + Duration::days(i64::from(d)))).sum();
    let expected_lines = (pop.institutions.iter().map(|i| i.lines_per_day).sum::<f64>() * activity * 4.4) as u64;
    let (mess_lines, mess_counts) = mess::build(&ctx, &cat, expected_lines);

    std::fs::create_dir_all(&opts.out).with_context(|| format!("cannot create {}", opts.out.display()))?;
    let show_progress = opts.scale != Scale::Small && std::io::stderr().is_terminal();
    let written = writer::write_events(&ctx, &mess_lines, &opts.out.join("events"), show_progress)?;
    let mut stats = writer::total_stats(&written.results);

    let mut ledgers = Vec::new();
    let mut overdue_lines = Vec::new();
    let mut overdue_payments = Vec::new();
    for r in written.results {
        ledgers.extend(r.ledgers);
        overdue_lines.extend(r.overdue_lines);
        overdue_payments.extend(r.overdue_payments);
    }
    ledgers.sort_by_key(|(i, _)| *i);
    overdue_lines.sort_by_key(|l| (l.inst, l.product, l.deadline));
    overdue_payments.sort_by_key(|p| (p.inst, p.overdue_from, p.outstanding_fen));

    let mut agreements = agreements::derive(seed, &cat, &pop, &plan, &ledgers, window_start, as_of_date);
    let windows = windows::plant(&opts.out.join("events"), &cat, &pop, &mut agreements, as_of_date)?;
    // The planted lifecycles are events like the others: counted with them.
    for kind in [0, 2, 3, 4] {
        stats.by_type[kind] += windows.orders;
    }
    // A laggard's agreements exist only now: so do its planted alerts.
    plan.intended.extend(widespread::behind_schedule_intended(&agreements, &cat, as_of_date));
    reference::write(
        &opts.out.join("reference"),
        &reference::ReferenceInput {
            cat: &cat,
            pop: &pop,
            cal: &cal,
            agreements: &agreements,
            exemptions: &plan.exemptions,
        },
    )?;

    complaints::write_enterprises(&opts.out.join("reference"), &cat)?;
    windows::write_reference(&opts.out.join("reference"), &windows)?;
    plan.intended.extend(windows.intended);
    plan.traps.extend(windows.traps);
    let exchange = complaints::write(&opts.out.join("events"), &cat, &pop, &cal, as_of)?;
    plan.intended.extend(exchange.intended);
    plan.traps.extend(exchange.traps);
    let mut alerts = expect::evaluate(&expect::Inputs {
        cat: &cat,
        pop: &pop,
        cal: &cal,
        as_of,
        agreements: &agreements,
        ledgers: &ledgers,
        overdue_lines: &overdue_lines,
        overdue_payments: &overdue_payments,
    });
    alerts.extend(exchange.alerts);
    alerts.extend(windows.alerts);
    let resolver = planted::Resolver { cat: &cat, pop: &pop, agreements: &agreements, today: as_of_date };
    let matched = planted::match_plan(&plan, alerts, &resolver);
    for a in &matched.unplanned {
        tracing::warn!(alertname = a.alertname, who = %resolver.who(&a.key), measured = %a.measured, "simulator: an alert fires that was not planted");
    }
    planted::write(
        &opts.out.join("planted.json"),
        &planted::PlantedDoc {
            scale: scale.name,
            seed,
            window_start: rfc3339(local_midnight(window_start)),
            events_start: rfc3339(local_midnight(plan.events_start)),
            as_of: rfc3339(as_of),
            days,
            matched: &matched,
            plan: &plan,
            stats: &stats,
            mess: &mess_counts,
            resolver: &resolver,
        },
    )?;

    Ok(SimulateSummary {
        out: opts.out.clone(),
        scale: scale.name,
        seed,
        window_start: rfc3339(local_midnight(window_start)),
        as_of: rfc3339(as_of),
        institutions: pop.institutions.len(),
        groups: cat.groups.len(),
        products: cat.products.len(),
        agreements: agreements.len(),
        events_by_type: stats.by_type,
        lines: written.lines,
        bytes: written.bytes,
        seconds: started.elapsed().as_secs_f64(),
        expected_firing: matched.firing.len() + matched.unplanned.len(),
        unplanned: matched.unplanned.len(),
        missed: matched.missed.len(),
        severity_changed: matched.severity_changed.len(),
    })
}
