//! The state and the reference data as Arrow tables in a DataFusion session,
//! as of one evaluation instant T.
//!
//! The rules (and analysts, through `vbp-watch sql`) query these tables:
//!
//! | table | one row per |
//! | --- | --- |
//! | `agreement_progress` | agreement, with base units purchased so far and the date `SelectedProductNotEntered` may fire from |
//! | `group_windows` | institution × group × period start, selected and non-selected units since |
//! | `open_order_lines` | order line with packs outstanding (special-service lines left out) |
//! | `unpaid_deliveries` | accepted delivery with money outstanding |
//! | `due_order_lines` | order line whose delivery deadline fell in the 30 days up to T, and whether it was delivered in full by then |
//! | `calendar_days` | date, with the number of working days since 2000-01-01 |
//! | `complaints` | supply complaint, with its reply and fix deadlines (W_n) and whether and when it was replied to and resolved |
//! | `recent_purchases` | institution × product × order date of the last 120 days: substitutes' amounts and the overcharge above the selected price |
//! | `period_end_purchases` | agreement × order date of its period's last 59 days, with the base units bought |
//! | `substitutes` | group × product that can replace its products |
//! | `circular_rankings` | ranked line of the circular (SPEC §11) of T's quarter so far: scope (province or city), ranking, rank, who and the figure (`sql` only) |
//! | `report_rows` | row of the execution report (SPEC §10) at date(T): institution × batch × period, its 23 columns by their `/api/report` keys (`sql` only) |
//! | `institutions`, `products`, `divisions`, `exemptions` | reference rows |
//!
//! Units are `Decimal128(38, 6)` base units, money `Decimal128(38, 2)` yuan,
//! dates `Date32` in China Standard Time, instants microsecond timestamps
//! in UTC (see [`TZ`]).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::error::ArrowError;
use chrono::{DateTime, NaiveDate};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use rust_decimal::Decimal;

use crate::config::DetectorConfig;
use crate::reference::{Category, Institution, ReferenceData};
use crate::state::State;
use crate::time::{add_months_clamped, local_date};

/// Scale of base-unit columns.
pub const UNITS_SCALE: i8 = 6;
/// Scale of money columns (fen).
pub const MONEY_SCALE: i8 = 2;
/// The time zone written on timestamp columns. UTC, because DataFusion
/// compares a zoned column with a literal such as
/// `TIMESTAMP '2026-02-01T00:00:00+08:00'` by casting the column to local
/// wall time: with UTC columns that comparison is exact. Local dates are
/// separate `Date32` columns in China Standard Time.
pub const TZ: &str = "UTC";

/// The tables that depend only on the reference data and the thresholds,
/// built once per load rather than at every evaluation.
#[derive(Debug, Clone)]
pub struct StaticTables {
    /// `agreement_progress` without its `purchased_base_units` column.
    agreements: RecordBatch,
    /// `group_windows` without its unit columns, one row per window of
    /// [`Purchases::windows`](crate::state::Purchases), in the same order:
    /// the windows are fixed by the agreements, only their sums change.
    group_windows: RecordBatch,
    calendar_days: RecordBatch,
    institutions: RecordBatch,
    products: RecordBatch,
    divisions: RecordBatch,
    exemptions: RecordBatch,
    substitutes: RecordBatch,
}

impl StaticTables {
    pub fn build(reference: &ReferenceData, config: &DetectorConfig) -> Result<Self, ArrowError> {
        Ok(StaticTables {
            agreements: agreements(reference, config)?,
            group_windows: static_group_windows(reference)?,
            calendar_days: calendar_days(reference)?,
            institutions: institutions(reference)?,
            products: products(reference)?,
            divisions: divisions(reference)?,
            exemptions: exemptions(reference)?,
            substitutes: substitutes(reference)?,
        })
    }
}

/// Which tables a session holds. Building tables over millions of order
/// lines and deliveries is most of what an evaluation costs, so the rules
/// get only what they read: no `due_order_lines`, and in `open_order_lines`
/// and `unpaid_deliveries` only the rows already overdue at T (the rules
/// filter on that themselves, so the answer is the same). The dashboards'
/// roll-ups and analysts get every table with every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Rules,
    Everything,
}

