//! SPEC §10: the execution report (带量采购执行报表), one row per
//! institution × batch × agreement period in force at T, in the layout of
//! the national 《国采地区带量执行报表》 (seed 002 二(九): 动态监测每个集采品种、
//! 每家医疗机构).
//!
//! Read from the running sums of [`Purchases`]: 6.1's units per agreement,
//! and per institution × group window the amount of the selected products
//! and what each non-selected product and substitute cost
//! ([`Purchases::bought`]). Special-service orders are in none of them;
//! no exemption applies (raw execution, as the national report counts).
//! A sharded engine passes every shard's sums: each order is in exactly
//! one, so they add up.
//!
//! Counts compare exactly (progress < schedule ⇔ purchased × total <
//! agreed × elapsed); percentages are rounded half-up to 2 decimals once,
//! at the end.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Serialize, Serializer};

use crate::reference::{AgreementId, GroupId, Institution, InstitutionId, ProductId, ReferenceData};
use crate::state::{Bought, Purchases};

/// The 23 headers of the national layout, in order (SPEC §10).
pub const HEADERS: [&str; 23] = [
    "医疗机构",
    "医疗机构编码",
    "地区",
    "批次名称",
    "批次开始时间",
    "批次结束时间",
    "序时进度",
    "签约产品总数",
    "零采购产品数",
    "零采购产品占比",
    "低于序时进度产品数",
    "低于序时进度产品占比",
    "超量采购产品数",
    "超量采购产品占比",
    "正常采购产品数",
    "正常采购产品占比",
    "对应非中选产品总数",
    "采购非中选产品数",
    "非中选超量产品数",
    "非中选超额产品数",
    "对应可替代产品总数",
    "采购可替代产品数",
    "低于序时进度且非中选超量的产品数",
];

/// The JSON keys of `/api/report`, column by column (SPEC §10).
pub const KEYS: [&str; 23] = [
    "institution_name",
    "institution_code",
    "region",
    "batch",
    "period_start",
    "period_end",
    "schedule_pct",
    "agreements",
    "zero",
    "zero_pct",
    "behind",
    "behind_pct",
    "over",
    "over_pct",
    "normal",
    "normal_pct",
    "non_selected_total",
    "non_selected_bought",
    "non_selected_over_units",
    "non_selected_over_amount",
    "substitutes_total",
    "substitutes_bought",
    "behind_and_non_selected_over",
];

/// What each column holds, in column order.
pub const KINDS: [Kind; 23] = {
    use Kind::{Count, Date, Percent, Text};
    [
        Text, Text, Text, Text, Date, Date, Percent, Count, Count, Percent, Count, Percent, Count, Percent, Count, Percent,
        Count, Count, Count, Count, Count, Count, Count,
    ]
};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Date,
    Count,
    Percent,
}

/// One cell of a row: text, a date, a count or a percentage (of 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Text(&'a str),
    Date(NaiveDate),
    Count(u32),
    Percent(Decimal),
}

impl Cell<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Cell::Text(_) => Kind::Text,
            Cell::Date(_) => Kind::Date,
            Cell::Count(_) => Kind::Count,
            Cell::Percent(_) => Kind::Percent,
        }
    }

    /// As the CSV writes it: dates `YYYY-MM-DD`, percentages like `74.79`.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.to_string(),
            Cell::Date(d) => d.to_string(),
            Cell::Count(n) => n.to_string(),
            Cell::Percent(p) => format!("{p:.2}"),
        }
    }
}

/// One row of the report. Percentages are of 100 (74.79 means 74.79 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub institution_name: String,
    pub institution_code: String,
    pub region: String,
    pub batch: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    #[serde(serialize_with = "number")]
    pub schedule_pct: Decimal,
    pub agreements: u32,
    pub zero: u32,
    #[serde(serialize_with = "number")]
    pub zero_pct: Decimal,
    pub behind: u32,
    #[serde(serialize_with = "number")]
    pub behind_pct: Decimal,
    pub over: u32,
    #[serde(serialize_with = "number")]
    pub over_pct: Decimal,
    pub normal: u32,
    #[serde(serialize_with = "number")]
    pub normal_pct: Decimal,
    pub non_selected_total: u32,
    pub non_selected_bought: u32,
    pub non_selected_over_units: u32,
    pub non_selected_over_amount: u32,
    pub substitutes_total: u32,
    pub substitutes_bought: u32,
    pub behind_and_non_selected_over: u32,
    /// Not a column: the institution's district (or city) and its city,
    /// for filters and the gauges.
    pub division_code: String,
    pub city_code: String,
}

