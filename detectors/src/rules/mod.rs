//! The ten alert rules of SPEC §6, one module per section, each a DataFusion
//! SQL query over the [`tables`](crate::tables) followed by the words a
//! bureau reads.
//!
//! Thresholds enter the SQL as exact decimal literals and every comparison
//! is cross-multiplied (progress < r × schedule ⇔ purchased × total <
//! r × agreed × elapsed), so no division or float rounding can move a value
//! across a threshold.

pub mod complaint;
pub mod non_selected;
pub mod payment;
pub mod price;
pub mod schedule;
pub mod stockpiling;
pub mod substitute;
pub mod supply_break;
pub mod undelivered;

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Date32Type, Decimal128Type, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use chrono::{DateTime, FixedOffset, NaiveDate};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use rust_decimal::Decimal;

use crate::alert::{Alert, AlertName, Severity};
use crate::config::DetectorConfig;
use crate::reference::ReferenceData;
use crate::state::State;
use crate::tables::{self, StaticTables};
use crate::time::local_date;

/// One evaluation at instant T: the session holding the tables as of T.
pub struct Evaluation<'a> {
    pub ctx: SessionContext,
    pub reference: &'a ReferenceData,
    pub config: &'a DetectorConfig,
    pub at: DateTime<FixedOffset>,
    /// date(T) in China Standard Time.
    pub today: NaiveDate,
}

impl<'a> Evaluation<'a> {
    pub fn new(
        statics: &StaticTables,
        reference: &'a ReferenceData,
        state: &State,
        config: &'a DetectorConfig,
        at: DateTime<FixedOffset>,
        need: tables::Need,
    ) -> Result<Self, DataFusionError> {
        let ctx = tables::session(statics, reference, state, config, at.timestamp_micros(), need)?;
        Ok(Evaluation { ctx, reference, config, at, today: local_date(at) })
    }

    /// date(T) as Arrow's day number, for comparisons with `Date32` columns.
    pub fn today_days(&self) -> i32 {
        tables::days_since_epoch(self.today)
    }

    /// T in epoch microseconds, for comparisons with timestamp columns.
    pub fn at_micros(&self) -> i64 {
        self.at.timestamp_micros()
    }

    /// Runs one query and returns its rows.
    pub async fn query(&self, sql: &str) -> Result<Rows, DataFusionError> {
        let batches = self.ctx.sql(sql).await?.collect().await?;
        Ok(Rows { batches })
    }
}

/// Evaluates every rule at T and returns the alerts that hold, sorted by id.
/// Builds the static tables first; an engine that evaluates often keeps
/// them and calls [`evaluate`].
pub async fn evaluate_all(
    reference: &ReferenceData,
    state: &State,
    config: &DetectorConfig,
    at: DateTime<FixedOffset>,
) -> Result<Vec<Alert>, DataFusionError> {
    let statics = StaticTables::build(reference, config)?;
    evaluate(&statics, reference, state, config, at).await
}

/// Evaluates every rule at T with prebuilt static tables.
pub async fn evaluate(
    statics: &StaticTables,
    reference: &ReferenceData,
    state: &State,
    config: &DetectorConfig,
    at: DateTime<FixedOffset>,
) -> Result<Vec<Alert>, DataFusionError> {
    evaluate_in(&Evaluation::new(statics, reference, state, config, at, tables::Need::Rules)?).await
}

/// Evaluates every rule in a session already built for T (which the
/// roll-ups of [`crate::rollups`] can share), supply breaks among this
/// state's institutions included.
pub async fn evaluate_in(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let shard = evaluate_shard(eval).await?;
    let mut alerts = shard.alerts;
    alerts.extend(supply_break::from_facts(&shard.facts, eval.reference, eval.config));
    alerts.sort_by(Alert::cmp_id);
    Ok(alerts)
}