/// Registers the tables, with the state as it is now, in a new DataFusion
/// session. Building [`StaticTables`] once and passing them here is what
/// keeps an evaluation cheap.
pub fn session(
    statics: &StaticTables,
    reference: &ReferenceData,
    state: &State,
    config: &DetectorConfig,
    at: i64,
    need: Need,
) -> Result<SessionContext, DataFusionError> {
    let ctx = SessionContext::new();
    let overdue_only = need == Need::Rules;
    if need == Need::Everything {
        ctx.register_batch("due_order_lines", due_order_lines(reference, state, config, at)?)?;
    }
    let tables = [
        ("agreement_progress", agreement_progress(statics, reference, state)?),
        ("group_windows", group_windows(statics, state)?),
        ("open_order_lines", open_order_lines(reference, state, config, overdue_only.then_some(at))?),
        ("unpaid_deliveries", unpaid_deliveries(reference, state, overdue_only.then(|| local_date_of_micros(at)))?),
        ("calendar_days", statics.calendar_days.clone()),
        ("institutions", statics.institutions.clone()),
        ("products", statics.products.clone()),
        ("divisions", statics.divisions.clone()),
        ("exemptions", statics.exemptions.clone()),
        ("substitutes", statics.substitutes.clone()),
        ("complaints", complaints(reference, state, config, overdue_only.then_some(at))?),
        ("recent_purchases", recent_purchases(reference, state)?),
        ("period_end_purchases", period_end_purchases(reference, state)?),
    ];
    for (name, batch) in tables {
        ctx.register_batch(name, batch)?;
    }
    Ok(ctx)
}

/// Builds a record batch from named columns; nullability follows the data.
fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, ArrowError> {
    let fields: Vec<Field> =
        columns.iter().map(|(name, array)| Field::new(*name, array.data_type().clone(), array.null_count() > 0)).collect();
    let arrays = columns.into_iter().map(|(_, a)| a).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
}

fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn optional_strings<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<StringArray>())
}

/// Days since 1970-01-01, Arrow's `Date32`.
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (date - epoch).num_days() as i32
}

fn dates(values: impl IntoIterator<Item = NaiveDate>) -> ArrayRef {
    Arc::new(Date32Array::from_iter_values(values.into_iter().map(days_since_epoch)))
}

fn timestamps(values: impl IntoIterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(values).with_timezone(TZ))
}

fn optional_dates(values: impl IntoIterator<Item = Option<NaiveDate>>) -> ArrayRef {
    Arc::new(values.into_iter().map(|d| d.map(days_since_epoch)).collect::<Date32Array>())
}

fn optional_timestamps(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<TimestampMicrosecondArray>().with_timezone(TZ))
}

/// The mantissa of `value` at `scale` decimal places, rounded half away
/// from zero beyond it (units only; money never has more than 2 places).
pub fn scaled(value: Decimal, scale: i8) -> i128 {
    let mut v = value.round_dp(scale as u32);
    v.rescale(scale as u32);
    v.mantissa()
}

fn decimals(values: impl IntoIterator<Item = Decimal>, scale: i8) -> Result<ArrayRef, ArrowError> {
    let array = Decimal128Array::from_iter_values(values.into_iter().map(|v| scaled(v, scale)))
        .with_precision_and_scale(38, scale)?;
    Ok(Arc::new(array))
}

/// The division columns every business table carries, so rules and
/// dashboards can group by district, city and province without a join.
fn division_columns<'a>(rows: &[&'a Institution]) -> Vec<(&'static str, ArrayRef)> {
    vec![
        ("division_code", strings(rows.iter().map(|i| i.division_code.as_str()))),
        ("city_code", strings(rows.iter().map(|i| i.city_code.as_str()))),
        ("province_code", strings(rows.iter().map(|i| i.province_code.as_str()))),
    ]
}