/// A percentage with 2 decimals as a JSON number (74.79, not "74.79");
/// a 2-decimal value round-trips through the shortest f64 text exactly.
fn number<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    use rust_decimal::prelude::ToPrimitive;
    serializer.serialize_f64(value.to_f64().unwrap_or(0.0))
}

/// One of the report's four exclusive outcomes of an agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// 零采购: nothing purchased.
    Zero,
    /// 低于序时进度: progress < schedule.
    Behind,
    /// 超量采购: progress > 1.
    Over,
    /// 正常采购: schedule ≤ progress ≤ 1.
    Normal,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Zero, Outcome::Behind, Outcome::Over, Outcome::Normal];

    /// The label value of the gauges.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Zero => "zero",
            Outcome::Behind => "behind",
            Outcome::Over => "over",
            Outcome::Normal => "normal",
        }
    }

    pub fn chinese(self) -> &'static str {
        match self {
            Outcome::Zero => "零采购",
            Outcome::Behind => "低于序时进度",
            Outcome::Over => "超量采购",
            Outcome::Normal => "正常采购",
        }
    }
}

impl ReportRow {
    /// The row's count of agreements with `outcome`.
    pub fn count(&self, outcome: Outcome) -> u32 {
        match outcome {
            Outcome::Zero => self.zero,
            Outcome::Behind => self.behind,
            Outcome::Over => self.over,
            Outcome::Normal => self.normal,
        }
    }

    /// The 23 cells, in column order.
    pub fn cells(&self) -> [Cell<'_>; 23] {
        use Cell::{Count, Date, Percent, Text};
        [
            Text(&self.institution_name),
            Text(&self.institution_code),
            Text(&self.region),
            Text(&self.batch),
            Date(self.period_start),
            Date(self.period_end),
            Percent(self.schedule_pct),
            Count(self.agreements),
            Count(self.zero),
            Percent(self.zero_pct),
            Count(self.behind),
            Percent(self.behind_pct),
            Count(self.over),
            Percent(self.over_pct),
            Count(self.normal),
            Percent(self.normal_pct),
            Count(self.non_selected_total),
            Count(self.non_selected_bought),
            Count(self.non_selected_over_units),
            Count(self.non_selected_over_amount),
            Count(self.substitutes_total),
            Count(self.substitutes_bought),
            Count(self.behind_and_non_selected_over),
        ]
    }
}

/// `part` of `whole` as a percentage rounded half-up to 2 decimals.
pub fn percent(part: Decimal, whole: Decimal) -> Decimal {
    if whole.is_zero() {
        return Decimal::ZERO;
    }
    let mut pct = (part * Decimal::ONE_HUNDRED / whole).round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    pct.rescale(2);
    pct
}

/// The report at local date `today` (date(T)) for the institutions
/// `include` accepts, from the sums of every shard, sorted as SPEC §10 asks.
pub fn rows(
    reference: &ReferenceData,
    shards: &[&Purchases],
    today: NaiveDate,
    include: impl Fn(&Institution) -> bool,
) -> Vec<ReportRow> {
    let products = ProductsByGroup::new(reference);
    let mut grouped: BTreeMap<RowKey, Vec<AgreementId>> = BTreeMap::new();
    for (index, agreement) in reference.agreements.iter().enumerate() {
        let institution = &reference.institutions[agreement.institution.index()];
        if !(agreement.period_start <= today && today <= agreement.period_end) || !include(institution) {
            continue;
        }
        let key = RowKey {
            division_code: institution.division_code.clone(),
            institution_code: institution.code.clone(),
            batch: products.family_batch[agreement.family.index()].clone(),
            period_start: agreement.period_start,
            period_end: agreement.period_end,
            institution: agreement.institution,
        };
        grouped.entry(key).or_default().push(AgreementId(index as u32));
    }
    let sums = Sums { shards };
    grouped.into_iter().map(|(key, agreements)| row(reference, &products, &sums, today, key, &agreements)).collect()
}

/// What a row groups by, in the report's sort order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    division_code: String,
    institution_code: String,
    batch: String,
    period_start: NaiveDate,
    period_end: NaiveDate,
    institution: InstitutionId,
}

