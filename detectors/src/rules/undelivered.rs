//! SPEC 6.3 — `OrderUndelivered`.
//!
//! An order line is overdue at T when T is past its delivery deadline
//! (order time + 48 hours by default, per category) and packs are still
//! outstanding (ordered − cancelled − delivered). One alert per institution
//! and product with an overdue line: critical once the oldest overdue
//! deadline is 5 or more working days before date(T) — the 5-working-day
//! limit for fixing a supply problem (seed 002 二(八)) — counted as working
//! days d with date(deadline) < d ≤ date(T), on the shipped calendar.

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;

use super::{alert, labels, Evaluation, Row};
use crate::alert::{Alert, AlertName, Severity};

/// The overdue lines of T, shared with the supply-break rule.
pub fn overdue_lines_sql(eval: &Evaluation) -> String {
    format!("SELECT * FROM open_order_lines WHERE CAST(deadline AS BIGINT) < {}", eval.at_micros())
}

fn sql(eval: &Evaluation) -> String {
    format!(
        "WITH overdue AS ({overdue}),
        per_product AS (
            SELECT institution_code, product_code, division_code, city_code, province_code,
                   MIN(enterprise) AS enterprise, COUNT(*) AS overdue_lines,
                   SUM(outstanding_packs) AS outstanding_packs,
                   MIN(deadline) AS oldest_deadline, MIN(deadline_date) AS oldest_deadline_date
            FROM overdue
            GROUP BY institution_code, product_code, division_code, city_code, province_code
        )
        SELECT p.*, i.name AS institution_name, pr.generic_name, pr.spec
        FROM per_product p
        JOIN institutions i ON i.institution_code = p.institution_code
        JOIN products pr ON pr.product_code = p.product_code",
        overdue = overdue_lines_sql(eval),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let limit = eval.config.delivery.critical_working_days;
    // In closed form on the shipped calendar, whatever the dates: a table
    // of days would leave out a line dated outside it.
    let late = i64::from(eval.reference.calendar.working_days_after_until(row.date("oldest_deadline_date")?, eval.today));
    let severity = if late >= i64::from(limit) { Severity::Critical } else { Severity::Warning };
    let outstanding = row.decimal("outstanding_packs")?;
    let oldest = row.instant("oldest_deadline")?.to_rfc3339();
    let labels = labels([
        ("institution_code", row.text("institution_code")?),
        ("product_code", row.text("product_code")?),
        ("enterprise", row.text("enterprise")?),
        ("division_code", row.text("division_code")?),
        ("city_code", row.text("city_code")?),
        ("province_code", row.text("province_code")?),
    ]);
    let who = format!("{}（{}）", row.text("institution_name")?, row.text("institution_code")?);
    let what = format!("{} {}（{}）", row.text("generic_name")?, row.text("spec")?, row.text("enterprise")?);
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}订购的{what}超时未配送"));
    notes.insert(
        "description".into(),
        format!(
            "{} 个订单行超过配送时限仍未送达，未送达 {outstanding} 包装；最早的配送时限 {oldest}，至今已过 {late} 个工作日（{limit} 个工作日起为严重）。",
            row.int("overdue_lines")?,
        ),
    );
    notes.insert("overdue_lines".into(), row.int("overdue_lines")?.to_string());
    notes.insert("outstanding_packs".into(), outstanding.to_string());
    notes.insert("oldest_deadline".into(), oldest);
    let threshold = format!("超过配送时限；{limit} 个工作日起为严重");
    Ok(alert(AlertName::OrderUndelivered, severity, labels, notes, Decimal::from(late), threshold))
}
