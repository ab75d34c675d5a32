//! What is planted: the institutions and products that misbehave, how, and
//! the alerts (and non-alerts) that SPEC §6 must produce for them.
//!
//! Every planted time is placed relative to the end of the window (`as_of`)
//! so that a `--days` override keeps the behaviours meaningful, and far
//! from every threshold (30 %/65 % of schedule against 50 %/80 %, shares of
//! 0.4/0.7 against 0.3/0.5, 2 working days against 5, 44 days overdue
//! against 30) so that no decision depends on rounding.
//!
//! These hand-planted behaviours are the same at every scale. Region scale
//! then spreads misbehaviour over the institutions they leave alone
//! (`widespread.rs`), on the same principle.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate};

use super::catalogue::{Catalogue, Category};
use super::clock::{self, local_date, local_midnight, Calendar, HOUR};
use super::institutions::{BasketItem, Level, Population};
use super::rng::Rng;
use super::scale::ScaleConfig;
use super::widespread;

/// How an explicitly planted order line goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Delivered in one go within 48 h and accepted.
    Delivered,
    /// Never delivered (a stuck line).
    Undelivered,
}

/// How the deliveries of a planted order line are paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayMode {
    Normal,
    Unpaid,
    /// Pays `pay_pm` ‰ of the amount (rounded down to the fen) ten days
    /// after acceptance, and never the rest.
    Partial {
        pay_pm: u32,
    },
    /// Pays each delivery in full, `days_after_deadline` days into its
    /// overdue period (a late payer of the region scale).
    Late {
        days_after_deadline: u16,
    },
}

#[derive(Debug, Clone)]
pub struct PlannedOrder {
    pub t: i64,
    pub product: u32,
    pub qty: i64,
    pub mode: Mode,
    pub pay: PayMode,
}

/// Overrides how an institution orders one group.
#[derive(Debug, Clone)]
pub struct GroupCtrl {
    pub group: u32,
    /// Target share (‰) of the group's units going to `nonselected`.
    pub target_pm: u32,
    pub nonselected: Option<u32>,
    /// Price per pack for the non-selected orders (fen), when not the list price.
    pub price_fen: Option<i64>,
    /// The non-selected orders are 特需 (special_service = true).
    pub special: bool,
    /// Non-selected orders only on these dates (inclusive).
    pub window: Option<(NaiveDate, NaiveDate)>,
}

#[derive(Debug, Clone, Default)]
pub struct InstPlan {
    pub ctrl: Vec<GroupCtrl>,
    pub orders: Vec<PlannedOrder>,
}

/// The key of an alert, in simulator terms (resolved to codes and
/// agreement ids once agreements exist).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeySpec {
    Agreement { inst: u32, family: u32 },
    Share { inst: u32, group: u32 },
    Undelivered { inst: u32, product: u32 },
    SupplyBreak { city: usize, product: u32 },
    Payment { inst: u32 },
    /// The `n`-th planted complaint, filed by `inst`.
    Complaint { inst: u32, n: u32 },
    /// An institution's purchases of a group's substitutes (6.6).
    Substitute { inst: u32, group: u32 },
    /// An institution's purchases of a product above its selected price (6.8).
    Price { inst: u32, product: u32 },
}

#[derive(Debug, Clone)]
pub struct Intended {
    pub alertname: &'static str,
    pub severity: &'static str,
    pub key: KeySpec,
    pub behaviour: String,
}

/// Something that looks alarming but must not fire.
#[derive(Debug, Clone)]
pub struct Trap {
    pub must_not_fire: &'static str,
    pub key: KeySpec,
    pub behaviour: String,
}

#[derive(Debug, Clone)]
pub struct ExemptionRow {
    pub id: String,
    pub inst: u32,
    pub group: u32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub reason: &'static str,
}