/// What one shard of the state answers at T: the alerts keyed by
/// institution, and the overdue facts the supply-break stage counts.
pub struct ShardAnswer {
    /// Sorted by alert id; no `SupplyBreak` (the stage's).
    pub alerts: Vec<Alert>,
    /// Sorted by (city, product, institution).
    pub facts: Vec<supply_break::OverdueFact>,
    /// Wall microseconds of each rule module's queries, in evaluation order.
    pub rule_micros: Vec<(&'static str, u64)>,
}

/// The rules keyed by institution, and the supply-break facts, with the
/// wall time each rule took.
pub async fn evaluate_shard(eval: &Evaluation<'_>) -> Result<ShardAnswer, DataFusionError> {
    let mut alerts = Vec::new();
    let mut rule_micros = Vec::with_capacity(9);
    macro_rules! timed {
        ($name:literal, $run:expr) => {{
            let started = std::time::Instant::now();
            let found = $run;
            rule_micros.push(($name, started.elapsed().as_micros() as u64));
            found
        }};
    }
    alerts.extend(timed!("schedule", schedule::evaluate(eval).await?));
    alerts.extend(timed!("non_selected", non_selected::evaluate(eval).await?));
    alerts.extend(timed!("undelivered", undelivered::evaluate(eval).await?));
    alerts.extend(timed!("payment", payment::evaluate(eval).await?));
    alerts.extend(timed!("complaint", complaint::evaluate(eval).await?));
    alerts.extend(timed!("substitute", substitute::evaluate(eval).await?));
    alerts.extend(timed!("stockpiling", stockpiling::evaluate(eval).await?));
    alerts.extend(timed!("price", price::evaluate(eval).await?));
    let facts = timed!("supply_break", supply_break::facts(eval).await?);
    alerts.sort_by(Alert::cmp_id);
    Ok(ShardAnswer { alerts, facts, rule_micros })
}

/// An exact decimal as a SQL literal that DataFusion keeps decimal.
pub fn decimal_literal(value: Decimal) -> String {
    let scale = value.scale().max(1);
    format!("CAST('{value}' AS DECIMAL(38, {scale}))")
}

/// Query results with typed, by-name cell access. A cell is read in place
/// from its column (no per-cell array or cast) when the column has the type
/// read, as the rules' columns do; other types are cast cell by cell.
pub struct Rows {
    batches: Vec<RecordBatch>,
}

/// One row of a query result.
pub struct Row<'a> {
    batch: &'a RecordBatch,
    index: usize,
}

impl Rows {
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.batches.iter().flat_map(|batch| (0..batch.num_rows()).map(move |index| Row { batch, index }))
    }

    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Row<'_> {
    fn array(&self, name: &str) -> Result<&arrow::array::ArrayRef, DataFusionError> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| DataFusionError::Internal(format!("query result has no column `{name}`")))
    }

    /// The cell cast to `to`, as a one-row array: only for a column whose
    /// type is not the one read (the common types are read in place).
    fn cast_cell(&self, name: &str, to: &DataType) -> Result<arrow::array::ArrayRef, DataFusionError> {
        Ok(cast(&self.array(name)?.slice(self.index, 1), to)?)
    }

    /// A text cell; NULL reads as the empty string.
    pub fn text(&self, name: &str) -> Result<String, DataFusionError> {
        let array = self.array(name)?;
        if array.is_null(self.index) {
            return Ok(String::new());
        }
        Ok(match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().value(self.index).to_string(),
            DataType::LargeUtf8 => array.as_string::<i64>().value(self.index).to_string(),
            DataType::Utf8View => array.as_string_view().value(self.index).to_string(),
            _ => self.cast_cell(name, &DataType::Utf8)?.as_string::<i32>().value(0).to_string(),
        })
    }

    /// A decimal cell, exactly; NULL reads as zero.
    pub fn decimal(&self, name: &str) -> Result<Decimal, DataFusionError> {
        let array = self.array(name)?;
        let DataType::Decimal128(_, scale) = array.data_type() else {
            return Err(DataFusionError::Internal(format!("column `{name}` is {} not decimal", array.data_type())));
        };
        let values = array.as_primitive::<Decimal128Type>();
        if values.is_null(self.index) {
            return Ok(Decimal::ZERO);
        }
        let raw = values.value(self.index);
        Decimal::try_from_i128_with_scale(raw, u32::try_from(*scale).unwrap_or(0))
            .map(|d| d.normalize())
            .map_err(|e| DataFusionError::Internal(format!("column `{name}`: {e}")))
    }

    /// A numeric cell as a float, for dashboards only; NULL reads as 0.
    pub fn float(&self, name: &str) -> Result<f64, DataFusionError> {
        let array = self.array(name)?;
        if array.is_null(self.index) {
            return Ok(0.0);
        }
        Ok(match array.data_type() {
            DataType::Float64 => array.as_primitive::<Float64Type>().value(self.index),
            _ => self.cast_cell(name, &DataType::Float64)?.as_primitive::<Float64Type>().value(0),
        })
    }

    /// An integer cell; NULL reads as 0.
    pub fn int(&self, name: &str) -> Result<i64, DataFusionError> {
        let array = self.array(name)?;
        if array.is_null(self.index) {
            return Ok(0);
        }
        Ok(match array.data_type() {
            DataType::Int64 => array.as_primitive::<Int64Type>().value(self.index),
            _ => self.cast_cell(name, &DataType::Int64)?.as_primitive::<Int64Type>().value(0),
        })
    }

    /// A boolean cell; NULL reads as false.
    pub fn bool(&self, name: &str) -> Result<bool, DataFusionError> {
        let array = self.array(name)?;
        if array.is_null(self.index) {
            return Ok(false);
        }
        match array.data_type() {
            DataType::Boolean => Ok(array.as_boolean().value(self.index)),
            other => Err(DataFusionError::Internal(format!("column `{name}` is {other} not boolean"))),
        }
    }

    /// A timestamp cell as an instant in China Standard Time.
    pub fn instant(&self, name: &str) -> Result<DateTime<FixedOffset>, DataFusionError> {
        let array = self.array(name)?;
        let micros = match array.data_type() {
            DataType::Timestamp(TimeUnit::Microsecond, _) => array.as_primitive::<TimestampMicrosecondType>().value(self.index),
            _ => self.int(name)?,
        };
        DateTime::from_timestamp_micros(micros)
            .map(|t| t.with_timezone(&crate::time::CST))
            .ok_or_else(|| DataFusionError::Internal(format!("column `{name}`: {micros} is out of range")))
    }

    pub fn date(&self, name: &str) -> Result<NaiveDate, DataFusionError> {
        let array = self.array(name)?;
        let days = match array.data_type() {
            DataType::Date32 => array.as_primitive::<Date32Type>().value(self.index),
            _ => self.cast_cell(name, &DataType::Date32)?.as_primitive::<Date32Type>().value(0),
        };
        Ok(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(i64::from(days)))
    }
}