/// The execution report's rows (SPEC §10), with the division columns.
pub fn report_rows(rows: &[crate::report::ReportRow]) -> Result<RecordBatch, ArrowError> {
    use crate::report::{Cell, Kind, KEYS, KINDS};
    let cells: Vec<[Cell<'_>; 23]> = rows.iter().map(|r| r.cells()).collect();
    let mut columns: Vec<(&str, ArrayRef)> = Vec::new();
    for (column, (key, kind)) in KEYS.iter().zip(KINDS).enumerate() {
        let array: ArrayRef = match kind {
            Kind::Text => strings(cells.iter().map(|c| if let Cell::Text(t) = c[column] { t } else { "" })),
            Kind::Date => dates(cells.iter().map(|c| if let Cell::Date(d) = c[column] { d } else { NaiveDate::MIN })),
            Kind::Count => {
                Arc::new(Int64Array::from_iter_values(cells.iter().map(|c| if let Cell::Count(n) = c[column] { i64::from(n) } else { 0 })))
            }
            Kind::Percent => {
                decimals(cells.iter().map(|c| if let Cell::Percent(p) = c[column] { p } else { Decimal::ZERO }), MONEY_SCALE)?
            }
        };
        columns.push((key, array));
    }
    columns.push(("division_code", strings(rows.iter().map(|r| r.division_code.as_str()))));
    columns.push(("city_code", strings(rows.iter().map(|r| r.city_code.as_str()))));
    batch(columns)
}

/// The circular's rankings, one row per ranked line, province first.
pub fn circular_rankings(circular: &crate::circular::Circular) -> Result<RecordBatch, ArrowError> {
    struct Line<'a> {
        scope: &'a crate::circular::Section,
        ranking: &'static str,
        rank: i64,
        code: &'a str,
        name: &'a str,
        division: &'a str,
        figure: Decimal,
        shown: String,
        detail: String,
    }
    let mut lines: Vec<Line<'_>> = Vec::new();
    for scope in std::iter::once(&circular.province).chain(&circular.cities) {
        let ranked = [("behind", &scope.behind), ("non_selected", &scope.non_selected), ("substitutes", &scope.substitutes), ("overdue", &scope.overdue)];
        for (ranking, items) in ranked {
            for (i, r) in items.iter().enumerate() {
                lines.push(Line {
                    scope,
                    ranking,
                    rank: i as i64 + 1,
                    code: &r.institution_code,
                    name: &r.institution_name,
                    division: &r.division_name,
                    figure: r.figure,
                    shown: r.shown.clone(),
                    detail: r.detail.clone(),
                });
            }
        }
        for (i, d) in scope.delivery.iter().enumerate() {
            let detail = format!("{} of {} lines due in the last 30 days on time", d.on_time_lines, d.due_lines);
            lines.push(Line {
                scope,
                ranking: "delivery",
                rank: i as i64 + 1,
                code: &d.enterprise,
                name: &d.enterprise,
                division: "",
                figure: d.rate,
                shown: format!("{}%", d.rate),
                detail,
            });
        }
    }
    let quarter = circular.quarter.to_string();
    batch(vec![
        ("quarter", strings(lines.iter().map(|_| quarter.as_str()))),
        ("scope_code", strings(lines.iter().map(|l| l.scope.code.as_str()))),
        ("scope_name", strings(lines.iter().map(|l| l.scope.name.as_str()))),
        ("ranking", strings(lines.iter().map(|l| l.ranking))),
        ("rank", Arc::new(Int64Array::from_iter_values(lines.iter().map(|l| l.rank)))),
        ("code", strings(lines.iter().map(|l| l.code))),
        ("name", strings(lines.iter().map(|l| l.name))),
        ("division_name", strings(lines.iter().map(|l| l.division))),
        ("figure", decimals(lines.iter().map(|l| l.figure), MONEY_SCALE)?),
        ("shown", strings(lines.iter().map(|l| l.shown.as_str()))),
        ("detail", strings(lines.iter().map(|l| l.detail.as_str()))),
    ])
}

