//! SPEC §11: the quarterly circular (季度通报) the provincial centre
//! publishes (seed 002 二(九): 定期通报执行不力、配送率低、采购进度滞后、
//! 非中选产品采购量占比高、可替代产品采购量异常增长), evaluated at the
//! quarter's last instant, for the province and each city with its
//! districts.
//!
//! Every figure is the one the report and the detectors give for the same
//! instant: the report's counts (SPEC §10), progress against the schedule
//! (6.1), on-time delivery by enterprise (6.3, the roll-ups' due lines), the
//! non-selected share (6.2, its exclusions applied), substitute spending
//! (6.6's recent 30 days against its 90-day baseline), the overdue payments
//! of the `PaymentOverdue` alerts firing at T (6.4), and the alerts that
//! fired during the quarter. Exact decimals throughout; percentages rounded
//! half-up to 2 decimals when shown.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone};
use rust_decimal::Decimal;

use crate::alert::{Alert, AlertName, Severity};
use crate::reference::{GroupId, InstitutionId, ReferenceData};
use crate::report::{Outcome, ReportRow};
use crate::rollups::DeliveryRate;
use crate::state::State;

/// How many institutions each ranking lists.
pub const TOP: usize = 10;

/// A calendar quarter, `2026Q3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quarter {
    pub year: i32,
    pub number: u32,
}

impl std::str::FromStr for Quarter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a quarter like 2026Q3");
        let (year, number) = s.trim().split_once(['Q', 'q']).ok_or_else(bad)?;
        let (year, number): (i32, u32) = (year.parse().map_err(|_| bad())?, number.parse().map_err(|_| bad())?);
        if !(1..=4).contains(&number) || !(2000..=2099).contains(&year) {
            return Err(bad());
        }
        Ok(Quarter { year, number })
    }
}

impl std::fmt::Display for Quarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}Q{}", self.year, self.number)
    }
}

impl Quarter {
    /// The quarter a date falls in.
    pub fn of(day: NaiveDate) -> Quarter {
        Quarter { year: day.year(), number: (day.month() - 1) / 3 + 1 }
    }

    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.number * 3 - 2, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(&self) -> NaiveDate {
        let next = if self.number == 4 {
            NaiveDate::from_ymd_opt(self.year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.year, self.number * 3 + 1, 1)
        };
        next.and_then(|d| d.pred_opt()).unwrap_or(NaiveDate::MAX)
    }

    /// The quarter's last instant in China Standard Time (23:59:59.999999).
    pub fn last_instant(&self) -> DateTime<FixedOffset> {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
        let end = self.last_day().and_hms_micro_opt(23, 59, 59, 999_999).unwrap_or_default();
        cst.from_local_datetime(&end).single().unwrap_or_else(|| cst.from_utc_datetime(&end))
    }

    /// 2026年第三季度
    pub fn chinese(&self) -> String {
        let n = ["一", "二", "三", "四"][(self.number as usize - 1).min(3)];
        format!("{}年第{n}季度", self.year)
    }
}

/// An alert that fired (or changed severity) during the quarter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub at: DateTime<FixedOffset>,
    pub name: AlertName,
    pub severity: Severity,
    pub division_code: String,
    pub city_code: String,
}

impl Fired {
    pub fn of(alert: &Alert, at: DateTime<FixedOffset>) -> Self {
        let label = |l: &str| alert.labels.get(l).cloned().unwrap_or_default();
        Fired { at, name: alert.name, severity: alert.severity, division_code: label("division_code"), city_code: label("city_code") }
    }
}

/// The alerts firing at any evaluation of one quarter, each with the
/// instant it was first seen firing in the quarter and its highest
/// severity: what "the alerts that fired during the quarter" counts,
/// including those already firing when it began. Follows the quarter of
/// the evaluations it observes, starting afresh at each new quarter.
#[derive(Debug, Clone, Default)]
pub struct FiredLog {
    quarter: Option<Quarter>,
    seen: BTreeMap<crate::alert::AlertId, Fired>,
}