/// Products of the reference data by group, and each family's batch.
struct ProductsByGroup {
    non_selected: Vec<Vec<ProductId>>,
    substitutes: Vec<Vec<ProductId>>,
    family_batch: Vec<String>,
}

impl ProductsByGroup {
    fn new(reference: &ReferenceData) -> Self {
        let mut non_selected = vec![Vec::new(); reference.groups.len()];
        let mut family_batch = vec![String::new(); reference.families.len()];
        for (index, product) in reference.products.iter().enumerate() {
            if !product.selected {
                non_selected[product.group.index()].push(ProductId(index as u32));
            }
            if let (Some(family), Some(batch)) = (product.family, &product.batch) {
                family_batch[family.index()].clone_from(batch);
            }
        }
        let mut substitutes = vec![Vec::new(); reference.groups.len()];
        for s in &reference.substitutes {
            substitutes[s.group.index()].push(s.product);
        }
        ProductsByGroup { non_selected, substitutes, family_batch }
    }
}

/// The sums of every shard, added up.
struct Sums<'a> {
    shards: &'a [&'a Purchases],
}

impl Sums<'_> {
    fn purchased(&self, agreement: AgreementId) -> Decimal {
        self.shards.iter().map(|p| p.per_agreement[agreement.index()]).sum()
    }

    /// The window's index (the same in every shard: windows are fixed by
    /// the agreements).
    fn window(&self, institution: InstitutionId, group: GroupId, start: NaiveDate) -> Option<usize> {
        self.shards.first().and_then(|p| p.window(institution, group, start))
    }

    /// (selected units, selected amount) of a window.
    fn selected(&self, window: usize) -> (Decimal, Decimal) {
        self.shards.iter().fold((Decimal::ZERO, Decimal::ZERO), |(units, amount), p| {
            (units + p.windows[window].selected_units, amount + p.selected_amounts[window])
        })
    }

    fn bought(&self, window: usize, product: ProductId) -> Bought {
        self.shards.iter().filter_map(|p| p.bought.get(&(window as u32, product))).fold(Bought::default(), |a, b| Bought {
            units: a.units + b.units,
            amount: a.amount + b.amount,
        })
    }
}

fn row(
    reference: &ReferenceData,
    products: &ProductsByGroup,
    sums: &Sums<'_>,
    today: NaiveDate,
    key: RowKey,
    agreements: &[AgreementId],
) -> ReportRow {
    let institution = &reference.institutions[key.institution.index()];
    let elapsed = Decimal::from((today - key.period_start).num_days() + 1);
    let total = Decimal::from((key.period_end - key.period_start).num_days() + 1);
    let groups: BTreeSet<GroupId> =
        agreements.iter().map(|a| reference.families[reference.agreements[a.index()].family.index()].group).collect();
    let window = |group: GroupId| sums.window(key.institution, group, key.period_start);

    // Columns 17–20: the groups' non-selected products against the
    // selected ones of their group, by units and by amount.
    let (mut non_selected_total, mut non_selected_bought, mut over_amount) = (0, 0, 0);
    let mut over_units_groups: BTreeSet<GroupId> = BTreeSet::new();
    let mut over_units = 0;
    for &group in &groups {
        let Some(w) = window(group) else { continue };
        let (selected_units, selected_amount) = sums.selected(w);
        for &product in &products.non_selected[group.index()] {
            non_selected_total += 1;
            let bought = sums.bought(w, product);
            if bought.units > Decimal::ZERO {
                non_selected_bought += 1;
            }
            if bought.units > selected_units {
                over_units += 1;
                over_units_groups.insert(group);
            }
            if bought.amount > selected_amount {
                over_amount += 1;
            }
        }
    }
    // Columns 21–22: distinct substitutes of the row's groups.
    let mut substitutes: BTreeMap<ProductId, bool> = BTreeMap::new();
    for &group in &groups {
        let Some(w) = window(group) else { continue };
        for &product in &products.substitutes[group.index()] {
            let bought = sums.bought(w, product).units > Decimal::ZERO;
            *substitutes.entry(product).or_default() |= bought;
        }
    }

    let (mut zero, mut behind, mut over, mut normal, mut behind_and_over) = (0, 0, 0, 0, 0);
    for &id in agreements {
        let agreement = &reference.agreements[id.index()];
        let purchased = sums.purchased(id);
        let agreed = agreement.agreed_base_units;
        let is_behind = purchased * total < agreed * elapsed;
        match () {
            _ if purchased.is_zero() => zero += 1,
            _ if is_behind => behind += 1,
            _ if purchased > agreed => over += 1,
            _ => normal += 1,
        }
        let group = reference.families[agreement.family.index()].group;
        if is_behind && over_units_groups.contains(&group) {
            behind_and_over += 1;
        }
    }
    let n = Decimal::from(agreements.len());
    let pct = |count: u32| percent(Decimal::from(count), n);
    ReportRow {
        institution_name: institution.name.clone(),
        institution_code: key.institution_code,
        region: reference.divisions.name(&institution.division_code).unwrap_or_default().to_string(),
        batch: key.batch,
        period_start: key.period_start,
        period_end: key.period_end,
        schedule_pct: percent(elapsed, total),
        agreements: agreements.len() as u32,
        zero,
        zero_pct: pct(zero),
        behind,
        behind_pct: pct(behind),
        over,
        over_pct: pct(over),
        normal,
        normal_pct: pct(normal),
        non_selected_total,
        non_selected_bought,
        non_selected_over_units: over_units,
        non_selected_over_amount: over_amount,
        substitutes_total: substitutes.len() as u32,
        substitutes_bought: substitutes.values().filter(|&&b| b).count() as u32,
        behind_and_non_selected_over: behind_and_over,
        division_code: institution.division_code.clone(),
        city_code: institution.city_code.clone(),
    }
}

