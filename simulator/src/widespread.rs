//! Widespread misbehaviour (region scale): instead of a handful of planted
//! institutions in a clean province, a realistic share of the population
//! falls short, as a quarterly circular (季度通报) would find:
//!
//! - **laggards** buy less than their agreements need. Their purchases are
//!   ordinary; the agreed volume of a lagging agreement is set (in
//!   `agreements::derive`) from what was bought by `as_of`, so progress is
//!   25–35 % of schedule (critical) or 60–68 % (warning) there, far from
//!   the 50 %/80 % thresholds;
//! - agreements **never started**: the group is dropped from the basket, so
//!   nothing of it is bought (SelectedProductNotEntered);
//! - **late payers** pay every delivery 40–80 days after its 次月底
//!   deadline. One *anchor* delivery is placed in the month that decides
//!   the severity, and the delay is chosen so that at `as_of` the oldest
//!   overdue delivery is 40 days or more overdue (critical) or 3–27 days
//!   with every older month paid (warning), never near the 30-day line;
//! - institution × group pairs buying **40 % or 70 % non-selected** units,
//!   only where every order size the generator can draw keeps the share
//!   inside 35–45 % or above 60 %;
//! - **stuck lines**, never delivered, 0–2 or 8+ working days past their
//!   deadline (the line is 5), at most two institutions per city and
//!   product, and a few **supply breaks**: one product stuck at three or
//!   four institutions of a city.
//!
//! Every behaviour is decided here from the seed, before any event exists,
//! and goes to `Plan::intended` with the severity it must produce; only
//! the behind-schedule agreements wait until agreements are derived
//! ([`behind_schedule_intended`]). What `planted.json` promises still comes
//! from `expect.rs`'s own evaluation of the generated ledger; matching the
//! two is what reports unplanned, missed or changed alerts.
//!
//! Institutions that carry a hand-planted behaviour (or an exemption) are
//! left alone, so nothing here changes what those promise.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};

use super::agreements::AgreementRow;
use super::behaviour::{
    month_before, push_zero_intended, remove_from_basket, GroupCtrl, InstPlan, Intended, KeySpec, Mode, PayMode, Plan,
    PlannedOrder, Window,
};
use super::catalogue::{Catalogue, Category};
use super::clock::{self, first_of_month, local_date, local_midnight, Calendar, HOUR};
use super::institutions::{Level, Population};
use super::rng::Rng;
use super::scale::{ScaleConfig, Widespread};

/// What the widespread behaviours are planted in.
pub struct World<'a> {
    pub seed: u64,
    pub cat: &'a Catalogue,
    pub cal: &'a Calendar,
    pub scale: &'a ScaleConfig,
    pub window: Window,
    /// Institutions with a hand-planted behaviour or an exemption.
    pub planted: &'a BTreeSet<usize>,
}

impl World<'_> {
    fn today(&self) -> NaiveDate {
        self.window.as_of_date()
    }

    /// The agreement period of `group`'s batch holds `as_of`.
    fn running_at_as_of(&self, group: usize) -> bool {
        let batch = &self.cat.batches[self.cat.groups[group].batch];
        batch.period_start <= self.today() && self.today() <= batch.period_end
    }

    /// Supplies of `group` start on its batch's period start.
    fn supply_start(&self, group: usize) -> NaiveDate {
        self.cat.batches[self.cat.groups[group].batch].period_start
    }
}

/// Progress at as_of, ‰ of schedule, of a lagging agreement.
const FAR_BEHIND_PM: (i64, i64) = (250, 350);
const SOMEWHAT_BEHIND_PM: (i64, i64) = (600, 680);
/// A late payer pays this many days after 次月底 (inclusive).
const LATE_DAYS: (i64, i64) = (40, 80);

/// Plants the widespread behaviours of `cfg` in the institutions the
/// hand-planted ones left alone. Each kind draws from its own stream, so
/// tuning one share does not reshuffle the others.
pub fn plant(plan: &mut Plan, world: &World<'_>, pop: &mut Population, cfg: &Widespread) {
    let mut rng = Rng::for_stream(world.seed, 40, 0);
    let mut candidates: Vec<usize> = (0..pop.institutions.len()).collect();
    for i in (1..candidates.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        candidates.swap(i, j);
    }
    candidates.retain(|i| !world.planted.contains(i));

    let share_pairs = plant_non_selected_share(plan, world, pop, cfg, &candidates);
    plant_never_started(plan, world, pop, cfg, &candidates, &share_pairs);
    plant_laggards(plan, world, pop, cfg, &candidates);
    plant_stuck_lines(plan, world, pop, cfg, &candidates, &share_pairs);
    plant_late_payers(plan, world, pop, cfg, &candidates, &share_pairs);
}

