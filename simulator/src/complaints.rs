//! The platform's supply-complaint exchange (集采产品采购供应信息交流模块,
//! seed 004 四(二); SPEC §4 `vbp.complaints`): `events/complaints.ndjson`
//! with planted `ComplaintOverdue` cases and traps, and
//! `reference/enterprises.csv`, the contact of every enterprise.
//!
//! The clock is evaluated here from the SPEC text (6.5) with the
//! simulator's own calendar, independently of the engine: W_n(d) is the
//! n-th working day strictly after d.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{Duration, NaiveDate};
use serde_json::json;

use super::behaviour::{Intended, KeySpec, Trap};
use super::catalogue::Catalogue;
use super::clock::{local_date, local_midnight, rfc3339, Calendar, HOUR};
use super::expect::Alert;
use super::institutions::Population;

/// What the exchange plants: the alerts our evaluation expects, the
/// intentions and traps behind them, and how many events it wrote.
pub struct Planted {
    pub intended: Vec<Intended>,
    pub traps: Vec<Trap>,
    pub alerts: Vec<Alert>,
    pub events: u64,
}

/// The complaint id of case `n` of institution `inst`.
pub fn complaint_id(pop: &Population, inst: u32, n: u32) -> String {
    format!("CMP-{}-{n:02}", pop.institutions[inst as usize].code)
}

/// W_n(d): the n-th working day strictly after `d`.
fn working_day_after(cal: &Calendar, d: NaiveDate, n: u32) -> NaiveDate {
    let mut day = d;
    let mut left = n;
    while left > 0 {
        day += Duration::days(1);
        if cal.is_working_day(day) {
            left -= 1;
        }
    }
    day
}

/// One planted complaint: filed, maybe replied (date, promised fix date),
/// maybe resolved, each at 10:00 local time of its day.
struct Case {
    filed: NaiveDate,
    reply: Option<(NaiveDate, NaiveDate)>,
    resolved: Option<NaiveDate>,
    kind: &'static str,
    text: &'static str,
    behaviour: String,
}

/// The cases, relative to `today` = date(as_of): every event is on a day
/// before it, so all occurred before as_of (a local midnight).
fn cases(cal: &Calendar, today: NaiveDate) -> Vec<Case> {
    let yesterday = today - Duration::days(1);
    // The latest filing whose W_2 is before today: unreplied, a warning.
    let warn_filed = (1..30).map(|k| today - Duration::days(k)).find(|&f| working_day_after(cal, f, 2) < today).unwrap_or(yesterday);
    let overdue_filed = today - Duration::days(30);
    let promised_filed = today - Duration::days(20);
    let promised_reply = working_day_after(cal, promised_filed, 1);
    let promise = promised_reply + Duration::days(3);
    vec![
        Case {
            filed: warn_filed,
            reply: None,
            resolved: None,
            kind: "not_delivered",
            text: "订单已超过配送时限，企业未回应",
            behaviour: format!("complaint filed {warn_filed}, no reply: past W_2 = {}", working_day_after(cal, warn_filed, 2)),
        },
        Case {
            filed: overdue_filed,
            reply: None,
            resolved: None,
            kind: "short_delivery",
            text: "连续三次配送不足，库存告急",
            behaviour: format!("complaint filed {overdue_filed}, never replied: past W_7 = {}", working_day_after(cal, overdue_filed, 7)),
        },
        Case {
            filed: promised_filed,
            reply: Some((promised_reply, promise)),
            resolved: None,
            kind: "quality",
            text: "批次外包装破损",
            behaviour: format!("complaint filed {promised_filed}, replied {promised_reply} promising {promise}, still unresolved"),
        },
        Case {
            filed: yesterday - Duration::days(1),
            reply: Some((yesterday, today + Duration::days(2))),
            resolved: None,
            kind: "other",
            text: "",
            behaviour: "TRAP: replied in time, the promised fix date is still ahead".into(),
        },
        Case {
            filed: today - Duration::days(12),
            reply: Some((today - Duration::days(11), today - Duration::days(6))),
            resolved: Some(today - Duration::days(7)),
            kind: "not_delivered",
            text: "已补发",
            behaviour: "TRAP: resolved before its promised date".into(),
        },
        Case {
            filed: yesterday,
            reply: None,
            resolved: None,
            kind: "not_delivered",
            text: "今日订单未到",
            behaviour: "TRAP: filed yesterday, the reply is not due yet".into(),
        },
    ]
}