/// (city, district, batch).
pub type CountKey = (String, String, String);

/// The report's four counts summed by (city, district, batch), for the
/// gauges. Bounded by districts × batches, never by institutions.
pub fn outcome_counts(rows: &[ReportRow]) -> BTreeMap<CountKey, [u32; 4]> {
    let mut counts: BTreeMap<CountKey, [u32; 4]> = BTreeMap::new();
    for row in rows {
        let key = (row.city_code.clone(), row.division_code.clone(), row.batch.clone());
        let slot = counts.entry(key).or_default();
        for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
            slot[i] += row.count(outcome);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_half_up_once_at_the_end() {
        assert_eq!(percent(Decimal::from(1), Decimal::from(8)).to_string(), "12.50");
        // 1/3 = 33.333… → 33.33; 2/3 = 66.666… → 66.67
        assert_eq!(percent(Decimal::from(1), Decimal::from(3)).to_string(), "33.33");
        assert_eq!(percent(Decimal::from(2), Decimal::from(3)).to_string(), "66.67");
        // 1/400 = 0.25 %; 1/2000 = 0.05 %; 1/16 = 6.25 %; 1/32 = 3.125 % → 3.13 (half-up, not to even)
        assert_eq!(percent(Decimal::from(1), Decimal::from(32)).to_string(), "3.13");
        assert_eq!(percent(Decimal::from(3), Decimal::from(32)).to_string(), "9.38");
    }

    #[test]
    fn every_cell_has_its_column_kind() {
        let row = ReportRow {
            institution_name: "A".into(),
            institution_code: "B".into(),
            region: "C".into(),
            batch: "D".into(),
            period_start: NaiveDate::MIN,
            period_end: NaiveDate::MAX,
            schedule_pct: Decimal::ONE,
            agreements: 1,
            zero: 0,
            zero_pct: Decimal::ZERO,
            behind: 0,
            behind_pct: Decimal::ZERO,
            over: 0,
            over_pct: Decimal::ZERO,
            normal: 1,
            normal_pct: Decimal::ONE_HUNDRED,
            non_selected_total: 0,
            non_selected_bought: 0,
            non_selected_over_units: 0,
            non_selected_over_amount: 0,
            substitutes_total: 0,
            substitutes_bought: 0,
            behind_and_non_selected_over: 0,
            division_code: String::new(),
            city_code: String::new(),
        };
        let kinds: Vec<Kind> = row.cells().iter().map(Cell::kind).collect();
        assert_eq!(kinds, KINDS);
        assert_eq!(HEADERS.len(), KEYS.len());
    }

    #[test]
    fn a_percentage_cell_always_shows_two_decimals() {
        assert_eq!(Cell::Percent(percent(Decimal::from(5), Decimal::from(5))).text(), "100.00");
        assert_eq!(Cell::Percent(Decimal::ZERO).text(), "0.00");
    }
}