impl FiredLog {
    pub fn observe<'a>(&mut self, at: DateTime<FixedOffset>, firing: impl Iterator<Item = &'a Alert>) {
        let quarter = Quarter::of(crate::time::local_date(at));
        if self.quarter != Some(quarter) {
            self.quarter = Some(quarter);
            self.seen.clear();
        }
        for alert in firing {
            let entry = self.seen.entry(alert.id()).or_insert_with(|| Fired::of(alert, at));
            entry.severity = entry.severity.max(alert.severity);
        }
    }

    /// The quarter observed last, and its alerts.
    pub fn fired(&self) -> (Option<Quarter>, Vec<Fired>) {
        (self.quarter, self.seen.values().cloned().collect())
    }
}

/// What the circular is built from, all at the quarter's last instant.
pub struct Inputs<'a> {
    pub reference: &'a ReferenceData,
    /// Every shard's state.
    pub shards: &'a [&'a State],
    /// The report's rows for the province.
    pub rows: &'a [ReportRow],
    /// On-time delivery by (enterprise, city) (the roll-ups).
    pub delivery: &'a BTreeMap<(String, String), DeliveryRate>,
    /// The alerts firing at T.
    pub firing: &'a [Alert],
    /// The alerts that fired during the quarter (any order).
    pub fired: &'a [Fired],
}

/// The report's four counts summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub rows: u32,
    pub institutions: u32,
    pub agreements: u32,
    /// By [`Outcome::ALL`] order.
    pub outcomes: [u32; 4],
}

impl Counts {
    fn add(&mut self, row: &ReportRow) {
        self.rows += 1;
        self.agreements += row.agreements;
        for (slot, outcome) in self.outcomes.iter_mut().zip(Outcome::ALL) {
            *slot += row.count(outcome);
        }
    }

    pub fn share(&self, outcome: Outcome) -> Decimal {
        let i = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        crate::report::percent(self.outcomes[i].into(), self.agreements.into())
    }
}

/// One institution in a ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub institution_code: String,
    pub institution_name: String,
    pub division_name: String,
    /// The figure ranked on, as a percentage (progress ÷ schedule, share,
    /// growth) or yuan (overdue).
    pub figure: Decimal,
    /// The figure as the circular writes it (`83.67%`, `3403.10 元`, `新增`).
    pub shown: String,
    /// What the figure is made of, in words.
    pub detail: String,
}

/// On-time delivery of one enterprise in a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterpriseDelivery {
    pub enterprise: String,
    pub due_lines: u64,
    pub on_time_lines: u64,
    /// Percentage, 2 decimals.
    pub rate: Decimal,
}