fn inst_plan(plan: &mut Plan, inst: usize) -> &mut InstPlan {
    plan.inst[inst].get_or_insert_with(Default::default)
}

// --- 6.2 NonSelectedShareHigh -------------------------------------------

/// Does a planted pair of daily supplies (`supply::plan_supplies`: the
/// selected family and `nonselected`, `target_pm` ‰ of the units on the
/// latter) give a share strictly inside `band` ‰, for every order size
/// and selected product the generator may draw? The share is the same
/// every day, so it is the share at as_of too.
fn share_always_within(
    cat: &Catalogue,
    family: usize,
    nonselected: usize,
    packs: (i64, i64),
    target_pm: i64,
    band: (i64, i64),
) -> bool {
    let nb = cat.products[nonselected].bupp_c;
    (packs.0..=packs.1).all(|drawn| {
        let daily = drawn.max(4);
        let selected_packs = (daily * (1000 - target_pm) / 1000).max(1);
        let non_packs = daily * target_pm / 1000;
        cat.families[family].products.iter().all(|&p| {
            let bs = cat.products[p].bupp_c;
            let non_units = ((non_packs * bs + nb / 2) / nb).max(1) * nb;
            let total = selected_packs * bs + non_units;
            // band.0 / 1000 < non_units / total < band.1 / 1000, multiplied out.
            1000 * non_units > band.0 * total && 1000 * non_units < band.1 * total
        })
    })
}

fn plant_non_selected_share(
    plan: &mut Plan,
    world: &World<'_>,
    pop: &mut Population,
    cfg: &Widespread,
    candidates: &[usize],
) -> BTreeSet<(u32, u32)> {
    let cat = world.cat;
    let mut rng = Rng::for_stream(world.seed, 40, 1);
    let mut pairs = BTreeSet::new();
    for &i in candidates {
        if pairs.len() >= cfg.non_selected_plants {
            break;
        }
        let level = pop.institutions[i].level;
        if !matches!(level, Level::Tertiary | Level::Secondary | Level::Private) {
            continue;
        }
        let critical = rng.chance(0.5);
        let (target_pm, band, severity) =
            if critical { (700, (600, 950), "critical") } else { (400, (350, 450), "warning") };
        let packs = world.scale.levels[level.index()].packs;
        let options: Vec<(usize, usize)> = pop.institutions[i]
            .basket
            .iter()
            .enumerate()
            .filter_map(|(slot, item)| {
                let g = &cat.groups[item.group as usize];
                let np = *g.regular_nonselected.first()?;
                let family = g.families[item.family_slot as usize];
                let ok = g.category == Category::Drug
                    && world.running_at_as_of(item.group as usize)
                    && share_always_within(cat, family, np, packs, target_pm, band);
                ok.then_some((slot, np))
            })
            .collect();
        if options.is_empty() {
            continue;
        }
        let (slot, np) = *rng.pick(&options);
        let item = &mut pop.institutions[i].basket[slot];
        item.other_family_pm = 0;
        let group = item.group;
        inst_plan(plan, i).ctrl.push(GroupCtrl {
            group,
            target_pm: target_pm as u32,
            nonselected: Some(np as u32),
            price_fen: None,
            special: false,
            window: None,
        });
        pairs.insert((i as u32, group));
        let g = &cat.groups[group as usize];
        plan.intended.push(Intended {
            alertname: "NonSelectedShareHigh",
            severity,
            key: KeySpec::Share { inst: i as u32, group },
            behaviour: format!(
                "about {}% of {} units bought as the non-selected {} ({})",
                target_pm / 10,
                g.generic_name,
                cat.products[np].spec,
                cat.products[np].enterprise
            ),
        });
    }
    pairs
}

// --- 6.1 SelectedProductNotEntered and ProcurementBehindSchedule --------