pub struct Plan {
    pub inst: Vec<Option<InstPlan>>,
    pub intended: Vec<Intended>,
    pub traps: Vec<Trap>,
    pub exemptions: Vec<ExemptionRow>,
    /// Agreements with no purchases at all (中选产品未进院).
    pub zero_agreements: Vec<(u32, u32)>,
    /// (institution, family) → progress as ‰ of schedule.
    pub progress_pm: BTreeMap<(u32, u32), u32>,
    /// First day with events (before the window when a planted late payer
    /// needs deliveries accepted months before).
    pub events_start: NaiveDate,
    /// The distributor whose deliveries crawl (30–46 h, and some lines stuck).
    pub slow_distributor: Option<u16>,
    /// Laggards' agreements: (institution, group) → progress at as_of as ‰
    /// of schedule. The agreed volume is set from what was bought by as_of
    /// (`agreements::derive`), so the ratio holds there, to the rounding of
    /// the agreed volume.
    pub lagging: BTreeMap<(u32, u32), u32>,
    /// Institution → days after the 次月底 deadline it pays every delivery.
    pub late_payers: BTreeMap<u32, u16>,
}

impl Plan {
    pub fn inst_plan(&self, inst: usize) -> Option<&InstPlan> {
        self.inst.get(inst).and_then(|p| p.as_ref())
    }

    /// How an institution pays its regular purchases.
    pub fn pay_mode(&self, inst: u32) -> PayMode {
        match self.late_payers.get(&inst) {
            Some(&days_after_deadline) => PayMode::Late { days_after_deadline },
            None => PayMode::Normal,
        }
    }
}

/// The window the plan is built for.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: NaiveDate,
    pub days: u32,
    /// Exclusive end: midnight after the last simulated day.
    pub as_of: i64,
}

impl Window {
    pub fn as_of_date(&self) -> NaiveDate {
        local_date(self.as_of)
    }
    fn start_t(&self) -> i64 {
        local_midnight(self.start)
    }
}

struct Picker<'a> {
    pop: &'a mut Population,
    order: Vec<usize>,
    used: BTreeSet<usize>,
}

impl Picker<'_> {
    /// The first unused institution (in seeded order) satisfying `pred`.
    fn pick(&mut self, pred: impl Fn(&Population, usize) -> bool) -> Option<usize> {
        let found = self.order.iter().copied().find(|&i| !self.used.contains(&i) && pred(self.pop, i))?;
        self.used.insert(found);
        Some(found)
    }
}

/// Ensures `group` is in the institution's basket and returns its index.
fn ensure_in_basket(pop: &mut Population, inst: usize, group: u32, cat: &Catalogue) -> usize {
    if let Some(i) = pop.institutions[inst].basket_slot(group) {
        return i;
    }
    let b = &mut pop.institutions[inst].basket;
    let cum = b.last().map_or(0, |x| x.cum_weight) + cat.groups[group as usize].popularity;
    b.push(BasketItem { group, cum_weight: cum, family_slot: 0, other_family_pm: 0 });
    b.len() - 1
}

pub(super) fn remove_from_basket(pop: &mut Population, inst: usize, group: u32) {
    let b = &mut pop.institutions[inst].basket;
    // Keep each remaining item's own weight (the step in the cumulative sum).
    let mut prev = 0;
    let mut steps = Vec::with_capacity(b.len());
    for x in b.iter() {
        steps.push(x.cum_weight - prev);
        prev = x.cum_weight;
    }
    let mut cum = 0;
    let mut kept = Vec::with_capacity(b.len());
    for (x, step) in b.drain(..).zip(steps) {
        if x.group != group {
            cum += step;
            kept.push(BasketItem { cum_weight: cum, ..x });
        }
    }
    *b = kept;
}

fn hospital(pop: &Population, i: usize, levels: &[Level]) -> bool {
    levels.contains(&pop.institutions[i].level)
}

fn has_group(pop: &Population, i: usize, g: usize) -> bool {
    pop.institutions[i].basket_slot(g as u32).is_some()
}