fn agreements(reference: &ReferenceData, config: &DetectorConfig) -> Result<RecordBatch, ArrowError> {
    let rows = &reference.agreements;
    let inst: Vec<&Institution> = rows.iter().map(|a| &reference.institutions[a.institution.0 as usize]).collect();
    let family = |a: &crate::reference::Agreement| &reference.families[a.family.0 as usize];
    let mut columns = vec![
        ("agreement_id", strings(rows.iter().map(|a| a.agreement_id.as_str()))),
        ("institution_code", strings(inst.iter().map(|i| i.code.as_str()))),
        ("family_id", strings(rows.iter().map(|a| family(a).family_id.as_str()))),
        (
            "group_id",
            strings(rows.iter().map(|a| reference.groups[family(a).group.0 as usize].group_id.as_str())),
        ),
    ];
    columns.extend(division_columns(&inst));
    columns.extend([
        ("period_start", dates(rows.iter().map(|a| a.period_start))),
        ("period_end", dates(rows.iter().map(|a| a.period_end))),
        (
            "not_entered_from",
            dates(rows.iter().map(|a| add_months_clamped(a.period_start, config.schedule.not_entered_after_months))),
        ),
        ("agreed_base_units", decimals(rows.iter().map(|a| a.agreed_base_units), UNITS_SCALE)?),
    ]);
    batch(columns)
}

/// The static agreement columns and the units purchased so far.
fn agreement_progress(statics: &StaticTables, reference: &ReferenceData, state: &State) -> Result<RecordBatch, ArrowError> {
    let purchased = decimals(state.purchases.per_agreement.iter().copied(), UNITS_SCALE)?;
    let mut fields: Vec<Field> = statics.agreements.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("purchased_base_units", purchased.data_type().clone(), false));
    let mut columns = statics.agreements.columns().to_vec();
    columns.push(purchased);
    let all = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
    if state.answers_for.is_none() {
        return Ok(all);
    }
    let mine: BooleanArray = reference.agreements.iter().map(|a| Some(state.answers_for(a.institution))).collect();
    arrow::compute::filter_record_batch(&all, &mine)
}

fn static_group_windows(reference: &ReferenceData) -> Result<RecordBatch, ArrowError> {
    let windows = crate::state::Purchases::new(reference).windows;
    let inst: Vec<&Institution> = windows.iter().map(|w| &reference.institutions[w.institution.0 as usize]).collect();
    let mut columns = vec![
        ("institution_code", strings(inst.iter().map(|i| i.code.as_str()))),
        ("group_id", strings(windows.iter().map(|w| reference.groups[w.group.0 as usize].group_id.as_str()))),
    ];
    columns.extend(division_columns(&inst));
    columns.push(("window_start", dates(windows.iter().map(|w| w.start))));
    batch(columns)
}

/// The static window columns and the units bought in each window so far.
fn group_windows(statics: &StaticTables, state: &State) -> Result<RecordBatch, ArrowError> {
    let windows = &state.purchases.windows;
    let schema = statics.group_windows.schema();
    let mut columns: Vec<(&str, ArrayRef)> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .zip(statics.group_windows.columns().iter().cloned())
        .collect();
    columns.push(("selected_units", decimals(windows.iter().map(|w| w.selected_units), UNITS_SCALE)?));
    columns.push(("non_selected_units", decimals(windows.iter().map(|w| w.non_selected_units), UNITS_SCALE)?));
    let all = batch(columns)?;
    if state.answers_for.is_none() {
        return Ok(all);
    }
    let mine: BooleanArray = windows.iter().map(|w| Some(state.answers_for(w.institution))).collect();
    arrow::compute::filter_record_batch(&all, &mine)
}

/// The delivery deadline of an order line placed at `placed_at` (6.3).
pub fn delivery_deadline(config: &DetectorConfig, category: Category, placed_at: i64) -> i64 {
    let hours = match category {
        Category::Drug => config.delivery.drug_deadline_hours,
        Category::Consumable => config.delivery.consumable_deadline_hours,
    };
    placed_at.saturating_add(hours.saturating_mul(3_600_000_000))
}