fn plant_never_started(
    plan: &mut Plan,
    world: &World<'_>,
    pop: &mut Population,
    cfg: &Widespread,
    candidates: &[usize],
    share_pairs: &BTreeSet<(u32, u32)>,
) {
    let cat = world.cat;
    let mut rng = Rng::for_stream(world.seed, 40, 2);
    for &i in candidates {
        let items: Vec<(u32, u8)> = pop.institutions[i].basket.iter().map(|b| (b.group, b.family_slot)).collect();
        for (group, family_slot) in items {
            let roll = rng.below(1000) < u64::from(cfg.never_started_pm);
            let keep_one = pop.institutions[i].basket.len() > 1;
            let g = group as usize;
            if !roll || !keep_one || share_pairs.contains(&(i as u32, group)) || !world.running_at_as_of(g) {
                continue;
            }
            remove_from_basket(pop, i, group);
            let family = cat.groups[g].families[family_slot as usize];
            plan.zero_agreements.push((i as u32, family as u32));
            push_zero_intended(
                &mut plan.intended,
                cat,
                i,
                family,
                world.supply_start(g),
                world.today(),
                "signed the agreement but never bought the selected product",
            );
        }
    }
}

/// Laggards: some of their groups get an agreed volume far above what
/// they buy. The alerts are known once agreements exist.
fn plant_laggards(plan: &mut Plan, world: &World<'_>, pop: &Population, cfg: &Widespread, candidates: &[usize]) {
    let mut rng = Rng::for_stream(world.seed, 40, 3);
    for &i in candidates {
        if rng.below(1000) >= u64::from(cfg.laggard_pm) {
            continue;
        }
        let band = if rng.below(1000) < u64::from(cfg.far_behind_pm) { FAR_BEHIND_PM } else { SOMEWHAT_BEHIND_PM };
        for item in &pop.institutions[i].basket {
            if rng.below(1000) < u64::from(cfg.lagging_group_pm) {
                plan.lagging.insert((i as u32, item.group), rng.range(band.0, band.1) as u32);
            }
        }
    }
}

/// The behind-schedule alerts of the lagging agreements that
/// `agreements::derive` made (those with `lag_pm`), active at as_of and at
/// least 30 days into their period.
pub fn behind_schedule_intended(agreements: &[AgreementRow], cat: &Catalogue, today: NaiveDate) -> Vec<Intended> {
    agreements
        .iter()
        .filter(|a| a.active(today) && (today - a.start).num_days() + 1 >= 30)
        .filter_map(|a| {
            let pm = a.lag_pm?;
            let family = &cat.families[a.family as usize];
            Some(Intended {
                alertname: "ProcurementBehindSchedule",
                severity: if pm < 500 { "critical" } else { "warning" },
                key: KeySpec::Agreement { inst: a.inst, family: a.family },
                behaviour: format!(
                    "a laggard: buys {} ({}) at {}.{}% of the time-proportional schedule (agreed {} units, far above its purchases)",
                    cat.groups[family.group].generic_name,
                    family.enterprise,
                    pm / 10,
                    pm % 10,
                    a.agreed_units
                ),
            })
        })
        .collect()
}

// --- 6.3 OrderUndelivered and SupplyBreak --------------------------------

/// An instant for a stuck line, in office hours, with the working days
/// between its deadline and as_of: 0–2 (warning) or 8 or more (critical),
/// never near the 5 that separates them. Lines stuck for weeks were placed
/// on a working day; a recent one may be a weekend order.
fn stuck_line_time(rng: &mut Rng, world: &World<'_>, critical: bool) -> Option<(i64, u32)> {
    let today = world.today();
    let earliest = local_midnight(world.window.start) + HOUR;
    // At least 3 days back: the 48 h deadline then passed 7 h or more before as_of.
    let days_back: Vec<i64> = if critical { (14..=40).collect() } else { (3..=7).collect() };
    let start = rng.below(days_back.len() as u64) as usize;
    for k in 0..days_back.len() {
        let day = today - Duration::days(days_back[(start + k) % days_back.len()]);
        if critical && !world.cal.is_working_day(day) {
            continue;
        }
        let t = local_midnight(day) + 9 * HOUR + rng.range(0, 8 * HOUR);
        if t < earliest {
            continue;
        }
        let wd = world.cal.working_days_after_until(local_date(t + 48 * HOUR), today);
        if (critical && wd >= 8) || (!critical && wd <= 2) {
            return Some((t, wd));
        }
    }
    None
}

