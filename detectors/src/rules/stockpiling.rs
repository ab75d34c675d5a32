//! SPEC 6.7 — `PeriodEndStockpiling` (突击采购、过量囤货, seeds 003 三(三),
//! 004 三(二)).
//!
//! An institution behind its agreement may buy in a rush at the end of the
//! period to make the numbers. For every agreement in its period's last 30
//! days (period_end − 29 ≤ date(T) ≤ period_end): recent = base units of
//! its family bought by its institution with order dates max(period_start,
//! date(T) − 29) … date(T); pace = agreed × 30 / the period's days. It fires
//! when recent > 3 × pace (compared as recent × days > 3 × agreed × 30),
//! critical when the whole period's purchases exceed 1.2 × agreed.

use datafusion::error::DataFusionError;
use rust_decimal::Decimal;

use super::{institution_words, agreement_labels, alert, decimal_literal, percent, ratio, Evaluation, Row, FAMILIES};
use crate::alert::{Alert, AlertName, Severity};

fn sql(eval: &Evaluation) -> String {
    let c = &eval.config.stockpiling;
    format!(
        "WITH ending AS (
            SELECT a.*, CAST(a.period_end AS INT) - CAST(a.period_start AS INT) + 1 AS total_days,
                   CASE WHEN CAST(a.period_start AS INT) > {today} - 29 THEN CAST(a.period_start AS INT)
                        ELSE {today} - 29 END AS window_start
            FROM agreement_progress a
            WHERE CAST(a.period_end AS INT) - 29 <= {today} AND {today} <= CAST(a.period_end AS INT)
        ),
        recent AS (
            SELECT e.agreement_id, SUM(p.units) AS recent_units
            FROM ending e JOIN period_end_purchases p ON p.agreement_id = e.agreement_id
            WHERE CAST(p.order_date AS INT) BETWEEN e.window_start AND {today}
            GROUP BY e.agreement_id
        ),
        {families}
        SELECT e.*, r.recent_units, f.generic_name, f.enterprise, i.name AS institution_name,
               e.purchased_base_units > {critical} * e.agreed_base_units AS over_agreed
        FROM ending e
        JOIN recent r ON r.agreement_id = e.agreement_id
        JOIN families f ON f.family_id = e.family_id
        JOIN institutions i ON i.institution_code = e.institution_code
        WHERE r.recent_units * e.total_days > {pace} * e.agreed_base_units * 30",
        families = FAMILIES,
        today = eval.today_days(),
        pace = decimal_literal(c.pace_ratio),
        critical = decimal_literal(c.critical_purchased_ratio),
    )
}

pub async fn evaluate(eval: &Evaluation<'_>) -> Result<Vec<Alert>, DataFusionError> {
    let rows = eval.query(&sql(eval)).await?;
    rows.iter().map(|row| to_alert(eval, &row)).collect()
}

fn to_alert(eval: &Evaluation, row: &Row) -> Result<Alert, DataFusionError> {
    let c = &eval.config.stockpiling;
    let recent = row.decimal("recent_units")?;
    let agreed = row.decimal("agreed_base_units")?;
    let purchased = row.decimal("purchased_base_units")?;
    let days = Decimal::from(row.int("total_days")?);
    let pace = (agreed * Decimal::from(30) / days).round_dp(2);
    let severity = if row.bool("over_agreed")? { Severity::Critical } else { Severity::Warning };
    let labels = agreement_labels(row)?;
    let who = institution_words(row)?;
    let what = format!("{}（{}）", row.text("generic_name")?, row.text("enterprise")?);
    let times = ratio(recent, pace);
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("institution_name".into(), row.text("institution_name")?);
    notes.insert("summary".into(), format!("{who}在协议期末突击采购{what}，近 30 天采购量为正常进度的 {} 倍", times.round_dp(1)));
    notes.insert(
        "description".into(),
        format!(
            "协议 {}（执行期 {} 至 {}）：{} 至 {} 采购 {recent} 基本单位，按约定量 {agreed} 折算的 30 天进度为 {pace}，超过 {} 倍；全期已采购 {purchased}，为约定量的 {}（超过 {} 倍为严重）。请核查是否过量囤货。",
            row.text("agreement_id")?,
            row.date("period_start")?,
            row.date("period_end")?,
            row.date("window_start")?,
            eval.today,
            c.pace_ratio,
            percent(ratio(purchased, agreed)),
            c.critical_purchased_ratio,
        ),
    );
    notes.insert("recent_base_units".into(), recent.to_string());
    notes.insert("pace_base_units".into(), pace.to_string());
    notes.insert("purchased_base_units".into(), purchased.to_string());
    notes.insert("agreed_base_units".into(), agreed.to_string());
    let threshold = format!("近 30 天 > {} × 进度 {pace}；全期 > {} × 约定量为严重", c.pace_ratio, c.critical_purchased_ratio);
    Ok(alert(AlertName::PeriodEndStockpiling, severity, labels, notes, recent, threshold))
}
