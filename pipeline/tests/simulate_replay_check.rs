//! An independent check of `planted.json`: reads the simulated files back
//! (reference CSVs and the four NDJSON files, as a consumer would), applies
//! SPEC §4's rejections, evaluates the detectors of SPEC §6.1–6.5 at `as_of`
//! with exact decimals, and requires exactly the planted firing set.
//!
//! It shares no code with the simulator (which keeps an integer ledger while
//! generating), so the two can only agree if both read the SPEC the same way.
//! The engine's own replay test is the third opinion.

mod simulate_common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Weekday};
use rust_decimal::Decimal;
use serde_json::Value;
use simulate_common::{planted, read, simulate, valid_event, TempOut};

fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("offset")
}

fn date_of(t: DateTime<FixedOffset>) -> NaiveDate {
    t.with_timezone(&cst()).date_naive()
}

fn midnight(d: NaiveDate) -> DateTime<FixedOffset> {
    cst().from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("time")).single().expect("unique")
}

fn add_months(d: NaiveDate, n: u32) -> NaiveDate {
    let m0 = d.month0() + n;
    let (y, m) = (d.year() + (m0 / 12) as i32, m0 % 12 + 1);
    let mut day = d.day();
    loop {
        if let Some(x) = NaiveDate::from_ymd_opt(y, m, day) {
            return x;
        }
        day -= 1;
    }
}

fn csv_rows(dir: &Path, file: &str) -> Vec<HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(dir.join("reference").join(file)).expect(file);
    let headers: Vec<String> = rdr.headers().expect("headers").iter().map(String::from).collect();
    rdr.records()
        .map(|r| {
            let r = r.expect("row");
            headers.iter().cloned().zip(r.iter().map(String::from)).collect()
        })
        .collect()
}