/// The open order lines; with `overdue_at`, only those whose deadline is
/// before it.
fn open_order_lines(
    reference: &ReferenceData,
    state: &State,
    config: &DetectorConfig,
    overdue_at: Option<i64>,
) -> Result<RecordBatch, ArrowError> {
    let product = |l: &crate::state::OrderLine| &reference.products[l.product.0 as usize];
    let deadline = |l: &crate::state::OrderLine| delivery_deadline(config, product(l).category, l.placed_at);
    let rows: Vec<_> = state
        .orders
        .iter()
        .filter(|(_, l)| overdue_at.is_none_or(|at| deadline(l) < at))
        .filter(|(_, l)| !l.special_service && l.outstanding() > Decimal::ZERO && state.answers_for(l.institution))
        .collect();
    let inst: Vec<&Institution> = rows.iter().map(|(_, l)| &reference.institutions[l.institution.0 as usize]).collect();
    let deadlines: Vec<i64> = rows.iter().map(|(_, l)| deadline(l)).collect();
    let deadline_dates = deadlines.iter().map(|&d| local_date_of_micros(d));
    let mut columns = vec![
        ("order_id", strings(rows.iter().map(|(id, _)| id.as_str()))),
        ("institution_code", strings(inst.iter().map(|i| i.code.as_str()))),
        ("product_code", strings(rows.iter().map(|(_, l)| product(l).code.as_str()))),
        ("enterprise", strings(rows.iter().map(|(_, l)| product(l).enterprise.as_str()))),
        ("category", strings(rows.iter().map(|(_, l)| product(l).category.as_str()))),
    ];
    columns.extend(division_columns(&inst));
    columns.extend([
        ("placed_at", timestamps(rows.iter().map(|(_, l)| l.placed_at))),
        ("deadline", timestamps(deadlines.iter().copied())),
        ("deadline_date", dates(deadline_dates)),
        ("ordered_packs", decimals(rows.iter().map(|(_, l)| l.packs), UNITS_SCALE)?),
        ("outstanding_packs", decimals(rows.iter().map(|(_, l)| l.outstanding()), UNITS_SCALE)?),
    ]);
    batch(columns)
}

/// How far back `due_order_lines` looks: the on-time delivery rate is
/// over the order lines due in the last 30 days (SPEC 6.3).
pub const DUE_WINDOW_MICROS: i64 = 30 * 24 * 3_600 * 1_000_000;

fn due_order_lines(reference: &ReferenceData, state: &State, config: &DetectorConfig, at: i64) -> Result<RecordBatch, ArrowError> {
    // (institution, product, placed at, settled at if delivered in full):
    // the open lines and the folded ones, which are delivered in full.
    let open = state
        .orders
        .values()
        .filter(|l| !l.special_service && l.packs > l.cancelled)
        .map(|l| (l.institution, l.product, l.placed_at, l.settled_at()));
    let finished =
        state.finished_orders.values().filter(|f| f.is_due_line()).map(|f| (f.institution, f.product, f.placed_at, Some(f.settled_at)));
    let product = |id: crate::reference::ProductId| &reference.products[id.index()];
    let rows: Vec<_> = open
        .chain(finished)
        .filter(|(institution, ..)| state.answers_for(*institution))
        .map(|(institution, id, placed_at, settled)| {
            let deadline = delivery_deadline(config, product(id).category, placed_at);
            (institution, product(id), deadline, settled.is_some_and(|t| t <= deadline))
        })
        .filter(|(_, _, deadline, _)| *deadline <= at && *deadline > at.saturating_sub(DUE_WINDOW_MICROS))
        .collect();
    let inst: Vec<&Institution> = rows.iter().map(|(i, ..)| &reference.institutions[i.index()]).collect();
    let mut columns = vec![
        ("institution_code", strings(inst.iter().map(|i| i.code.as_str()))),
        ("product_code", strings(rows.iter().map(|(_, p, ..)| p.code.as_str()))),
        ("enterprise", strings(rows.iter().map(|(_, p, ..)| p.enterprise.as_str()))),
    ];
    columns.extend(division_columns(&inst));
    columns.extend([
        ("deadline", timestamps(rows.iter().map(|(_, _, d, _)| *d))),
        ("on_time", Arc::new(rows.iter().map(|(.., on_time)| Some(*on_time)).collect::<BooleanArray>()) as ArrayRef),
    ]);
    batch(columns)
}