/// Products whose stuck lines the hand-planted behaviours already use.
fn hand_planted_products(plan: &Plan) -> BTreeSet<u32> {
    let keys = plan.intended.iter().map(|x| &x.key).chain(plan.traps.iter().map(|t| &t.key));
    keys.filter_map(|k| match *k {
        KeySpec::Undelivered { product, .. } | KeySpec::SupplyBreak { product, .. } => Some(product),
        _ => None,
    })
    .collect()
}

struct StuckLines<'w, 'a> {
    world: &'w World<'a>,
    rng: Rng,
    avoid: BTreeSet<u32>,
    /// (city, product) → institutions with a stuck line for it.
    per_city: BTreeMap<(usize, u32), usize>,
    /// (institution, product) with a stuck line.
    lines: BTreeSet<(u32, u32)>,
}

impl StuckLines<'_, '_> {
    /// Plants a never-delivered line of `product` at `inst`; false when no
    /// instant far enough from the thresholds exists.
    fn plant(&mut self, plan: &mut Plan, pop: &Population, inst: usize, product: usize, why: &str) -> bool {
        let critical = self.rng.chance(0.5);
        let Some((t, wd)) = stuck_line_time(&mut self.rng, self.world, critical) else { return false };
        inst_plan(plan, inst).orders.push(PlannedOrder {
            t,
            product: product as u32,
            qty: 10 + 5 * self.rng.range(0, 6),
            mode: Mode::Undelivered,
            pay: PayMode::Normal,
        });
        *self.per_city.entry((pop.institutions[inst].city, product as u32)).or_default() += 1;
        self.lines.insert((inst as u32, product as u32));
        let p = &self.world.cat.products[product];
        plan.intended.push(Intended {
            alertname: "OrderUndelivered",
            severity: if wd >= 5 { "critical" } else { "warning" },
            key: KeySpec::Undelivered { inst: inst as u32, product: product as u32 },
            behaviour: format!(
                "{why}: {} {} ordered {} and still undelivered at as_of ({wd} working days after the deadline)",
                p.generic_name,
                p.spec,
                clock::rfc3339(t)
            ),
        });
        true
    }

    /// A line of `product` at `inst` would be its only one there, and
    /// would not make a third institution of the city with the product
    /// stuck (a supply break nobody planted).
    fn usable(&self, pop: &Population, inst: usize, product: usize) -> bool {
        let key = (pop.institutions[inst].city, product as u32);
        !self.avoid.contains(&(product as u32))
            && !self.lines.contains(&(inst as u32, product as u32))
            && self.per_city.get(&key).copied().unwrap_or(0) < 2
    }
}

/// The selected products `inst` buys regularly (its basket's families,
/// planted shares left out).
fn regular_products(
    world: &World<'_>,
    pop: &Population,
    inst: usize,
    share_pairs: &BTreeSet<(u32, u32)>,
) -> Vec<usize> {
    let cat = world.cat;
    pop.institutions[inst]
        .basket
        .iter()
        .filter(|b| !share_pairs.contains(&(inst as u32, b.group)))
        .flat_map(|b| {
            cat.families[cat.groups[b.group as usize].families[b.family_slot as usize]].products.iter().copied()
        })
        .collect()
}