/// The circular's content for one scope: the province or one city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub code: String,
    pub name: String,
    pub counts: Counts,
    /// The cities (province section) or districts (city section).
    pub parts: Vec<(String, String, Counts)>,
    /// 执行不力: the parts with the highest share of agreements not bought
    /// or behind schedule (零采购 + 低于序时进度), at most five, highest first.
    pub poorest: Vec<(String, Decimal)>,
    pub behind: Vec<Ranked>,
    pub delivery: Vec<EnterpriseDelivery>,
    pub non_selected: Vec<Ranked>,
    pub substitutes: Vec<Ranked>,
    pub overdue: Vec<Ranked>,
    /// Yuan overdue and institutions with overdue payments in the scope.
    pub overdue_total: (Decimal, u32),
    /// Alerts fired in the quarter by (name, severity).
    pub fired: BTreeMap<(AlertName, Severity), u32>,
    /// Alerts fired in the quarter by week (Monday).
    pub weekly: Vec<(NaiveDate, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Circular {
    pub quarter: Quarter,
    /// The evaluation instant: the quarter's last, or earlier in a draft.
    pub at: DateTime<FixedOffset>,
    pub province: Section,
    pub cities: Vec<Section>,
}

/// Per-institution figures, computed once for every scope.
struct Figures {
    /// (institution, purchased, scheduled units, agreements).
    progress: Vec<(InstitutionId, Decimal, Decimal, u32)>,
    /// (institution, non-selected, total units) of 6.2's windows.
    share: Vec<(InstitutionId, Decimal, Decimal)>,
    /// (institution, group, recent 30 days, the 90 days before) yuan.
    substitutes: Vec<(InstitutionId, GroupId, Decimal, Decimal)>,
}

impl Circular {
    /// The circular of `quarter` evaluated at `at`: the quarter's last
    /// instant for the published one, an earlier instant for a draft of
    /// the quarter so far (live and demo mode).
    pub fn build(quarter: Quarter, at: DateTime<FixedOffset>, inputs: &Inputs<'_>) -> Circular {
        let figures = figures(inputs, crate::time::local_date(at).min(quarter.last_day()));
        let reference = inputs.reference;
        let province_code = reference.divisions.list().iter().map(|(c, _)| c.clone()).find(|c| c.ends_with("0000")).unwrap_or_default();
        let cities: Vec<String> = reference
            .divisions
            .list()
            .iter()
            .map(|(c, _)| c.clone())
            .filter(|c| c.ends_with("00") && !c.ends_with("0000"))
            .collect();
        let province = section(inputs, &figures, quarter, &province_code);
        let cities = cities.iter().map(|c| section(inputs, &figures, quarter, c)).filter(|s| s.counts.rows > 0 || !s.overdue.is_empty()).collect();
        Circular { quarter, at, province, cities }
    }
}

fn figures(inputs: &Inputs<'_>, today: NaiveDate) -> Figures {
    let reference = inputs.reference;
    let purchases: Vec<_> = inputs.shards.iter().map(|s| &s.purchases).collect();
    let in_force: Vec<usize> =
        (0..reference.agreements.len()).filter(|&i| reference.agreements[i].period_start <= today && today <= reference.agreements[i].period_end).collect();

    let mut progress: BTreeMap<InstitutionId, (Decimal, Decimal, u32)> = BTreeMap::new();
    let mut first_window: BTreeMap<(InstitutionId, GroupId), NaiveDate> = BTreeMap::new();
    for &i in &in_force {
        let a = &reference.agreements[i];
        let elapsed = Decimal::from((today - a.period_start).num_days() + 1);
        let total = Decimal::from((a.period_end - a.period_start).num_days() + 1);
        let purchased: Decimal = purchases.iter().map(|p| p.per_agreement[i]).sum();
        let slot = progress.entry(a.institution).or_default();
        slot.0 += purchased;
        slot.1 += a.agreed_base_units * elapsed / total;
        slot.2 += 1;
        let group = reference.families[a.family.index()].group;
        let start = first_window.entry((a.institution, group)).or_insert(a.period_start);
        *start = (*start).min(a.period_start);
    }
    let mut share: BTreeMap<InstitutionId, (Decimal, Decimal)> = BTreeMap::new();
    for (&(institution, group), &start) in &first_window {
        let Some(w) = purchases.first().and_then(|p| p.window(institution, group, start)) else { continue };
        let (selected, non_selected) = purchases.iter().fold((Decimal::ZERO, Decimal::ZERO), |(s, n), p| {
            (s + p.windows[w].selected_units, n + p.windows[w].non_selected_units)
        });
        let slot = share.entry(institution).or_default();
        slot.0 += non_selected;
        slot.1 += selected + non_selected;
    }
    // 6.6: substitutes' yuan of the institutions × groups under an agreement in force.
    let mut groups_of: BTreeMap<crate::reference::ProductId, Vec<GroupId>> = BTreeMap::new();
    for s in &reference.substitutes {
        groups_of.entry(s.product).or_default().push(s.group);
    }
    let mut spent: BTreeMap<(InstitutionId, GroupId), (Decimal, Decimal)> = BTreeMap::new();
    for state in inputs.shards {
        for (&(institution, product, day), tally) in &state.recent {
            let age = (today - day).num_days();
            if !(0..120).contains(&age) || tally.amount.is_zero() {
                continue;
            }
            for &group in groups_of.get(&product).into_iter().flatten() {
                if first_window.contains_key(&(institution, group)) {
                    let slot = spent.entry((institution, group)).or_default();
                    if age < 30 {
                        slot.0 += tally.amount;
                    } else {
                        slot.1 += tally.amount;
                    }
                }
            }
        }
    }
    Figures {
        progress: progress.into_iter().map(|(i, (p, s, n))| (i, p, s, n)).collect(),
        share: share.into_iter().map(|(i, (n, t))| (i, n, t)).collect(),
        substitutes: spent.into_iter().map(|((i, g), (r, e))| (i, g, r, e)).collect(),
    }
}

fn section(inputs: &Inputs<'_>, figures: &Figures, quarter: Quarter, code: &str) -> Section {
    let reference = inputs.reference;
    let institution = |id: InstitutionId| &reference.institutions[id.index()];
    let inside = |id: InstitutionId| institution(id).is_in(code);
    let division_name = |c: &str| reference.divisions.name(c).unwrap_or_default().to_string();
    let ranked = |id: InstitutionId, figure: Decimal, shown: String, detail: String| {
        let i = institution(id);
        Ranked {
            institution_code: i.code.clone(),
            institution_name: i.name.clone(),
            division_name: division_name(&i.division_code),
            figure,
            shown,
            detail,
        }
    };
    let pct = |part: Decimal, whole: Decimal| crate::report::percent(part, whole);

    let mut counts = Counts::default();
    let mut parts: BTreeMap<String, Counts> = BTreeMap::new();
    let mut institutions = BTreeSet::new();
    let is_province = code.ends_with("0000");
    for row in inputs.rows.iter().filter(|r| r.city_code == code || r.division_code == code || is_province) {
        counts.add(row);
        institutions.insert(row.institution_code.clone());
        let part = if is_province { row.city_code.clone() } else { row.division_code.clone() };
        parts.entry(part).or_default().add(row);
    }
    counts.institutions = institutions.len() as u32;

    // 采购进度滞后: progress ÷ schedule, lowest first.
    let mut behind: Vec<Ranked> = figures
        .progress
        .iter()
        .filter(|(id, _, scheduled, _)| inside(*id) && !scheduled.is_zero())
        .filter(|(_, purchased, scheduled, _)| purchased < scheduled)
        .map(|&(id, purchased, scheduled, n)| {
            let detail = format!("签约产品 {n} 个，已采购 {} 基本单位，按序时应采购 {}", purchased.round_dp(0), scheduled.round_dp(0));
            let ratio = pct(purchased, scheduled);
            ranked(id, ratio, format!("{ratio}%"), detail)
        })
        .collect();
    behind.sort_by(|a, b| a.figure.cmp(&b.figure).then_with(|| a.institution_code.cmp(&b.institution_code)));
    behind.truncate(TOP);

    // 配送率低: on-time delivery by enterprise, worst first.
    let mut by_enterprise: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for ((enterprise, city), rate) in inputs.delivery {
        if is_province || city == code {
            let slot = by_enterprise.entry(enterprise).or_default();
            slot.0 += rate.due_lines as u64;
            slot.1 += rate.on_time_lines as u64;
        }
    }
    let mut delivery: Vec<EnterpriseDelivery> = by_enterprise
        .into_iter()
        .filter(|(_, (due, _))| *due > 0)
        .map(|(enterprise, (due, on_time))| EnterpriseDelivery {
            enterprise: enterprise.to_string(),
            due_lines: due,
            on_time_lines: on_time,
            rate: pct(on_time.into(), due.into()),
        })
        .collect();
    delivery.sort_by(|a, b| a.rate.cmp(&b.rate).then_with(|| b.due_lines.cmp(&a.due_lines)).then_with(|| a.enterprise.cmp(&b.enterprise)));
    delivery.truncate(TOP);

    // 非中选产品采购量占比高: 6.2's share, from 100 units counted.
    let hundred = Decimal::ONE_HUNDRED;
    let mut non_selected: Vec<Ranked> = figures
        .share
        .iter()
        .filter(|(id, n, total)| inside(*id) && *total >= hundred && !n.is_zero())
        .map(|&(id, n, total)| {
            let share = pct(n, total);
            ranked(id, share, format!("{share}%"), format!("非中选 {} / 合计 {} 基本单位", n.round_dp(0), total.round_dp(0)))
        })
        .collect();
    non_selected.sort_by(|a, b| b.figure.cmp(&a.figure).then_with(|| a.institution_code.cmp(&b.institution_code)));
    non_selected.truncate(TOP);

    // 可替代产品采购量异常增长: recent 30 days against the 90-day monthly baseline.
    let three = Decimal::from(3);
    let growth = |recent: Decimal, earlier: Decimal| if earlier.is_zero() { Decimal::ZERO } else { pct(recent * three - earlier, earlier) };
    let mut spent: Vec<_> = figures.substitutes.iter().filter(|(id, _, recent, _)| inside(*id) && !recent.is_zero()).collect();
    // A baseline of 0 is the strongest growth; then by growth, then by code.
    spent.sort_by(|a, b| {
        (!b.3.is_zero()).cmp(&!a.3.is_zero()).reverse().then_with(|| growth(b.2, b.3).cmp(&growth(a.2, a.3))).then_with(|| a.0.cmp(&b.0))
    });
    let substitutes: Vec<Ranked> = spent
        .into_iter()
        .take(TOP)
        .map(|&(id, group, recent, earlier)| {
            let baseline = (earlier / three).round_dp(2);
            let group_name = &reference.groups[group.index()].group_id;
            let detail = format!("品种组 {group_name}：近30日 {} 元，前90日月均 {baseline} 元", recent.round_dp(2));
            let g = growth(recent, earlier);
            let shown = if earlier.is_zero() { "新增（前90日为0）".to_string() } else { format!("{g}%") };
            ranked(id, g, shown, detail)
        })
        .collect();

    // 货款逾期: the PaymentOverdue alerts firing at T.
    let mut overdue: Vec<Ranked> = Vec::new();
    let mut overdue_total = (Decimal::ZERO, 0);
    for alert in inputs.firing.iter().filter(|a| a.name == AlertName::PaymentOverdue) {
        let Some(id) = alert.labels.get("institution_code").and_then(|c| reference.institution(c)) else { continue };
        if !inside(id) {
            continue;
        }
        let amount: Decimal = alert.annotations.get("overdue_amount").and_then(|a| a.parse().ok()).unwrap_or_default();
        let count = alert.annotations.get("overdue_deliveries").cloned().unwrap_or_default();
        overdue_total.0 += amount;
        overdue_total.1 += 1;
        let detail = format!("{count} 笔验收配送逾期（{}）", alert.severity.chinese());
        overdue.push(ranked(id, amount, format!("{amount:.2} 元"), detail));
    }
    overdue.sort_by(|a, b| b.figure.cmp(&a.figure).then_with(|| a.institution_code.cmp(&b.institution_code)));
    overdue.truncate(TOP);

    // The quarter's alerts, by name and severity, and by week.
    let (first, last) = (quarter.first_day(), quarter.last_day());
    let mut fired: BTreeMap<(AlertName, Severity), u32> = BTreeMap::new();
    let mut weekly: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    let mut monday = first - Duration::days(first.weekday().num_days_from_monday() as i64);
    while monday <= last {
        weekly.insert(monday, 0);
        monday += Duration::days(7);
    }
    for f in inputs.fired {
        let day = crate::time::local_date(f.at);
        let in_scope = is_province || f.city_code == code || f.division_code == code;
        if in_scope && first <= day && day <= last {
            *fired.entry((f.name, f.severity)).or_default() += 1;
            let monday = day - Duration::days(day.weekday().num_days_from_monday() as i64);
            *weekly.entry(monday).or_default() += 1;
        }
    }

    let parts: Vec<(String, String, Counts)> = parts.into_iter().map(|(c, n)| (c.clone(), division_name(&c), n)).collect();
    let mut poorest: Vec<(String, Decimal)> = parts
        .iter()
        .map(|(_, name, c)| (name.clone(), pct(Decimal::from(c.outcomes[0] + c.outcomes[1]), Decimal::from(c.agreements))))
        .filter(|(_, share)| !share.is_zero())
        .collect();
    poorest.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    poorest.truncate(5);
    Section {
        code: code.to_string(),
        name: division_name(code),
        counts,
        parts,
        poorest,
        behind,
        delivery,
        non_selected,
        substitutes,
        overdue,
        overdue_total,
        fired,
        weekly: weekly.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_parses_and_ends_at_its_last_instant_in_china_standard_time() {
        let q: Quarter = "2026Q3".parse().unwrap();
        assert_eq!((q.first_day().to_string(), q.last_day().to_string()), ("2026-07-01".into(), "2026-09-30".into()));
        assert_eq!(q.last_instant().to_rfc3339(), "2026-09-30T23:59:59.999999+08:00");
        let q4: Quarter = "2026Q4".parse().unwrap();
        assert_eq!(q4.last_day().to_string(), "2026-12-31");
        assert_eq!(q4.chinese(), "2026年第四季度");
        for bad in ["2026Q5", "2026", "Q3", "20xxQ1"] {
            assert!(bad.parse::<Quarter>().is_err(), "{bad}");
        }
    }
}