/// date(t) in China Standard Time for an instant in epoch microseconds.
pub fn local_date_of_micros(micros: i64) -> NaiveDate {
    DateTime::from_timestamp_micros(micros).map(local_date).unwrap_or_default()
}

/// The accepted deliveries with money outstanding; with `overdue_on`, only
/// those overdue on that date.
fn unpaid_deliveries(reference: &ReferenceData, state: &State, overdue_on: Option<NaiveDate>) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<_> = state
        .deliveries
        .iter()
        .filter_map(|(id, d)| d.accepted.as_ref().map(|a| (id, d, a)))
        .filter(|(_, _, a)| overdue_on.is_none_or(|today| a.overdue_on <= today))
        .filter(|(_, d, _)| d.outstanding() > Decimal::ZERO && state.answers_for(d.institution))
        .collect();
    let inst: Vec<&Institution> = rows.iter().map(|(_, d, _)| &reference.institutions[d.institution.0 as usize]).collect();
    let mut columns = vec![
        ("delivery_id", strings(rows.iter().map(|(id, _, _)| id.as_str()))),
        ("order_id", strings(rows.iter().map(|(_, d, _)| d.order_id.as_str()))),
        ("institution_code", strings(inst.iter().map(|i| i.code.as_str()))),
    ];
    columns.extend(division_columns(&inst));
    columns.extend([
        ("accepted_at", timestamps(rows.iter().map(|(_, _, a)| a.accepted_at))),
        ("accepted_on", dates(rows.iter().map(|(_, _, a)| a.accepted_on))),
        ("overdue_from", dates(rows.iter().map(|(_, _, a)| a.overdue_on))),
        ("amount", decimals(rows.iter().map(|(_, _, a)| a.amount), MONEY_SCALE)?),
        ("paid", decimals(rows.iter().map(|(_, d, _)| d.paid), MONEY_SCALE)?),
        ("outstanding", decimals(rows.iter().map(|(_, d, _)| d.outstanding()), MONEY_SCALE)?),
    ]);
    batch(columns)
}

/// Working-day ordinals from 2000-01-01 to 2100-12-31: the number of
/// working days d with 2000-01-01 < d ≤ date, so that the working days
/// between two dates is a difference of ordinals.
fn calendar_days(reference: &ReferenceData) -> Result<RecordBatch, ArrowError> {
    let first = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    let last = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or_default();
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let ordinals = days.iter().map(|&d| i64::from(reference.calendar.working_days_after_until(first, d)));
    let working = days.iter().map(|&d| Some(reference.calendar.is_working_day(d)));
    batch(vec![
        ("date", dates(days.iter().copied())),
        ("working_day_ordinal", Arc::new(Int64Array::from_iter_values(ordinals)) as ArrayRef),
        ("is_working_day", Arc::new(working.collect::<BooleanArray>()) as ArrayRef),
    ])
}

fn institutions(reference: &ReferenceData) -> Result<RecordBatch, ArrowError> {
    let rows: Vec<&Institution> = reference.institutions.iter().collect();
    let mut columns = vec![
        ("institution_code", strings(rows.iter().map(|i| i.code.as_str()))),
        ("name", strings(rows.iter().map(|i| i.name.as_str()))),
        ("level", strings(rows.iter().map(|i| i.level.as_str()))),
    ];
    columns.extend(division_columns(&rows));
    batch(columns)
}

