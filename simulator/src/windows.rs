//! Planted purchases for the rules that read windows of days (SPEC 6.6 –
//! 6.8): substitute surges, period-end stockpiling and prices above the
//! selected price, each with a trap beside it.
//!
//! Every planted order is delivered within hours, accepted the next day and
//! paid the day after, so it raises nothing else. Each case is chosen so no
//! background purchase can touch it: the substitute is a product of its own
//! (`XSUB…`, group `G-SUB-01`) that nobody else buys; prices and stockpiles
//! are bought by institutions outside their basket's groups, whose other
//! rules therefore see nothing. The expected alerts are worked out here
//! from the SPEC text in integer fen and base units ×100.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use serde_json::json;

use super::agreements::AgreementRow;
use super::behaviour::{Intended, KeySpec, Trap};
use super::catalogue::Catalogue;
use super::clock::{local_midnight, rfc3339, HOUR};
use super::expect::Alert;
use super::institutions::Population;

/// The substituting product nobody buys but the planted institutions.
pub const SUBSTITUTE_CODE: &str = "XSUB0000000000000000001";
const SUBSTITUTE_GROUP: &str = "G-SUB-01";
/// Its price per pack, fen.
const SUBSTITUTE_FEN: i64 = 100_00;

pub struct Planted {
    pub intended: Vec<Intended>,
    pub traps: Vec<Trap>,
    pub alerts: Vec<Alert>,
    /// The groups the substitute replaces (`substitutes.csv`).
    pub substituted_groups: Vec<String>,
    /// Orders written, each with one delivery, acceptance and payment.
    pub orders: u64,
}

/// One planted order: who, which product code, how many packs, fen a pack, which day.
struct Buy {
    inst: u32,
    product: String,
    packs: i64,
    fen: i64,
    day: NaiveDate,
}

fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// The selected price per pack in fen: price per base unit (×1e4) × base
/// units per pack (×100), rounded half-up to the fen.
fn selected_fen(price_e4: i64, bupp_c: i64) -> i64 {
    (price_e4 * bupp_c + 5_000) / 10_000
}

/// Whether `inst` neither buys group `group` (basket) nor has an agreement in it.
fn outside(cat: &Catalogue, pop: &Population, agreements: &[AgreementRow], inst: u32, group: usize) -> bool {
    pop.institutions[inst as usize].basket_slot(group as u32).is_none()
        && !agreements.iter().any(|a| a.inst == inst && cat.families[a.family as usize].group == group)
}