/// Each family's generic name and enterprise, as a CTE (6.1, 6.7).
pub const FAMILIES: &str = "families AS (
            SELECT family_id, MIN(generic_name) AS generic_name, MIN(enterprise) AS enterprise
            FROM products WHERE family_id IS NOT NULL GROUP BY family_id
        )";

/// The labels of an alert about one agreement (6.1, 6.7), from a row of
/// `agreement_progress` joined with the family's enterprise.
pub fn agreement_labels(row: &Row) -> Result<BTreeMap<String, String>, DataFusionError> {
    Ok(labels([
        ("institution_code", row.text("institution_code")?),
        ("family_id", row.text("family_id")?),
        ("agreement_id", row.text("agreement_id")?),
        ("group_id", row.text("group_id")?),
        ("enterprise", row.text("enterprise")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]))
}

/// Builds the labels of an alert from (name, value) pairs.
pub fn labels<const N: usize>(pairs: [(&str, String); N]) -> BTreeMap<String, String> {
    pairs.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v)).collect()
}

/// Builds an alert; `annotations` gets `value` and `threshold` added.
pub fn alert(
    name: AlertName,
    severity: Severity,
    labels: BTreeMap<String, String>,
    mut annotations: BTreeMap<String, String>,
    value: Decimal,
    threshold: String,
) -> Alert {
    let value = value.normalize().to_string();
    annotations.insert("value".into(), value.clone());
    annotations.insert("threshold".into(), threshold);
    Alert { name, severity, labels, annotations, value }
}

/// A ratio rounded for people (4 decimal places), exact elsewhere.
pub fn ratio(numerator: Decimal, denominator: Decimal) -> Decimal {
    if denominator.is_zero() {
        return Decimal::ZERO;
    }
    numerator.checked_div(denominator).unwrap_or_default().round_dp(4)
}

/// A ratio as a percentage with one decimal, for Chinese descriptions.
pub fn percent(value: Decimal) -> String {
    format!("{}%", (value * Decimal::ONE_HUNDRED).round_dp(1).normalize())
}

/// "name（code）" of the row's institution, as every rule's words name it.
pub fn institution_words(row: &Row) -> Result<String, DataFusionError> {
    Ok(format!("{}（{}）", row.text("institution_name")?, row.text("institution_code")?))
}

/// "generic name spec（enterprise）" of the row's product.
pub fn product_words(row: &Row) -> Result<String, DataFusionError> {
    Ok(format!("{} {}（{}）", row.text("generic_name")?, row.text("spec")?, row.text("enterprise")?))
}