fn products(reference: &ReferenceData) -> Result<RecordBatch, ArrowError> {
    let rows = &reference.products;
    let family_id = |p: &crate::reference::Product| p.family.map(|f| reference.families[f.0 as usize].family_id.as_str());
    batch(vec![
        ("product_code", strings(rows.iter().map(|p| p.code.as_str()))),
        ("generic_name", strings(rows.iter().map(|p| p.generic_name.as_str()))),
        ("dosage_form", strings(rows.iter().map(|p| p.dosage_form.as_str()))),
        ("spec", strings(rows.iter().map(|p| p.spec.as_str()))),
        ("enterprise", strings(rows.iter().map(|p| p.enterprise.as_str()))),
        ("category", strings(rows.iter().map(|p| p.category.as_str()))),
        ("batch", optional_strings(rows.iter().map(|p| p.batch.as_deref()))),
        ("group_id", strings(rows.iter().map(|p| reference.groups[p.group.0 as usize].group_id.as_str()))),
        ("family_id", optional_strings(rows.iter().map(family_id))),
        ("selected", Arc::new(rows.iter().map(|p| Some(p.selected)).collect::<BooleanArray>()) as ArrayRef),
        ("backup_supplier", Arc::new(rows.iter().map(|p| Some(p.backup_supplier)).collect::<BooleanArray>()) as ArrayRef),
        ("base_units_per_pack", decimals(rows.iter().map(|p| p.base_units_per_pack), UNITS_SCALE)?),
        (
            "selected_price_per_base_unit",
            Arc::new(
                rows.iter()
                    .map(|p| p.selected_price_per_base_unit.map(|v| scaled(v, UNITS_SCALE)))
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(38, UNITS_SCALE)?,
            ) as ArrayRef,
        ),
    ])
}

fn divisions(reference: &ReferenceData) -> Result<RecordBatch, ArrowError> {
    let rows = reference.divisions.list();
    batch(vec![
        ("division_code", strings(rows.iter().map(|(code, _)| code.as_str()))),
        ("name", strings(rows.iter().map(|(_, name)| name.as_str()))),
    ])
}

fn exemptions(reference: &ReferenceData) -> Result<RecordBatch, ArrowError> {
    let rows = &reference.exemptions;
    batch(vec![
        ("exemption_id", strings(rows.iter().map(|e| e.exemption_id.as_str()))),
        ("institution_code", strings(rows.iter().map(|e| reference.institutions[e.institution.0 as usize].code.as_str()))),
        ("group_id", strings(rows.iter().map(|e| reference.groups[e.group.0 as usize].group_id.as_str()))),
        ("valid_from", dates(rows.iter().map(|e| e.valid_from))),
        ("valid_to", dates(rows.iter().map(|e| e.valid_to))),
        ("reason", strings(rows.iter().map(|e| e.reason.as_str()))),
    ])
}

fn substitutes(reference: &ReferenceData) -> Result<RecordBatch, ArrowError> {
    let rows = &reference.substitutes;
    batch(vec![
        ("group_id", strings(rows.iter().map(|s| reference.groups[s.group.index()].group_id.as_str()))),
        ("product_code", strings(rows.iter().map(|s| reference.products[s.product.index()].code.as_str()))),
    ])
}