fn dec(v: &Value) -> Decimal {
    match v {
        Value::String(s) => Decimal::from_str(s).expect("decimal string"),
        Value::Number(n) => Decimal::from_str(&n.to_string()).expect("decimal number"),
        other => panic!("not a decimal: {other}"),
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

struct Product {
    group: String,
    family: String,
    selected: bool,
    backup: bool,
    bupp: Decimal,
}

struct Order {
    inst: String,
    product: String,
    qty: Decimal,
    price: Decimal,
    special: bool,
    at: DateTime<FixedOffset>,
    cancelled: Decimal,
    received: Decimal,
}

struct Delivery {
    inst: String,
    accepted: Option<(DateTime<FixedOffset>, Decimal)>,
    paid: Decimal,
}

type Key = BTreeMap<String, String>;
/// (alertname, severity, key)
type Firing = BTreeSet<(String, String, Key)>;

fn key(pairs: &[(&str, &str)]) -> Key {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Reference data and the valid, de-duplicated events of a simulated run.
struct Feed {
    city_of: HashMap<String, String>,
    products: HashMap<String, Product>,
    lowest: HashMap<String, Decimal>,
    family_group: HashMap<String, String>,
    holiday: HashSet<NaiveDate>,
    workday: HashSet<NaiveDate>,
    exemptions: Vec<(String, String, NaiveDate, NaiveDate)>,
    agreements: Vec<HashMap<String, String>>,
    /// (occurred_at, position, event), in event-time order.
    events: Vec<(DateTime<FixedOffset>, usize, Value)>,
}

fn load(dir: &Path) -> Feed {
    let mut city_of: HashMap<String, String> = HashMap::new();
    for r in csv_rows(dir, "institutions.csv") {
        city_of.insert(r["institution_code"].clone(), format!("{}00", &r["division_code"][..4]));
    }
    let mut products: HashMap<String, Product> = HashMap::new();
    let mut lowest: HashMap<String, Decimal> = HashMap::new();
    for r in csv_rows(dir, "products.csv") {
        let price = (!r["selected_price_per_base_unit"].is_empty())
            .then(|| Decimal::from_str(&r["selected_price_per_base_unit"]).expect("price"));
        if let Some(p) = price {
            let e = lowest.entry(r["group_id"].clone()).or_insert(p);
            *e = (*e).min(p);
        }
        products.insert(
            r["product_code"].clone(),
            Product {
                group: r["group_id"].clone(),
                family: r["family_id"].clone(),
                selected: &r["selected"] == "true",
                backup: &r["backup_supplier"] == "true",
                bupp: Decimal::from_str(&r["base_units_per_pack"]).expect("bupp"),
            },
        );
    }
    let family_group: HashMap<String, String> =
        products.values().filter(|p| !p.family.is_empty()).map(|p| (p.family.clone(), p.group.clone())).collect();
    let mut holiday = HashSet::new();
    let mut workday = HashSet::new();
    for r in csv_rows(dir, "calendar.csv") {
        if &r["kind"] == "holiday" {
            holiday.insert(day(&r["date"]));
        } else {
            workday.insert(day(&r["date"]));
        }
    }
    let exemptions: Vec<(String, String, NaiveDate, NaiveDate)> = csv_rows(dir, "exemptions.csv")
        .into_iter()
        .map(|r| (r["institution_code"].clone(), r["group_id"].clone(), day(&r["valid_from"]), day(&r["valid_to"])))
        .collect();

    // Events: valid lines only, first of each event_id, in event-time order.
    let mut events: Vec<(DateTime<FixedOffset>, usize, Value)> = Vec::new();
    let mut ids = HashSet::new();
    let mut n = 0;
    for f in ["orders", "deliveries", "payments", "complaints"] {
        for line in read(&dir.join(format!("events/{f}.ndjson"))).split(|&b| b == b'\n') {
            n += 1;
            if line.is_empty() || line.len() > 65_536 {
                continue;
            }
            // Malformed lines are the other test's business; here they are
            // rejected as any consumer would.
            let Some(obj) = valid_event(line) else { continue };
            let v = Value::Object(obj);
            let (Some(id), Some(t)) = (v["event_id"].as_str(), v["occurred_at"].as_str()) else { continue };
            let t = DateTime::parse_from_rfc3339(t).expect("validated");
            if !ids.insert(id.to_string()) {
                continue;
            }
            events.push((t, n, v));
        }
    }
    events.sort_by_key(|(t, n, _)| (*t, *n));
    let agreements = csv_rows(dir, "agreements.csv");
    Feed { city_of, products, lowest, family_group, holiday, workday, exemptions, agreements, events }
}

/// The alerts firing at `as_of`, by SPEC §6.
fn evaluate(feed: &Feed, as_of: DateTime<FixedOffset>) -> (Firing, BTreeMap<&'static str, u64>) {
    let Feed { city_of, products, lowest, family_group, holiday, workday, exemptions, agreements, events } = feed;
    let today = date_of(as_of);
    let working = |d: NaiveDate| {
        workday.contains(&d) || (!matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holiday.contains(&d))
    };
    let mut rejected: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut orders: HashMap<String, Order> = HashMap::new();
    let mut deliveries: HashMap<String, Delivery> = HashMap::new();
    // complaint_id → (date filed, first reply (date, promised fix date), resolved).
    let mut complaints: BTreeMap<String, (NaiveDate, Option<(NaiveDate, NaiveDate)>, bool)> = BTreeMap::new();
    for (t, _, v) in events.iter().take_while(|e| e.0 <= as_of) {
        let s = |k: &str| v[k].as_str().map(String::from);
        match v["type"].as_str() {
            Some("complaint.filed") => {
                complaints.insert(s("complaint_id").expect("id"), (date_of(*t), None, false));
            }
            Some("complaint.replied") => {
                let c = complaints.get_mut(v["complaint_id"].as_str().expect("id")).expect("replied after filed");
                let promised = day(v["promised_by"].as_str().expect("promised_by"));
                c.1 = c.1.or(Some((date_of(*t), promised)));
            }
            Some("complaint.resolved") => {
                complaints.get_mut(v["complaint_id"].as_str().expect("id")).expect("resolved after filed").2 = true;
            }
            Some("order.placed") => {
                let (Some(id), Some(inst), Some(prod)) = (s("order_id"), s("institution_code"), s("product_code"))
                else {
                    continue;
                };
                let (q, p) = (dec(&v["quantity_packs"]), dec(&v["unit_price"]));
                if !city_of.contains_key(&inst) {
                    *rejected.entry("unknown_institution").or_default() += 1;
                    continue;
                }
                if !products.contains_key(&prod) {
                    *rejected.entry("unknown_product").or_default() += 1;
                    continue;
                }
                let special = v["special_service"].as_bool().unwrap_or(false);
                orders.insert(
                    id,
                    Order {
                        inst,
                        product: prod,
                        qty: q,
                        price: p,
                        special,
                        at: *t,
                        cancelled: Decimal::ZERO,
                        received: Decimal::ZERO,
                    },
                );
            }
            Some("order.cancelled") => {
                let Some(o) = s("order_id").and_then(|id| orders.get_mut(&id)) else {
                    *rejected.entry("orphan").or_default() += 1;
                    continue;
                };
                let q = dec(&v["quantity_packs"]);
                assert!(q <= o.qty - o.cancelled - o.received, "over-cancel in the simulated feed: {v}");
                o.cancelled += q;
            }
            Some("delivery.received") => {
                let Some(o) = s("order_id").and_then(|id| orders.get_mut(&id)) else {
                    *rejected.entry("orphan").or_default() += 1;
                    continue;
                };
                let Some(did) = s("delivery_id") else { continue };
                let q = dec(&v["quantity_packs"]);
                assert!(q <= o.qty - o.cancelled - o.received, "over-delivery in the simulated feed: {v}");
                o.received += q;
                deliveries.insert(did, Delivery { inst: o.inst.clone(), accepted: None, paid: Decimal::ZERO });
            }
            Some("delivery.accepted") => {
                let Some(d) = s("delivery_id").and_then(|id| deliveries.get_mut(&id)) else {
                    *rejected.entry("orphan").or_default() += 1;
                    continue;
                };
                d.accepted = Some((*t, dec(&v["amount"])));
            }
            Some("payment.made") => {
                let Some(d) = s("delivery_id").and_then(|id| deliveries.get_mut(&id)) else {
                    *rejected.entry("orphan").or_default() += 1;
                    continue;
                };
                d.paid += dec(&v["amount"]);
                let owed = d.accepted.map(|a| a.1).unwrap_or_default();
                assert!(d.paid <= owed, "over-payment in the simulated feed: {v}");
            }
            _ => {}
        }
    }

    let mut firing = BTreeSet::new();
    let mut fire = |name: &str, sev: &str, k: Key| {
        firing.insert((name.to_string(), sev.to_string(), k));
    };
    let units = |o: &Order| (o.qty - o.cancelled) * products[&o.product].bupp;

    let mut by_inst: HashMap<&str, Vec<&Order>> = HashMap::new();
    for o in orders.values() {
        by_inst.entry(o.inst.as_str()).or_default().push(o);
    }
    let of_inst = |i: &str| by_inst.get(i).map(|v| v.as_slice()).unwrap_or(&[]);

    // 6.1 and the agreements that make (institution, group) pairs count for 6.2.
    let mut share_window: HashMap<(String, String), NaiveDate> = HashMap::new();
    for a in agreements {
        let (start, end) = (day(&a["period_start"]), day(&a["period_end"]));
        if !(start <= today && today <= end) {
            continue;
        }
        let (inst, fam) = (&a["institution_code"], &a["family_id"]);
        let w = share_window.entry((inst.clone(), family_group[fam].clone())).or_insert(start);
        *w = (*w).min(start);
        let purchased: Decimal = of_inst(inst)
            .iter()
            .copied()
            .filter(|o| !o.special && &products[&o.product].family == fam && date_of(o.at) >= start)
            .map(units)
            .sum();
        let agreed = Decimal::from_str(&a["agreed_base_units"]).expect("agreed");
        let elapsed = Decimal::from((today - start).num_days() + 1);
        let total = Decimal::from((end - start).num_days() + 1);
        let k = key(&[("institution_code", inst), ("family_id", fam), ("agreement_id", &a["agreement_id"])]);
        if purchased.is_zero() && today >= add_months(start, 2) {
            fire("SelectedProductNotEntered", "critical", k);
        } else if elapsed >= Decimal::from(30) {
            // progress < f × schedule, multiplied out (no rounding).
            if purchased * total < Decimal::new(5, 1) * agreed * elapsed {
                fire("ProcurementBehindSchedule", "critical", k);
            } else if purchased * total < Decimal::new(8, 1) * agreed * elapsed {
                fire("ProcurementBehindSchedule", "warning", k);
            }
        }
    }

    // 6.2
    for ((inst, group), from) in &share_window {
        let (mut sel, mut non) = (Decimal::ZERO, Decimal::ZERO);
        for o in of_inst(inst).iter().copied().filter(|o| !o.special && date_of(o.at) >= *from) {
            let p = &products[&o.product];
            if &p.group != group {
                continue;
            }
            if p.selected {
                sel += units(o);
                continue;
            }
            let d = date_of(o.at);
            let cheap = o.price / p.bupp <= lowest[group];
            let exempt = exemptions.iter().any(|(i, g, a, b)| i == inst && g == group && *a <= d && d <= *b);
            if !(p.backup || cheap || exempt) {
                non += units(o);
            }
        }
        let total = sel + non;
        if total < Decimal::from(100) {
            continue;
        }
        let k = key(&[("institution_code", inst), ("group_id", group)]);
        if non / total > Decimal::new(5, 1) {
            fire("NonSelectedShareHigh", "critical", k);
        } else if non / total > Decimal::new(3, 1) {
            fire("NonSelectedShareHigh", "warning", k);
        }
    }

    // 6.3
    let mut oldest: BTreeMap<(String, String), DateTime<FixedOffset>> = BTreeMap::new();
    for o in orders.values() {
        let deadline = o.at + Duration::hours(48);
        if !o.special && as_of > deadline && o.qty - o.cancelled - o.received > Decimal::ZERO {
            let e = oldest.entry((o.inst.clone(), o.product.clone())).or_insert(deadline);
            *e = (*e).min(deadline);
        }
    }
    let mut per_city: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for ((inst, prod), deadline) in &oldest {
        let mut wd = 0;
        let mut d = date_of(*deadline) + Duration::days(1);
        while d <= today {
            wd += u32::from(working(d));
            d += Duration::days(1);
        }
        fire(
            "OrderUndelivered",
            if wd >= 5 { "critical" } else { "warning" },
            key(&[("institution_code", inst), ("product_code", prod)]),
        );
        per_city.entry((city_of[inst].clone(), prod.clone())).or_default().insert(inst.clone());
    }
    for ((city, prod), insts) in per_city {
        if insts.len() >= 3 {
            fire("SupplyBreak", "critical", key(&[("city_code", &city), ("product_code", &prod)]));
        }
    }

    // 6.4
    let mut first_overdue: BTreeMap<String, NaiveDate> = BTreeMap::new();
    for d in deliveries.values() {
        let Some((at, amount)) = d.accepted else { continue };
        let acc = date_of(at);
        let from = add_months(NaiveDate::from_ymd_opt(acc.year(), acc.month(), 1).expect("first"), 2);
        if amount - d.paid > Decimal::ZERO && as_of >= midnight(from) {
            let e = first_overdue.entry(d.inst.clone()).or_insert(from);
            *e = (*e).min(from);
        }
    }
    for (inst, from) in first_overdue {
        let sev = if (today - from).num_days() >= 30 { "critical" } else { "warning" };
        fire("PaymentOverdue", sev, key(&[("institution_code", &inst)]));
    }

    // 6.5: W_n(d), the n-th working day strictly after d.
    let w = |d: NaiveDate, n: u32| {
        let (mut d, mut left) = (d, n);
        while left > 0 {
            d += Duration::days(1);
            left -= u32::from(working(d));
        }
        d
    };
    for (id, (filed, reply, resolved)) in &complaints {
        let fix_by = reply.map_or(w(*filed, 7), |(replied, promised)| promised.min(w(replied, 5)));
        let severity = if *resolved {
            None
        } else if today > fix_by {
            Some("critical")
        } else if reply.is_none() && today > w(*filed, 2) {
            Some("warning")
        } else {
            None
        };
        if let Some(severity) = severity {
            fire("ComplaintOverdue", severity, key(&[("complaint_id", id)]));
        }
    }
    (firing, rejected)
}

/// The rules this check evaluates itself (6.1–6.5); the window rules
/// (6.6–6.8) are checked against `planted.json` by the engine's replay test
/// and at every edge by `detectors/tests/window_rule_edges.rs`.
const CHECKED: [&str; 7] = [
    "SelectedProductNotEntered",
    "ProcurementBehindSchedule",
    "NonSelectedShareHigh",
    "OrderUndelivered",
    "SupplyBreak",
    "PaymentOverdue",
    "ComplaintOverdue",
];

fn planted_set(p: &Value) -> Firing {
    p["expected_firing"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|a| CHECKED.contains(&a["alertname"].as_str().unwrap_or("")))
        .map(|a| {
            let k: Key = a["key"]
                .as_object()
                .expect("key")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("str").to_string()))
                .collect();
            (a["alertname"].as_str().expect("name").to_string(), a["severity"].as_str().expect("sev").to_string(), k)
        })
        .collect()
}

/// `sweep`: also require a clean background at weekly midnights (slow in
/// a debug build, so done for one run).
fn check(seed: u64, extra: &[&str], sweep: bool) {
    let out = TempOut::new(&format!("replay-{seed}-{}", extra.join("")));
    simulate(out.path(), seed, extra);
    let p = planted(out.path());
    let as_of = DateTime::parse_from_rfc3339(p["as_of"].as_str().expect("as_of")).expect("RFC 3339");
    let feed = load(out.path());
    let (firing, rejected) = evaluate(&feed, as_of);
    let expected = planted_set(&p);
    let missing: Vec<_> = expected.difference(&firing).collect();
    let extra_alerts: Vec<_> = firing.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra_alerts.is_empty(),
        "seed {seed} {extra:?}: planted but not found: {missing:#?}\nfound but not planted: {extra_alerts:#?}"
    );
    let dl = &p["expected_dead_letter"];
    for reason in ["unknown_institution", "unknown_product", "orphan"] {
        assert_eq!(rejected.get(reason).copied().unwrap_or(0), dl[reason].as_u64().expect("count"), "{reason}");
    }
    // Replay also evaluates at every midnight: the background must be clean
    // then too. Weekly samples: whatever fires belongs to a planted key
    // (a plant may show another severity, or SPNE as PBS, on its way).
    let planted_keys: BTreeSet<&Key> = expected.iter().map(|(_, _, k)| k).collect();
    let window_start =
        DateTime::parse_from_rfc3339(p["window_start"].as_str().expect("window_start")).expect("RFC 3339");
    let mut t = window_start + Duration::days(7);
    while sweep && t < as_of {
        let (firing, _) = evaluate(&feed, t);
        let stray: Vec<_> = firing.iter().filter(|(_, _, k)| !planted_keys.contains(k)).collect();
        assert!(stray.is_empty(), "seed {seed} {extra:?}: background alerts at {t}: {stray:#?}");
        t += Duration::days(7);
    }
}

#[test]
fn planted_set_is_exactly_what_spec_section_6_finds_and_the_background_stays_clean() {
    check(1, &[], true);
}

#[test]
fn planted_set_holds_for_other_seeds() {
    for seed in [2, 42] {
        check(seed, &[], false);
    }
}

#[test]
fn planted_set_holds_for_other_windows() {
    // 50 days: as_of 2026-02-20, in the Spring Festival week; 100 days: April.
    check(5, &["--days", "50"], false);
    check(6, &["--days", "100"], false);
}