/// The hand-planted behaviours every scale has, then (region scale) the
/// widespread ones on the institutions left alone.
pub fn build(seed: u64, cat: &Catalogue, pop: &mut Population, cal: &Calendar, w: Window, scale: &ScaleConfig) -> Plan {
    let mut rng = Rng::for_stream(seed, 3, 0);
    let n = pop.institutions.len();
    let mut order: Vec<usize> = (0..n).collect();
    // Seeded shuffle (Fisher–Yates).
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut inst_plans: Vec<Option<InstPlan>> = vec![None; n];
    let mut intended = Vec::new();
    let mut traps = Vec::new();
    let mut exemptions = Vec::new();
    let mut zero_agreements = Vec::new();
    let mut progress_pm = BTreeMap::new();
    let mut events_start = w.start;
    let mut slow_distributor = None;
    let as_of_date = w.as_of_date();
    let mut picker = Picker { pop, order, used: BTreeSet::new() };
    let t_start = w.start_t();

    let drug_groups = |pred: &dyn Fn(usize) -> bool| -> Vec<usize> {
        (0..cat.groups.len()).filter(|&g| cat.groups[g].category == Category::Drug && pred(g)).collect()
    };
    let elapsed_of = |start: NaiveDate| (as_of_date - start).num_days() + 1;

    // --- 6.1 ProcurementBehindSchedule: buys at 30 % (critical) and 65 % (warning) of schedule.
    let b0 = |g: usize| cat.groups[g].batch == 0;
    for (pm, level, severity) in [(300u32, Level::Tertiary, "critical"), (650, Level::Secondary, "warning")] {
        let groups = drug_groups(&|g| b0(g) && cat.groups[g].families.len() == 1);
        let g = groups[rng.below(groups.len() as u64) as usize];
        let Some(i) = picker.pick(|p, i| hospital(p, i, &[level]) && has_group(p, i, g)) else { continue };
        let slot = ensure_in_basket(picker.pop, i, g as u32, cat);
        let item = &mut picker.pop.institutions[i].basket[slot];
        item.other_family_pm = 0;
        let family = cat.groups[g].families[item.family_slot as usize];
        progress_pm.insert((i as u32, family as u32), pm);
        inst_plans[i].get_or_insert_with(Default::default).ctrl.push(GroupCtrl {
            group: g as u32,
            target_pm: 0,
            nonselected: None,
            price_fen: None,
            special: false,
            window: None,
        });
        let period = &cat.batches[cat.groups[g].batch];
        if elapsed_of(period.period_start) >= 30 {
            intended.push(Intended {
                alertname: "ProcurementBehindSchedule",
                severity,
                key: KeySpec::Agreement { inst: i as u32, family: family as u32 },
                behaviour: format!(
                    "buys {} at about {}% of the time-proportional schedule (agreed volume far above its consumption)",
                    cat.groups[g].generic_name,
                    pm / 10
                ),
            });
        }
    }

    // --- 6.1 SelectedProductNotEntered: (a) an older batch never bought;
    // (b) a current agreement with enterprise A while buying only B.
    {
        let groups = drug_groups(&|g| cat.groups[g].batch == 1);
        let g = groups[rng.below(groups.len() as u64) as usize];
        if let Some(i) = picker.pick(|p, i| hospital(p, i, &[Level::Secondary]) && has_group(p, i, g)) {
            remove_from_basket(picker.pop, i, g as u32);
            let family = cat.groups[g].families[0];
            zero_agreements.push((i as u32, family as u32));
            let start = cat.batches[1].period_start;
            push_zero_intended(
                &mut intended,
                cat,
                i,
                family,
                start,
                as_of_date,
                "signed for the 第十批国采 product but never bought it",
            );
        }
        let groups = drug_groups(&|g| b0(g) && cat.groups[g].families.len() == 2);
        if !groups.is_empty() {
            let g = groups[rng.below(groups.len() as u64) as usize];
            if let Some(i) = picker.pick(|p, i| hospital(p, i, &[Level::Tertiary]) && has_group(p, i, g)) {
                let slot = ensure_in_basket(picker.pop, i, g as u32, cat);
                let item = &mut picker.pop.institutions[i].basket[slot];
                item.family_slot = 1;
                item.other_family_pm = 0;
                let family = cat.groups[g].families[0];
                zero_agreements.push((i as u32, family as u32));
                inst_plans[i].get_or_insert_with(Default::default).ctrl.push(GroupCtrl {
                    group: g as u32,
                    target_pm: 0,
                    nonselected: None,
                    price_fen: None,
                    special: false,
                    window: None,
                });
                let start = cat.batches[0].period_start;
                push_zero_intended(
                    &mut intended,
                    cat,
                    i,
                    family,
                    start,
                    as_of_date,
                    "has an agreement with one selected enterprise but buys only the other selected enterprise's product",
                );
            }
        }
    }

    // --- 6.2 NonSelectedShareHigh and its traps.
    let share_ctrl = |picker: &mut Picker<'_>,
                      rng: &mut Rng,
                      inst_plans: &mut Vec<Option<InstPlan>>,
                      levels: &[Level],
                      group_ok: &dyn Fn(usize) -> bool,
                      nonsel: &dyn Fn(usize) -> Option<usize>,
                      target_pm: u32|
     -> Option<(usize, usize, usize)> {
        let groups: Vec<usize> = (0..cat.groups.len()).filter(|&g| group_ok(g) && nonsel(g).is_some()).collect();
        if groups.is_empty() {
            return None;
        }
        let g = groups[rng.below(groups.len() as u64) as usize];
        let i = picker.pick(|p, i| hospital(p, i, levels) && has_group(p, i, g))?;
        let slot = ensure_in_basket(picker.pop, i, g as u32, cat);
        picker.pop.institutions[i].basket[slot].other_family_pm = 0;
        let product = nonsel(g)?;
        inst_plans[i].get_or_insert_with(Default::default).ctrl.push(GroupCtrl {
            group: g as u32,
            target_pm,
            nonselected: Some(product as u32),
            price_fen: None,
            special: false,
            window: None,
        });
        Some((i, g, product))
    };
    let regular = |g: usize| cat.groups[g].regular_nonselected.first().copied();
    let is_drug = |g: usize| cat.groups[g].category == Category::Drug;
    for (pm, levels, severity) in [(400u32, [Level::Secondary], "warning"), (700, [Level::Tertiary], "critical")] {
        if let Some((i, g, p)) = share_ctrl(&mut picker, &mut rng, &mut inst_plans, &levels, &is_drug, &regular, pm) {
            intended.push(Intended {
                alertname: "NonSelectedShareHigh",
                severity,
                key: KeySpec::Share { inst: i as u32, group: g as u32 },
                behaviour: format!(
                    "about {}% of {} units bought as the non-selected {} ({})",
                    pm / 10,
                    cat.groups[g].generic_name,
                    cat.products[p].spec,
                    cat.products[p].enterprise
                ),
            });
        }
    }
    let backup = |g: usize| cat.groups[g].backup.first().copied();
    if let Some((i, g, _)) = share_ctrl(
        &mut picker,
        &mut rng,
        &mut inst_plans,
        &[Level::Secondary, Level::Tertiary],
        &|_| true,
        &backup,
        600,
    ) {
        traps.push(Trap {
            must_not_fire: "NonSelectedShareHigh",
            key: KeySpec::Share { inst: i as u32, group: g as u32 },
            behaviour: format!(
                "about 60% of {} bought from the backup supplier (backup_supplier=true)",
                cat.groups[g].generic_name
            ),
        });
    }
    let cheap = |g: usize| cat.groups[g].cheap.first().copied().filter(|&p| cat.products[p].bupp_c == 5_000);
    for equal in [false, true] {
        let levels = [Level::Secondary, Level::Tertiary, Level::Primary];
        if let Some((i, g, p)) = share_ctrl(&mut picker, &mut rng, &mut inst_plans, &levels, &is_drug, &cheap, 600) {
            let lowest = cat.groups[g].lowest_price_e4;
            let bupp_c = cat.products[p].bupp_c;
            let price = if equal { lowest * bupp_c / 10_000 } else { lowest * bupp_c * 9 / 100_000 };
            if let Some(c) = inst_plans[i].as_mut().and_then(|x| x.ctrl.last_mut()) {
                c.price_fen = Some(price);
            }
            traps.push(Trap {
                must_not_fire: "NonSelectedShareHigh",
                key: KeySpec::Share { inst: i as u32, group: g as u32 },
                behaviour: format!(
                    "about 60% of {} bought as a non-selected product at {}.{:02} yuan per pack of 50, {} the lowest selected price per base unit ({})",
                    cat.groups[g].generic_name,
                    price / 100,
                    price % 100,
                    if equal { "exactly equal to" } else { "10% below" },
                    fmt_e4(lowest)
                ),
            });
        }
    }
    // A spike covered by an exemption window.
    let ex_from = w.start + Duration::days(i64::from(w.days) / 4);
    let ex_to = w.start + Duration::days(i64::from(w.days) * 7 / 10);
    if (ex_to - ex_from).num_days() >= 6 {
        if let Some((i, g, _)) =
            share_ctrl(&mut picker, &mut rng, &mut inst_plans, &[Level::Secondary], &is_drug, &regular, 600)
        {
            if let Some(c) = inst_plans[i].as_mut().and_then(|x| x.ctrl.last_mut()) {
                c.window = Some((ex_from + Duration::days(1), ex_to - Duration::days(1)));
            }
            exemptions.push(ExemptionRow {
                id: format!("MY{}-{:04}", ex_from.year(), 1),
                inst: i as u32,
                group: g as u32,
                from: ex_from,
                to: ex_to,
                reason: "中选企业供应不足，经区医保局核实同意临时采购非中选产品",
            });
            traps.push(Trap {
                must_not_fire: "NonSelectedShareHigh",
                key: KeySpec::Share { inst: i as u32, group: g as u32 },
                behaviour: format!(
                    "non-selected {} bought heavily only from {} to {}, inside an exemption window",
                    cat.groups[g].generic_name,
                    ex_from + Duration::days(1),
                    ex_to - Duration::days(1)
                ),
            });
        }
    }
    // 特需 (special service) orders of a non-selected consumable.
    let consumable = |g: usize| cat.groups[g].category == Category::Consumable;
    if let Some((i, g, _)) =
        share_ctrl(&mut picker, &mut rng, &mut inst_plans, &[Level::Tertiary], &consumable, &regular, 600)
    {
        if let Some(c) = inst_plans[i].as_mut().and_then(|x| x.ctrl.last_mut()) {
            c.special = true;
        }
        traps.push(Trap {
            must_not_fire: "NonSelectedShareHigh",
            key: KeySpec::Share { inst: i as u32, group: g as u32 },
            behaviour: format!(
                "about 60% of {} units are non-selected premium products ordered with special_service=true (特需/国际医疗)",
                cat.groups[g].generic_name
            ),
        });
    }

    // --- 6.3 OrderUndelivered and SupplyBreak.
    let mut used_products: BTreeSet<usize> = BTreeSet::new();
    let undelivered = |picker: &mut Picker<'_>,
                       plans: &mut Vec<Option<InstPlan>>,
                       intended: &mut Vec<Intended>,
                       i: usize,
                       product: usize,
                       t: i64,
                       why: &str| {
        if t < t_start + HOUR {
            return false;
        }
        let g = cat.products[product].group;
        let slot = ensure_in_basket(picker.pop, i, g as u32, cat);
        if let Some(f) = cat.products[product].family {
            // Its regular supply is of the same family, so the agreement
            // rests on steady purchases, not on the stuck lines alone.
            let fs = cat.groups[g].families.iter().position(|&x| x == f).unwrap_or(0);
            picker.pop.institutions[i].basket[slot].family_slot = fs as u8;
        }
        plans[i].get_or_insert_with(Default::default).orders.push(PlannedOrder {
            t,
            product: product as u32,
            qty: 20,
            mode: Mode::Undelivered,
            pay: PayMode::Normal,
        });
        let deadline = local_date(t + 48 * HOUR);
        let wd = cal.working_days_after_until(deadline, as_of_date);
        let key = KeySpec::Undelivered { inst: i as u32, product: product as u32 };
        if let Some(existing) = intended.iter_mut().find(|x| x.key == key) {
            // The oldest overdue line decides the severity.
            if wd >= 5 {
                existing.severity = "critical";
            }
            return true;
        }
        intended.push(Intended {
            alertname: "OrderUndelivered",
            severity: if wd >= 5 { "critical" } else { "warning" },
            key,
            behaviour: format!(
                "{why}: {} {} ordered {} and still undelivered at as_of ({} working days after the deadline)",
                cat.products[product].generic_name,
                cat.products[product].spec,
                clock::rfc3339(t),
                wd
            ),
        });
        true
    };
    // A product the institution certainly uses, not yet used by another stuck line.
    let fresh_product =
        |rng: &mut Rng, used_products: &mut BTreeSet<usize>, pop: &Population, i: usize| -> Option<usize> {
            let basket = &pop.institutions[i].basket;
            for k in 0..basket.len() {
                let item = &basket[(k + rng.below(basket.len() as u64) as usize) % basket.len()];
                let g = &cat.groups[item.group as usize];
                let fam = &cat.families[g.families[item.family_slot as usize]];
                let p = fam.products[0];
                if used_products.insert(p) {
                    return Some(p);
                }
            }
            None
        };
    let as_of = w.as_of;
    let secondary_up = [Level::Secondary, Level::Tertiary];
    // A slow distributor: two institutions it serves have recent lines stuck past 48 h.
    if let Some(u1) = picker.pick(|p, i| hospital(p, i, &secondary_up)) {
        let city = picker.pop.institutions[u1].city;
        let slow = picker.pop.city_distributors[city][0];
        slow_distributor = Some(slow);
        picker.pop.institutions[u1].distributor = slow;
        let u2 =
            picker.pick(|p, i| p.institutions[i].city == city && hospital(p, i, &[Level::Secondary, Level::Primary]));
        let who = picker.pop.distributors[slow as usize].clone();
        for (k, dt) in [(0, 86 * HOUR), (1, 77 * HOUR)] {
            if let Some(p) = fresh_product(&mut rng, &mut used_products, picker.pop, u1) {
                let why = format!("slow distributor {who}");
                undelivered(&mut picker, &mut inst_plans, &mut intended, u1, p, as_of - dt - k * 600, &why);
            }
        }
        if let Some(u2) = u2 {
            picker.pop.institutions[u2].distributor = slow;
            if let Some(p) = fresh_product(&mut rng, &mut used_products, picker.pop, u2) {
                undelivered(&mut picker, &mut inst_plans, &mut intended, u2, p, as_of - 82 * HOUR, "slow distributor");
            }
        }
    }
    // One line stuck for weeks: critical (5+ working days past the deadline).
    if let Some(v) = picker.pick(|p, i| hospital(p, i, &secondary_up)) {
        let day = (as_of_date - Duration::days(33)).max(w.start + Duration::days(1));
        if let Some(p) = fresh_product(&mut rng, &mut used_products, picker.pop, v) {
            undelivered(
                &mut picker,
                &mut inst_plans,
                &mut intended,
                v,
                p,
                local_midnight(day) + 16 * HOUR,
                "stuck line",
            );
        }
    }
    // Supply break: one product overdue at three institutions of a city...
    let primary_drugs: Vec<usize> = drug_groups(&|g| cat.groups[g].primary);
    let mut cities: Vec<usize> = (0..picker.pop.city_distributors.len()).collect();
    cities.sort_by_key(|&c| rng.below(1000) * 100 + c as u64);
    let mut city_iter = cities.into_iter();
    for (count, alert) in [(3usize, true), (2, false)] {
        let Some(city) = city_iter.find(|&c| {
            (0..picker.pop.institutions.len())
                .filter(|&i| {
                    !picker.used.contains(&i)
                        && picker.pop.institutions[i].city == c
                        && hospital(picker.pop, i, &[Level::Secondary, Level::Tertiary, Level::Primary])
                })
                .count()
                >= count + 2
        }) else {
            continue;
        };
        let mut product = None;
        for _ in 0..primary_drugs.len() {
            let g = primary_drugs[rng.below(primary_drugs.len() as u64) as usize];
            let p = cat.families[cat.groups[g].families[0]].products[0];
            if used_products.insert(p) {
                product = Some(p);
                break;
            }
        }
        let Some(p) = product else { continue };
        let mut affected = Vec::new();
        for k in 0..count {
            let Some(i) = picker.pick(|pp, i| {
                pp.institutions[i].city == city && hospital(pp, i, &[Level::Secondary, Level::Tertiary, Level::Primary])
            }) else {
                break;
            };
            let t = as_of - (110 - 5 * k as i64) * HOUR;
            if undelivered(&mut picker, &mut inst_plans, &mut intended, i, p, t, "supply break") {
                affected.push(i);
            }
            if k == 0 {
                undelivered(&mut picker, &mut inst_plans, &mut intended, i, p, as_of - 96 * HOUR, "supply break");
            }
        }
        let city_code_idx = city;
        if alert && affected.len() >= 3 {
            intended.push(Intended {
                alertname: "SupplyBreak",
                severity: "critical",
                key: KeySpec::SupplyBreak { city: city_code_idx, product: p as u32 },
                behaviour: format!(
                    "{} {} ({}) overdue at {} institutions of the city",
                    cat.products[p].generic_name,
                    cat.products[p].spec,
                    cat.products[p].enterprise,
                    affected.len()
                ),
            });
        } else if !alert && affected.len() == 2 {
            traps.push(Trap {
                must_not_fire: "SupplyBreak",
                key: KeySpec::SupplyBreak { city: city_code_idx, product: p as u32 },
                behaviour: format!(
                    "{} overdue at exactly 2 institutions of the city (threshold is 3)",
                    cat.products[p].generic_name
                ),
            });
        }
    }

    // --- 6.4 PaymentOverdue: deliveries accepted in month M left unpaid.
    let late_payer = |picker: &mut Picker<'_>,
                      rng: &mut Rng,
                      plans: &mut Vec<Option<InstPlan>>,
                      month: NaiveDate,
                      pays: [PayMode; 3]|
     -> Option<usize> {
        let i = picker.pick(|p, i| hospital(p, i, &[Level::Secondary]))?;
        // Products of groups whose 2025 agreements ended (接续 batches), so
        // an order before the window is covered by an ended agreement.
        let basket: Vec<u32> = picker.pop.institutions[i]
            .basket
            .iter()
            .filter(|b| cat.batches[cat.groups[b.group as usize].batch].prior.is_some())
            .map(|b| b.group)
            .collect();
        if basket.is_empty() {
            return None;
        }
        for (k, pay) in pays.into_iter().enumerate() {
            let g = basket[rng.below(basket.len() as u64) as usize] as usize;
            let slot = picker.pop.institutions[i].basket_slot(g as u32).unwrap_or(0);
            let fam = cat.groups[g].families[picker.pop.institutions[i].basket[slot].family_slot as usize];
            let day = month + Duration::days(7 + 7 * k as i64);
            // Before the window the current agreements have not started
            // (and the 2025 ones have ended): a non-selected product then,
            // bought outside any agreement; in the window, the selected one.
            let product = match cat.groups[g].regular_nonselected.first() {
                Some(&np) if day < w.start => np,
                _ => cat.families[fam].products[0],
            };
            plans[i].get_or_insert_with(Default::default).orders.push(PlannedOrder {
                t: local_midnight(day) + 10 * HOUR + k as i64 * 900,
                product: product as u32,
                qty: 30 + 10 * k as i64,
                mode: Mode::Delivered,
                pay,
            });
        }
        Some(i)
    };
    let crit_o = clock::first_of_month(as_of_date - Duration::days(33));
    let crit_m = month_before(crit_o, 2);
    if let Some(x) = late_payer(&mut picker, &mut rng, &mut inst_plans, crit_m, [PayMode::Unpaid; 3]) {
        events_start = events_start.min(crit_m);
        intended.push(Intended {
            alertname: "PaymentOverdue",
            severity: "critical",
            key: KeySpec::Payment { inst: x as u32 },
            behaviour: format!(
                "never paid three deliveries accepted in {}-{:02}: overdue since {} ({} days)",
                crit_m.year(),
                crit_m.month(),
                crit_o,
                (as_of_date - crit_o).num_days()
            ),
        });
    }
    let warn_o = clock::first_of_month(as_of_date);
    let diff = (as_of_date - warn_o).num_days();
    if (3..=26).contains(&diff) {
        let warn_m = month_before(warn_o, 2);
        let pay_pm = 500 + rng.below(300) as u32;
        let pays = [PayMode::Partial { pay_pm }, PayMode::Unpaid, PayMode::Normal];
        if let Some(y) = late_payer(&mut picker, &mut rng, &mut inst_plans, warn_m, pays) {
            events_start = events_start.min(warn_m);
            let _ = y;
            intended.push(Intended {
                alertname: "PaymentOverdue",
                severity: "warning",
                key: KeySpec::Payment { inst: y as u32 },
                behaviour: format!(
                    "of three deliveries accepted in {}-{:02}, one paid only {}.{}% (short to the cent) and one not paid: overdue since {} ({} days)",
                    warn_m.year(),
                    warn_m.month(),
                    pay_pm / 10,
                    pay_pm % 10,
                    warn_o,
                    diff
                ),
            });
        }
    }

    // Harmless exemptions: one expired in 2025, one for a group bought
    // normally, valid beyond the window.
    let n_inst = picker.pop.institutions.len();
    for (k, (from, to, reason)) in [
        (clock::ymd(2025, 3, 1), clock::ymd(2025, 6, 30), "中选产品断供，经市医保局核实同意临时采购非中选产品"),
        (w.start + Duration::days(10), clock::ymd(2026, 12, 31), "中选企业配送不到位，经区医保局核实"),
    ]
    .into_iter()
    .enumerate()
    {
        let i = picker.order[(k * 7 + 3) % n_inst];
        if let Some(item) = picker.pop.institutions[i].basket.first() {
            exemptions.push(ExemptionRow {
                id: format!("MY{}-{:04}", from.year(), 11 + k),
                inst: i as u32,
                group: item.group,
                from,
                to,
                reason,
            });
        }
    }

    // Institutions with a hand-planted behaviour or an exemption are left
    // to it: the widespread behaviours must not change what it promises.
    let mut planted = picker.used;
    planted.extend(exemptions.iter().map(|e| e.inst as usize));
    let mut plan = Plan {
        inst: inst_plans,
        intended,
        traps,
        exemptions,
        zero_agreements,
        progress_pm,
        events_start,
        slow_distributor,
        lagging: BTreeMap::new(),
        late_payers: BTreeMap::new(),
    };
    if let Some(cfg) = &scale.widespread {
        let world = widespread::World { seed, cat, cal, scale, window: w, planted: &planted };
        widespread::plant(&mut plan, &world, pop, cfg);
    }
    plan
}

pub(super) fn push_zero_intended(
    intended: &mut Vec<Intended>,
    cat: &Catalogue,
    i: usize,
    family: usize,
    start: NaiveDate,
    as_of_date: NaiveDate,
    why: &str,
) {
    let g = cat.families[family].group;
    let key = KeySpec::Agreement { inst: i as u32, family: family as u32 };
    let behaviour = format!("{why}: {} ({})", cat.groups[g].generic_name, cat.families[family].enterprise);
    if as_of_date >= clock::add_months_clamped(start, 2) {
        intended.push(Intended { alertname: "SelectedProductNotEntered", severity: "critical", key, behaviour });
    } else if (as_of_date - start).num_days() + 1 >= 30 {
        intended.push(Intended { alertname: "ProcurementBehindSchedule", severity: "critical", key, behaviour });
    }
}

pub(super) fn month_before(first: NaiveDate, months: i32) -> NaiveDate {
    let total = first.year() * 12 + first.month0() as i32 - months;
    clock::ymd(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1)
}

/// 1/10000 yuan as a decimal string with 4 places.
pub fn fmt_e4(v: i64) -> String {
    format!("{}.{:04}", v / 10_000, v % 10_000)
}