/// The complaints with their deadlines (6.5); with `open_at`, only those
/// filed and not resolved by then (the rule's own filter, so the answer is
/// the same).
fn complaints(
    reference: &ReferenceData,
    state: &State,
    config: &DetectorConfig,
    open_at: Option<i64>,
) -> Result<RecordBatch, ArrowError> {
    let calendar = &reference.calendar;
    let limits = &config.complaint;
    let mut rows: Vec<_> = state
        .complaints
        .iter()
        .filter(|(_, c)| state.answers_for(c.institution))
        .filter(|(_, c)| open_at.is_none_or(|at| c.filed_at <= at && c.resolved_at.is_none_or(|r| r > at)))
        .collect();
    rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let inst: Vec<&Institution> = rows.iter().map(|(_, c)| &reference.institutions[c.institution.index()]).collect();
    let product = |c: &crate::state::Complaint| &reference.products[c.product.index()];
    let fix_by_replied = |c: &crate::state::Complaint| {
        c.reply.map(|r| r.promised_by.min(calendar.nth_working_day_after(r.replied_on(), limits.fix_working_days)))
    };
    let mut columns = vec![
        ("complaint_id", strings(rows.iter().map(|(id, _)| id.as_str()))),
        ("institution_code", strings(inst.iter().map(|i| i.code.as_str()))),
        ("product_code", strings(rows.iter().map(|(_, c)| product(c).code.as_str()))),
        ("enterprise", strings(rows.iter().map(|(_, c)| product(c).enterprise.as_str()))),
        ("kind", strings(rows.iter().map(|(_, c)| c.kind.as_str()))),
        ("text", optional_strings(rows.iter().map(|(_, c)| c.text.as_deref()))),
    ];
    columns.extend(division_columns(&inst));
    columns.extend([
        ("filed_at", timestamps(rows.iter().map(|(_, c)| c.filed_at))),
        ("filed_on", dates(rows.iter().map(|(_, c)| c.filed_on))),
        ("reply_by", dates(rows.iter().map(|(_, c)| calendar.nth_working_day_after(c.filed_on, limits.reply_working_days)))),
        ("replied_at", optional_timestamps(rows.iter().map(|(_, c)| c.reply.map(|r| r.replied_at)))),
        ("promised_by", optional_dates(rows.iter().map(|(_, c)| c.reply.map(|r| r.promised_by)))),
        ("fix_by_replied", optional_dates(rows.iter().map(|(_, c)| fix_by_replied(c)))),
        (
            "fix_by_unreplied",
            dates(rows.iter().map(|(_, c)| calendar.nth_working_day_after(c.filed_on, limits.unreplied_fix_working_days))),
        ),
        ("resolved_at", optional_timestamps(rows.iter().map(|(_, c)| c.resolved_at))),
    ]);
    batch(columns)
}

/// The days of purchases 6.6 and 6.8 read, in key order.
fn recent_purchases(reference: &ReferenceData, state: &State) -> Result<RecordBatch, ArrowError> {
    let mut rows: Vec<_> = state.recent.iter().filter(|((i, ..), _)| state.answers_for(*i)).collect();
    rows.sort_unstable_by_key(|(key, _)| **key);
    let inst: Vec<&Institution> = rows.iter().map(|((i, ..), _)| &reference.institutions[i.index()]).collect();
    let mut columns = vec![
        ("institution_code", strings(inst.iter().map(|i| i.code.as_str()))),
        ("product_code", strings(rows.iter().map(|((_, p, _), _)| reference.products[p.index()].code.as_str()))),
    ];
    columns.extend(division_columns(&inst));
    columns.extend([
        ("order_date", dates(rows.iter().map(|((.., d), _)| *d))),
        ("substitute_amount", decimals(rows.iter().map(|(_, t)| t.amount), MONEY_SCALE)?),
        ("overcharge", decimals(rows.iter().map(|(_, t)| t.overcharge), MONEY_SCALE)?),
        ("overpriced_packs", decimals(rows.iter().map(|(_, t)| t.overpriced_packs), UNITS_SCALE)?),
        ("overpriced_orders", Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, t)| i64::from(t.overpriced_orders)))) as ArrayRef),
        ("highest_price", decimals(rows.iter().map(|(_, t)| t.highest_price), MONEY_SCALE)?),
    ]);
    batch(columns)
}

/// The base units bought on each of an agreement's last days (6.7).
fn period_end_purchases(reference: &ReferenceData, state: &State) -> Result<RecordBatch, ArrowError> {
    let agreement = |id: u32| &reference.agreements[id as usize];
    let mut rows: Vec<_> = state
        .purchases
        .period_end_days
        .iter()
        .filter(|((id, _), _)| state.answers_for(agreement(*id).institution))
        .collect();
    rows.sort_unstable_by_key(|(key, _)| **key);
    batch(vec![
        ("agreement_id", strings(rows.iter().map(|((id, _), _)| agreement(*id).agreement_id.as_str()))),
        ("order_date", dates(rows.iter().map(|((_, d), _)| *d))),
        ("units", decimals(rows.iter().map(|(_, u)| **u), UNITS_SCALE)?),
    ])
}

/// `DataType` of unit columns, for tests and the SQL command.
pub fn units_type() -> DataType {
    DataType::Decimal128(38, UNITS_SCALE)
}

/// `DataType` of timestamp columns.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TZ.into()))
}
