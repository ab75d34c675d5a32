//! `planted.json`: what the detectors must find at `as_of`, what they must
//! not, and how messy the feed is.

use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::agreements::AgreementRow;
use super::behaviour::{KeySpec, Plan};
use super::catalogue::Catalogue;
use super::events::Stats;
use super::expect::Alert;
use super::geography::CITIES;
use super::institutions::Population;
use super::mess::MessCounts;

pub struct Resolver<'a> {
    pub cat: &'a Catalogue,
    pub pop: &'a Population,
    pub agreements: &'a [AgreementRow],
    pub today: NaiveDate,
}

impl Resolver<'_> {
    /// The SPEC §6 key fields of an alert.
    pub fn key(&self, k: &KeySpec) -> Map<String, Value> {
        let mut m = Map::new();
        let inst = |i: u32| Value::String(self.pop.institutions[i as usize].code.clone());
        match *k {
            KeySpec::Agreement { inst: i, family } => {
                m.insert("institution_code".into(), inst(i));
                m.insert("family_id".into(), Value::String(self.cat.families[family as usize].id.clone()));
                let id = self
                    .agreements
                    .iter()
                    .find(|a| a.inst == i && a.family == family && a.active(self.today))
                    .map(|a| a.id.clone())
                    .unwrap_or_default();
                m.insert("agreement_id".into(), Value::String(id));
            }
            KeySpec::Share { inst: i, group } | KeySpec::Substitute { inst: i, group } => {
                m.insert("institution_code".into(), inst(i));
                m.insert("group_id".into(), Value::String(self.cat.groups[group as usize].id.clone()));
            }
            KeySpec::Undelivered { inst: i, product } | KeySpec::Price { inst: i, product } => {
                m.insert("institution_code".into(), inst(i));
                m.insert("product_code".into(), Value::String(self.cat.products[product as usize].code.clone()));
            }
            KeySpec::SupplyBreak { city, product } => {
                m.insert("city_code".into(), Value::String(CITIES[city].code.to_string()));
                m.insert("product_code".into(), Value::String(self.cat.products[product as usize].code.clone()));
            }
            KeySpec::Payment { inst: i } => {
                m.insert("institution_code".into(), inst(i));
            }
            KeySpec::Complaint { inst: i, n } => {
                m.insert("complaint_id".into(), Value::String(super::complaints::complaint_id(self.pop, i, n)));
            }
        }
        m
    }

    /// Who it is about, in words (for the behaviour text).
    pub fn who(&self, k: &KeySpec) -> String {
        let inst = |i: u32| {
            let x = &self.pop.institutions[i as usize];
            format!("{} {}", x.code, x.name)
        };
        match *k {
            KeySpec::Agreement { inst: i, .. }
            | KeySpec::Share { inst: i, .. }
            | KeySpec::Undelivered { inst: i, .. }
            | KeySpec::Payment { inst: i }
            | KeySpec::Complaint { inst: i, .. }
            | KeySpec::Substitute { inst: i, .. }
            | KeySpec::Price { inst: i, .. } => inst(i),
            KeySpec::SupplyBreak { city, .. } => CITIES[city].name.to_string(),
        }
    }
}

/// The outcome of matching what fired (by our evaluation) with what was planted.
pub struct Matched {
    pub firing: Vec<(Alert, String)>,
    /// Alerts our evaluation finds that no planted behaviour explains.
    pub unplanned: Vec<Alert>,
    /// Planted behaviours that do not fire at as_of (window too short, …).
    pub missed: Vec<String>,
    /// Fired with another severity than planted.
    pub severity_changed: Vec<String>,
}

pub fn match_plan(plan: &Plan, alerts: Vec<Alert>, r: &Resolver<'_>) -> Matched {
    let mut firing = Vec::new();
    let mut unplanned = Vec::new();
    let mut severity_changed = Vec::new();
    let mut used = vec![false; plan.intended.len()];
    for a in alerts {
        let hit = plan.intended.iter().position(|p| p.key == a.key && p.alertname == a.alertname);
        match hit {
            Some(k) => {
                used[k] = true;
                let p = &plan.intended[k];
                if p.severity != a.severity {
                    severity_changed.push(format!(
                        "{} {}: planted {}, fires {}",
                        a.alertname,
                        r.who(&a.key),
                        p.severity,
                        a.severity
                    ));
                }
                let text = format!("{}: {}", r.who(&a.key), p.behaviour);
                firing.push((a, text));
            }
            None => unplanned.push(a),
        }
    }
    let missed = plan
        .intended
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(p, _)| format!("{} {}: {}", p.alertname, r.who(&p.key), p.behaviour))
        .collect();
    Matched { firing, unplanned, missed, severity_changed }
}