/// The verdict of 6.5 at the start of `today` (T = as_of, a local midnight).
fn verdict(cal: &Calendar, c: &Case, today: NaiveDate) -> Option<&'static str> {
    if c.resolved.is_some() {
        return None;
    }
    let fix_by = match c.reply {
        Some((replied, promised)) => promised.min(working_day_after(cal, replied, 5)),
        None => working_day_after(cal, c.filed, 7),
    };
    if today > fix_by {
        Some("critical")
    } else if c.reply.is_none() && today > working_day_after(cal, c.filed, 2) {
        Some("warning")
    } else {
        None
    }
}

/// Writes `events/complaints.ndjson`: the cases, one institution each,
/// about a selected product of its basket.
pub fn write(events: &Path, cat: &Catalogue, pop: &Population, cal: &Calendar, as_of: i64) -> Result<Planted> {
    let today = local_date(as_of);
    let path = events.join("complaints.ndjson");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?);
    let mut planted = Planted { intended: Vec::new(), traps: Vec::new(), alerts: Vec::new(), events: 0 };
    let institutions = pop.institutions.len().max(1);
    for (n, case) in cases(cal, today).into_iter().enumerate() {
        let inst = ((n * 7 + 3) % institutions) as u32;
        let Some(product) = basket_product(cat, pop, inst, n) else { continue };
        let id = complaint_id(pop, inst, n as u32);
        let at = |d: NaiveDate| rfc3339(local_midnight(d) + 10 * HOUR);
        let mut line = |v: serde_json::Value| -> Result<()> {
            planted.events += 1;
            writeln!(out, "{v}").with_context(|| format!("cannot write {}", path.display()))
        };
        let mut filed = json!({
            "event_id": format!("evt-{id}-filed"), "type": "complaint.filed", "occurred_at": at(case.filed),
            "complaint_id": id, "institution_code": pop.institutions[inst as usize].code,
            "product_code": cat.products[product].code, "kind": case.kind,
        });
        if !case.text.is_empty() {
            filed["text"] = json!(case.text);
        }
        line(filed)?;
        if let Some((replied, promised)) = case.reply {
            line(json!({
                "event_id": format!("evt-{id}-replied"), "type": "complaint.replied", "occurred_at": at(replied),
                "complaint_id": id, "promised_by": promised.to_string(),
            }))?;
        }
        if let Some(resolved) = case.resolved {
            line(json!({
                "event_id": format!("evt-{id}-resolved"), "type": "complaint.resolved", "occurred_at": at(resolved),
                "complaint_id": id,
            }))?;
        }
        let key = KeySpec::Complaint { inst, n: n as u32 };
        match verdict(cal, &case, today) {
            Some(severity) => {
                planted.alerts.push(Alert { alertname: "ComplaintOverdue", severity, key: key.clone(), measured: case.behaviour.clone() });
                planted.intended.push(Intended { alertname: "ComplaintOverdue", severity, key, behaviour: case.behaviour });
            }
            None => planted.traps.push(Trap { must_not_fire: "ComplaintOverdue", key, behaviour: case.behaviour }),
        }
    }
    out.flush().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(planted)
}

/// A selected product of the institution's basket, from its `n`-th group
/// on, if it has one.
fn basket_product(cat: &Catalogue, pop: &Population, inst: u32, n: usize) -> Option<usize> {
    let basket = &pop.institutions.get(inst as usize)?.basket;
    let groups = basket.iter().cycle().skip(n).take(basket.len());
    groups.into_iter().find_map(|b| cat.products.iter().position(|p| p.group == b.group as usize && p.selected))
}

/// Writes `reference/enterprises.csv`: one contact per enterprise that
/// `products.csv` names, in order of first appearance.
pub fn write_enterprises(dir: &Path, cat: &Catalogue) -> Result<()> {
    const SURNAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
    let path = dir.join("enterprises.csv");
    let mut w = csv::Writer::from_path(&path).with_context(|| format!("cannot create {}", path.display()))?;
    w.write_record(vbp_schemas::reference_files::ENTERPRISES.columns)?;
    let mut seen = std::collections::HashSet::new();
    for p in &cat.products {
        if seen.insert(p.enterprise.as_str()) {
            let n = seen.len();
            let contact = format!("{}经理", SURNAMES[n % SURNAMES.len()]);
            w.write_record([p.enterprise.as_str(), contact.as_str(), format!("029-8{:07}", 1_000_000 + n * 37).as_str()])?;
        }
    }
    w.flush().with_context(|| format!("cannot write {}", path.display()))
}