fn plant_stuck_lines(
    plan: &mut Plan,
    world: &World<'_>,
    pop: &Population,
    cfg: &Widespread,
    candidates: &[usize],
    share_pairs: &BTreeSet<(u32, u32)>,
) {
    let cat = world.cat;
    let mut s = StuckLines {
        world,
        rng: Rng::for_stream(world.seed, 40, 4),
        avoid: hand_planted_products(plan),
        per_city: BTreeMap::new(),
        lines: BTreeSet::new(),
    };
    // Supply breaks: a product one institution of the city buys, stuck
    // there and at two or three others of the city that buy it too.
    let cities = pop.city_distributors.len();
    let mut breaks = 0;
    let mut attempts = 0;
    while breaks < cfg.supply_breaks && attempts < 200 {
        attempts += 1;
        let city = s.rng.below(cities as u64) as usize;
        let in_city: Vec<usize> = candidates.iter().copied().filter(|&i| pop.institutions[i].city == city).collect();
        let Some(&first) = in_city.first() else { continue };
        let products = regular_products(world, pop, first, share_pairs);
        if products.is_empty() {
            continue;
        }
        let product = *s.rng.pick(&products);
        let buyers: Vec<usize> = in_city
            .iter()
            .copied()
            .filter(|&i| regular_products(world, pop, i, share_pairs).contains(&product) && s.usable(pop, i, product))
            .collect();
        let want = 3 + s.rng.below(2) as usize;
        if buyers.len() < want {
            continue;
        }
        let mut affected = 0;
        for &i in &buyers {
            if affected < want && s.plant(plan, pop, i, product, "supply break") {
                affected += 1;
            }
        }
        if affected >= 3 {
            breaks += 1;
            let p = &cat.products[product];
            plan.intended.push(Intended {
                alertname: "SupplyBreak",
                severity: "critical",
                key: KeySpec::SupplyBreak { city, product: product as u32 },
                behaviour: format!(
                    "{} {} ({}) undelivered at {affected} institutions of the city",
                    p.generic_name, p.spec, p.enterprise
                ),
            });
        }
    }
    // Single stuck lines, at most two institutions per city and product.
    let mut planted = 0;
    let mut attempts = 0;
    while planted < cfg.stuck_lines && attempts < cfg.stuck_lines * 20 && !candidates.is_empty() {
        attempts += 1;
        let i = candidates[s.rng.below(candidates.len() as u64) as usize];
        let products = regular_products(world, pop, i, share_pairs);
        if products.is_empty() {
            continue;
        }
        let product = *s.rng.pick(&products);
        if s.usable(pop, i, product) && s.plant(plan, pop, i, product, "stuck line") {
            planted += 1;
        }
    }
}

// --- 6.4 PaymentOverdue ---------------------------------------------------

/// A late payer's plan: its delay and the anchor delivery's order date.
struct LatePayment {
    days_after_deadline: i64,
    anchor_day: NaiveDate,
    critical: bool,
}

/// The 10th of `month` or the next working day: accepted within three
/// days, so in that month.
fn anchor_day(cal: &Calendar, month: NaiveDate) -> NaiveDate {
    let mut d = month + Duration::days(9);
    while !cal.is_working_day(d) {
        d += Duration::days(1);
    }
    d
}

/// Critical: the anchor's deadline passed 40–70 days before as_of, and it
/// is paid at least 5 days after as_of. `first_buy`: when the
/// institution's earliest supply starts.
fn plan_critical(rng: &mut Rng, world: &World<'_>, first_buy: NaiveDate) -> Option<LatePayment> {
    let today = world.today();
    let overdue_from = first_of_month(today - Duration::days(40));
    let anchor_day = anchor_day(world.cal, month_before(overdue_from, 2));
    if anchor_day < first_buy {
        return None;
    }
    let overdue_days = (today - overdue_from).num_days();
    let days_after_deadline = rng.range((overdue_days + 5).max(LATE_DAYS.0), LATE_DAYS.1);
    Some(LatePayment { days_after_deadline, anchor_day, critical: true })
}

/// Warning: the anchor became overdue on the first of as_of's month, 3–27
/// days before as_of, and every delivery of the months before is paid by
/// as_of (at least 5 days before it), or there is none.
fn plan_warning(rng: &mut Rng, world: &World<'_>, first_buy: NaiveDate) -> Option<LatePayment> {
    let today = world.today();
    if !(4..=28).contains(&today.day()) {
        return None;
    }
    let overdue_from = first_of_month(today);
    let accepted_in = month_before(overdue_from, 2);
    let anchor_day = anchor_day(world.cal, accepted_in);
    if anchor_day < first_buy {
        return None;
    }
    // The month before: its deliveries must be paid by as_of.
    let previous_overdue_from = month_before(overdue_from, 1);
    let latest = if first_buy >= accepted_in {
        LATE_DAYS.1
    } else {
        ((today - previous_overdue_from).num_days() - 5).min(LATE_DAYS.1)
    };
    if latest < LATE_DAYS.0 {
        return None;
    }
    let days_after_deadline = rng.range(LATE_DAYS.0, latest);
    Some(LatePayment { days_after_deadline, anchor_day, critical: false })
}