pub struct PlantedDoc<'a> {
    pub scale: &'a str,
    pub seed: u64,
    pub window_start: String,
    pub events_start: String,
    pub as_of: String,
    pub days: u32,
    pub matched: &'a Matched,
    pub plan: &'a Plan,
    pub stats: &'a Stats,
    pub mess: &'a MessCounts,
    pub resolver: &'a Resolver<'a>,
}

pub fn write(path: &Path, d: &PlantedDoc<'_>) -> Result<()> {
    let alert_json = |a: &Alert, behaviour: &str| {
        json!({
            "alertname": a.alertname,
            "severity": a.severity,
            "key": Value::Object(d.resolver.key(&a.key)),
            "behaviour": behaviour,
            "measured": a.measured,
        })
    };
    let mut firing: Vec<Value> = d.matched.firing.iter().map(|(a, b)| alert_json(a, b)).collect();
    // Anything our own evaluation finds is expected of the engine too; it
    // is listed (and reported as unplanned) rather than hidden.
    firing.extend(
        d.matched
            .unplanned
            .iter()
            .map(|a| alert_json(a, "UNPLANNED: background behaviour the simulator did not intend")),
    );
    firing.sort_by_key(|v| (v["alertname"].to_string(), v["key"].to_string()));
    let traps: Vec<Value> = d
        .plan
        .traps
        .iter()
        .map(|t| {
            json!({
                "must_not_fire": t.must_not_fire,
                "key": Value::Object(d.resolver.key(&t.key)),
                "behaviour": format!("{}: {}", d.resolver.who(&t.key), t.behaviour),
            })
        })
        .collect();
    let s = d.stats;
    let m = d.mess;
    let mut dead = Map::new();
    for (reason, n) in &m.malformed_by_reason {
        dead.insert((*reason).to_string(), json!(n));
    }
    dead.insert("unknown_institution".into(), json!(m.unknown_institution));
    dead.insert("unknown_product".into(), json!(m.unknown_product));
    dead.insert("orphan".into(), json!(m.orphan_events));
    dead.insert("too_large".into(), json!(m.too_large));
    let doc = json!({
        "scale": d.scale,
        "seed": d.seed,
        "window_start": d.window_start,
        "events_start": d.events_start,
        "as_of": d.as_of,
        "days": d.days,
        "expected_firing": firing,
        "traps": traps,
        "mess": {
            "duplicates": s.duplicates,
            "malformed_lines": m.malformed_lines(),
            "malformed_by_kind": m.malformed_by_kind,
            "out_of_order": s.out_of_order,
            "partial_deliveries": s.partial_deliveries,
            "cancellations": s.by_type[1],
            "full_cancellations": s.full_cancellations,
            "partial_payments": s.partial_payments,
            "orphans_expected": m.orphan_events,
            "orphan_deliveries": m.orphan_deliveries,
            "unknown_institution": m.unknown_institution,
            "unknown_product": m.unknown_product,
            "too_large": m.too_large,
            "special_service_orders": s.special_orders,
            "rejected_packs_deliveries": s.rejected_packs,
            "events_before_window_start": s.events_before_window,
        },
        "expected_dead_letter": dead,
        "events": {
            "order.placed": s.by_type[0],
            "order.cancelled": s.by_type[1],
            "delivery.received": s.by_type[2],
            "delivery.accepted": s.by_type[3],
            "payment.made": s.by_type[4],
            "total_valid": s.events(),
        },
        "notes": {
            "unplanned": d.matched.unplanned.len(),
            "missed": d.matched.missed,
            "severity_changed": d.matched.severity_changed,
        },
    });
    let mut text = serde_json::to_string_pretty(&doc).context("cannot serialise planted.json")?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