/// Picks the cases, adds the planted agreements to `agreements`, and
/// appends the orders and their deliveries and payments to `events`.
pub fn plant(
    events: &Path,
    cat: &Catalogue,
    pop: &Population,
    agreements: &mut Vec<AgreementRow>,
    today: NaiveDate,
) -> Result<Planted> {
    let mut planted = Planted { intended: Vec::new(), traps: Vec::new(), alerts: Vec::new(), substituted_groups: Vec::new(), orders: 0 };
    let mut buys = Vec::new();
    let n = pop.institutions.len() as u32;
    let expect = |planted: &mut Planted, name: &'static str, severity: Option<&'static str>, key: KeySpec, behaviour: String| match severity {
        Some(severity) => {
            planted.alerts.push(Alert { alertname: name, severity, key: key.clone(), measured: behaviour.clone() });
            planted.intended.push(Intended { alertname: name, severity, key, behaviour });
        }
        None => planted.traps.push(Trap { must_not_fire: name, key, behaviour }),
    };

    // 6.6: three institutions with an active agreement in one group, the
    // only group the substitute replaces (an institution with agreements
    // in two substituted groups would surge in both).
    let mut active: Vec<(usize, u32)> =
        agreements.iter().filter(|a| a.active(today)).map(|a| (cat.families[a.family as usize].group, a.inst)).collect();
    active.sort_unstable();
    active.dedup();
    let busiest = (0..cat.groups.len()).max_by_key(|g| (active.iter().filter(|(group, _)| group == g).count(), usize::MAX - g));
    let active: Vec<(u32, usize)> =
        active.into_iter().filter(|(group, _)| Some(*group) == busiest).map(|(group, inst)| (inst, group)).collect();
    let surges: [(i64, i64, Option<&'static str>, &str); 3] = [
        (60, 0, Some("warning"), "no substitute bought in the 90 days before"),
        (50, 30, Some("critical"), "5× the monthly baseline of 1000.00 yuan"),
        (40, 0, None, "TRAP: 4000.00 yuan, under the 5000 yuan floor"),
    ];
    for (k, (recent, earlier, severity, what)) in surges.into_iter().enumerate() {
        let Some(&(inst, group)) = active.get(k * active.len() / 3) else { continue };
        let buy = |packs, back| Buy { inst, product: SUBSTITUTE_CODE.into(), packs, fen: SUBSTITUTE_FEN, day: today - Duration::days(back) };
        buys.push(buy(recent / 2, 3));
        buys.push(buy(recent - recent / 2, 20));
        if earlier > 0 {
            buys.push(buy(earlier, 60));
        }
        planted.substituted_groups.push(cat.groups[group].id.clone());
        let behaviour = format!("bought {} yuan of the substitute in 30 days: {what}", yuan(recent * SUBSTITUTE_FEN));
        expect(&mut planted, "SubstituteSurge", severity, KeySpec::Substitute { inst, group: group as u32 }, behaviour);
    }

    // 6.8 and 6.7: institutions outside a selected product's group.
    let mut strangers = (0..n).rev().flat_map(|inst| {
        cat.products
            .iter()
            .enumerate()
            .filter(|(_, p)| p.selected && p.family.is_some() && p.selected_price_e4.is_some())
            .map(move |(i, p)| (inst, i, p))
    });
    let mut used = std::collections::BTreeSet::new();
    let mut next = |agreements: &[AgreementRow]| {
        strangers.find(|(inst, _, p)| !used.contains(inst) && outside(cat, pop, agreements, *inst, p.group)).map(|(inst, i, p)| {
            used.insert(inst);
            (inst, i, p)
        })
    };
    let prices: [(i64, i64, i64, Option<&'static str>); 3] =
        [(20, 60_00, 2, Some("critical")), (5, 20_00, 1, Some("warning")), (10, 0, 1, None)];
    for (packs, above, orders, severity) in prices {
        let Some((inst, i, p)) = next(agreements) else { continue };
        let selected = selected_fen(p.selected_price_e4.unwrap_or(0), p.bupp_c);
        for o in 0..orders {
            buys.push(Buy { inst, product: p.code.clone(), packs: packs / orders, fen: selected + above, day: today - Duration::days(5 + 5 * o) });
        }
        let behaviour = if above > 0 {
            format!("{packs} packs at {} above the selected {} a pack: {} yuan overcharged", yuan(above), yuan(selected), yuan(above * packs))
        } else {
            format!("TRAP: {packs} packs at exactly the selected price {} a pack", yuan(selected))
        };
        expect(&mut planted, "PriceAboveSelected", severity, KeySpec::Price { inst, product: i as u32 }, behaviour);
    }
    for (k, severity) in [(0, "critical"), (1, "warning")] {
        let Some((inst, _, p)) = next(agreements) else { continue };
        let family = p.family.unwrap_or(0);
        // Whole base units: 100 packs hold exactly bupp_c units.
        let units = p.bupp_c;
        // Bought ahead of the schedule all along (no ProcurementBehindSchedule
        // at any midnight), then a rush in the last 30 days: 3 × the agreed
        // volume (critical), or exactly 1.2 × it (warning: "over" is strict).
        let (start, end, agreed, recent_packs, earlier_packs, earlier_back) = if k == 0 {
            (today - Duration::days(59), today + Duration::days(5), units, 200, 100, 45)
        } else {
            (today - Duration::days(355), today + Duration::days(9), 10 * units, 300, 900, 200)
        };
        let fen = selected_fen(p.selected_price_e4.unwrap_or(0), p.bupp_c);
        buys.push(Buy { inst, product: p.code.clone(), packs: recent_packs, fen, day: today - Duration::days(10) });
        buys.push(Buy { inst, product: p.code.clone(), packs: earlier_packs, fen, day: today - Duration::days(earlier_back) });
        agreements.push(AgreementRow {
            id: format!("AGR-STOCK-{}-{k}", pop.institutions[inst as usize].code),
            inst,
            family: family as u32,
            start,
            end,
            agreed_units: agreed,
            purchased_c: (recent_packs + earlier_packs) * p.bupp_c,
            lag_pm: None,
        });
        let behaviour = format!(
            "bought {recent_packs} packs ({} units) in the last 30 days of an agreement for {agreed} units ({start} to {end})",
            recent_packs * p.bupp_c / 100
        );
        expect(&mut planted, "PeriodEndStockpiling", Some(severity), KeySpec::Agreement { inst, family: family as u32 }, behaviour);
    }
    write_lifecycles(events, pop, &buys)?;
    planted.orders = buys.len() as u64;
    planted.substituted_groups.sort();
    planted.substituted_groups.dedup();
    Ok(planted)
}

/// Appends each buy's order, delivery, acceptance and payment to the
/// topic files.
fn write_lifecycles(events: &Path, pop: &Population, buys: &[Buy]) -> Result<()> {
    let open = |name: &str| -> Result<std::fs::File> {
        let path = events.join(name);
        std::fs::OpenOptions::new().append(true).open(&path).with_context(|| format!("cannot append to {}", path.display()))
    };
    let (mut orders, mut deliveries, mut payments) = (open("orders.ndjson")?, open("deliveries.ndjson")?, open("payments.ndjson")?);
    for (k, b) in buys.iter().enumerate() {
        let inst = &pop.institutions[b.inst as usize].code;
        let id = format!("ORD-PLANT-{inst}-{k:03}");
        let delivery = format!("DLV-PLANT-{inst}-{k:03}");
        let placed = local_midnight(b.day) + 9 * HOUR;
        let amount = yuan(b.fen * b.packs);
        writeln!(orders, "{}", json!({"event_id": format!("evt-{id}"), "type": "order.placed", "occurred_at": rfc3339(placed),
            "order_id": id, "institution_code": inst, "product_code": b.product, "quantity_packs": b.packs.to_string(),
            "unit_price": yuan(b.fen)}))?;
        writeln!(deliveries, "{}", json!({"event_id": format!("evt-{delivery}-r"), "type": "delivery.received",
            "occurred_at": rfc3339(placed + 6 * HOUR), "delivery_id": delivery, "order_id": id,
            "quantity_packs": b.packs.to_string(), "distributor": "陕西医药控股集团有限公司"}))?;
        writeln!(deliveries, "{}", json!({"event_id": format!("evt-{delivery}-a"), "type": "delivery.accepted",
            "occurred_at": rfc3339(placed + 24 * HOUR), "delivery_id": delivery, "order_id": id,
            "accepted_quantity_packs": b.packs.to_string(), "amount": amount}))?;
        writeln!(payments, "{}", json!({"event_id": format!("evt-{delivery}-p"), "type": "payment.made",
            "occurred_at": rfc3339(placed + 48 * HOUR), "payment_id": format!("PAY-{delivery}"), "institution_code": inst,
            "delivery_id": delivery, "amount": amount}))?;
    }
    Ok(())
}

/// Appends the substitute to `products.csv` and writes `substitutes.csv`.
pub fn write_reference(dir: &Path, planted: &Planted) -> Result<()> {
    let products = dir.join("products.csv");
    let mut f = std::fs::OpenOptions::new().append(true).open(&products).with_context(|| format!("cannot append to {}", products.display()))?;
    writeln!(f, "{SUBSTITUTE_CODE},瑞舒伐他汀钙片,片剂,10mg*10,某替代制药有限公司,drug,,{SUBSTITUTE_GROUP},,false,false,10,")?;
    let mut w = csv::Writer::from_path(dir.join("substitutes.csv")).context("cannot create substitutes.csv")?;
    w.write_record(vbp_schemas::reference_files::SUBSTITUTES.columns)?;
    for g in &planted.substituted_groups {
        w.write_record([g.as_str(), SUBSTITUTE_CODE])?;
    }
    w.flush().context("cannot write substitutes.csv")
}