fn plant_late_payers(
    plan: &mut Plan,
    world: &World<'_>,
    pop: &Population,
    cfg: &Widespread,
    candidates: &[usize],
    share_pairs: &BTreeSet<(u32, u32)>,
) {
    let cat = world.cat;
    let mut rng = Rng::for_stream(world.seed, 40, 5);
    for &i in candidates {
        if rng.below(1000) >= u64::from(cfg.late_payer_pm) {
            continue;
        }
        let basket = &pop.institutions[i].basket;
        let Some(first_buy) = basket.iter().map(|b| world.supply_start(b.group as usize)).min() else { continue };
        let want_critical = rng.chance(0.55);
        let late = if want_critical {
            plan_critical(&mut rng, world, first_buy).or_else(|| plan_warning(&mut rng, world, first_buy))
        } else {
            plan_warning(&mut rng, world, first_buy).or_else(|| plan_critical(&mut rng, world, first_buy))
        };
        let Some(late) = late else { continue };
        // The anchor: a regular product whose supply has started by then
        // (not a planted share's group, whose share it would change).
        let products: Vec<usize> = regular_products(world, pop, i, share_pairs)
            .into_iter()
            .filter(|&p| world.supply_start(cat.products[p].group) <= late.anchor_day)
            .collect();
        if products.is_empty() {
            continue;
        }
        let product = *rng.pick(&products);
        let days = late.days_after_deadline as u16;
        plan.late_payers.insert(i as u32, days);
        inst_plan(plan, i).orders.push(PlannedOrder {
            t: local_midnight(late.anchor_day) + 10 * HOUR + rng.range(0, 4 * HOUR),
            product: product as u32,
            qty: 10 + 5 * rng.range(0, 6),
            mode: Mode::Delivered,
            pay: PayMode::Late { days_after_deadline: days },
        });
        let accepted = first_of_month(late.anchor_day);
        plan.intended.push(Intended {
            alertname: "PaymentOverdue",
            severity: if late.critical { "critical" } else { "warning" },
            key: KeySpec::Payment { inst: i as u32 },
            behaviour: format!(
                "a late payer: pays every delivery {days} days after 次月底; deliveries accepted in {}-{:02} are overdue since {}",
                accepted.year(),
                accepted.month(),
                clock::payment_overdue_from(accepted)
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;
    use crate::scale;

    /// Every as_of of the year: the decisions hold whatever the window.
    fn each_as_of(mut check: impl FnMut(&World<'_>)) {
        let cat = catalogue::build(1, 60).expect("catalogue");
        let cal = Calendar::china_2025_2026().expect("calendar");
        let scale = scale::region();
        let planted = BTreeSet::new();
        let start = clock::ymd(2026, 1, 1);
        for days in 30..=366 {
            let as_of = local_midnight(start + Duration::days(days));
            let window = Window { start, days: days as u32, as_of };
            check(&World { seed: 1, cat: &cat, cal: &cal, scale: &scale, window, planted: &planted });
        }
    }

    #[test]
    fn a_late_payers_oldest_overdue_delivery_is_far_from_the_30_day_line() {
        let mut rng = Rng::new(7);
        each_as_of(|world| {
            let today = world.today();
            for first_buy in [clock::ymd(2025, 11, 1), clock::ymd(2026, 1, 1)] {
                if let Some(late) = plan_critical(&mut rng, world, first_buy) {
                    let from = clock::payment_overdue_from(late.anchor_day);
                    assert!((today - from).num_days() >= 40, "{today}: critical anchor overdue since {from}");
                    assert!(from + Duration::days(late.days_after_deadline) >= today + Duration::days(5));
                }
                if let Some(late) = plan_warning(&mut rng, world, first_buy) {
                    let from = clock::payment_overdue_from(late.anchor_day);
                    assert!((3..=27).contains(&(today - from).num_days()), "{today}: warning anchor since {from}");
                    // Deliveries of the month before are paid by as_of, if any.
                    let before = month_before(from, 1);
                    let paid_by = before + Duration::days(late.days_after_deadline);
                    assert!(first_buy >= month_before(from, 2) || paid_by <= today - Duration::days(5));
                }
                assert!(LATE_DAYS.1 + 62 + 3 < 160, "payments fit the generator's ring of parked days");
            }
        });
    }

    #[test]
    fn a_stuck_line_is_0_to_2_or_at_least_8_working_days_past_its_deadline() {
        let mut rng = Rng::new(9);
        each_as_of(|world| {
            for critical in [false, true] {
                let Some((t, wd)) = stuck_line_time(&mut rng, world, critical) else { continue };
                assert!(t + 48 * HOUR + 7 * HOUR <= world.window.as_of, "the deadline passed well before as_of");
                assert!(if critical { wd >= 8 } else { wd <= 2 }, "{}: {wd} working days", world.today());
            }
        });
    }
}
